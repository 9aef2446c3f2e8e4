package socketio

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsgate/wsgate/auth"
	"github.com/wsgate/wsgate/bridge"
)

// NATS headers of Socket.IO messages (the worker contract in the README).
const (
	// HeaderNamespace is the namespace of an emit ("/", "/shop"); on a
	// message to a connection, the namespace to deliver it in (default /).
	HeaderNamespace = "Socketio-Namespace"
	// HeaderEvent is the event name of an emit; on a message delivered to
	// clients (a room, a namespace, a connection), the event name they
	// get (default "message").
	HeaderEvent = "Socketio-Event"
	// HeaderSpread "true" says the body is a JSON array of arguments
	// (none, or several); without it the body is one argument.
	HeaderSpread = "Socketio-Spread"
	// HeaderExcept names a connection id a room or namespace message is
	// not delivered to (broadcast to all but the sender).
	HeaderExcept = "Socketio-Except"
	// HeaderError on a worker's reply makes the client's acknowledgement
	// an error object; on the gateway's reply to a worker's emit, it says
	// why the client did not acknowledge.
	HeaderError = "Socketio-Error"
)

// defaultEvent is the event name of a delivery without HeaderEvent, the
// name socket.send() uses.
const defaultEvent = "message"

// conn is one Engine.IO connection and the Socket.IO sockets multiplexed
// on it, one per namespace. HandleMessage runs on the session's reader
// (never two at once); deliveries, replies and the heartbeat walker come
// from other goroutines and touch only what is guarded or atomic.
type conn struct {
	p *Protocol
	s *bridge.Session

	closed     atomic.Bool
	quiet      atomic.Bool // the client already has our last word
	noRecovery atomic.Bool // ended on purpose: its sockets are not kept

	pingAt  atomic.Int64 // unix nanoseconds of the last ping (or the open)
	waiting atomic.Bool  // a ping is out and its pong has not come

	// Reader-owned.
	authed  bool
	token   string         // the token of the first CONNECT, if any
	pending *pendingBinary // a binary packet waiting for its attachments

	// sendMu keeps a binary packet and its attachment together: frames
	// are queued from the reader, hub dispatchers, the control dispatcher
	// and replies at once.
	sendMu sync.Mutex

	mu      sync.Mutex
	sockets sockets // one per namespace joined
	acks    map[uint64]pendingAck
	ackSeq  uint64
}

// socket is the connection's presence in one namespace.
type socket struct {
	ns    string
	tok   string // the namespace's subject token
	sid   string
	pid   string                          // private id, for recovery; "" without it
	bcast *bridge.Subscription            // everyone in the namespace; nil if not permitted
	rooms map[string]*bridge.Subscription // by room name; made by the first join
	left  bool                            // the client left the namespace: no more joins
}

// sockets are a connection's sockets, one per namespace it joined: at most
// max_namespaces (16 by default) and most often one, so a slice looked
// through in order costs less than a map, whose first insert alone takes
// about 200 bytes per connection.
type sockets []*socket

// get is the socket in namespace ns, or nil.
func (ss sockets) get(ns string) *socket {
	for _, sk := range ss {
		if sk.ns == ns {
			return sk
		}
	}
	return nil
}

// put adds sk, or replaces the socket of its namespace.
func (ss *sockets) put(sk *socket) {
	for i, o := range *ss {
		if o.ns == sk.ns {
			(*ss)[i] = sk
			return
		}
	}
	*ss = append(*ss, sk)
}

// remove takes out and returns the socket in namespace ns, if there is one.
func (ss *sockets) remove(ns string) *socket {
	for i, sk := range *ss {
		if sk.ns == ns {
			*ss = slices.Delete(*ss, i, i+1)
			return sk
		}
	}
	return nil
}

// pendingAck is a worker's emit waiting for the client's acknowledgement.
type pendingAck struct {
	reply string
	at    time.Time
}

var (
	_ bridge.Handler    = (*conn)(nil)
	_ bridge.Closer     = (*conn)(nil)
	_ bridge.Goodbyer   = (*conn)(nil)
	_ bridge.Controller = (*conn)(nil)
)

func newConn(p *Protocol, s *bridge.Session) *conn {
	c := &conn{p: p, s: s}
	c.pingAt.Store(time.Now().UnixNano())
	return c
}

// sendOpen sends the Engine.IO open packet: "the server MUST send an open
// packet" first, with the session id and the heartbeat settings
// [Engine.IO v4 "Handshake"]. A polling session may upgrade to a
// WebSocket; a WebSocket has nothing to upgrade to.
func (c *conn) sendOpen() {
	b := make([]byte, 0, 128)
	b = append(b, eioOpen)
	b = append(b, `{"sid":`...)
	b = appendString(b, c.s.ID())
	if c.s.Virtual() {
		b = append(b, `,"upgrades":["websocket"],"pingInterval":`...)
	} else {
		b = append(b, `,"upgrades":[],"pingInterval":`...)
	}
	b = strconv.AppendInt(b, c.p.cfg.PingInterval.Milliseconds(), 10)
	b = append(b, `,"pingTimeout":`...)
	b = strconv.AppendInt(b, c.p.cfg.PingTimeout.Milliseconds(), 10)
	b = append(b, `,"maxPayload":`...)
	b = strconv.AppendInt(b, int64(c.p.cfg.MaxPayload), 10)
	b = append(b, '}')
	_ = c.send(b)
}

// HandleMessage implements bridge.Handler: one WebSocket message is one
// Engine.IO packet [Engine.IO v4 "WebSocket transport"]; a binary message
// is a message packet holding binary data.
func (c *conn) HandleMessage(text bool, data []byte) error {
	if c.closed.Load() {
		return nil
	}
	if len(data) > c.p.cfg.MaxPayload {
		return c.violation(fmt.Errorf("%w: %d bytes, max_payload is %d", ErrTooLarge, len(data), c.p.cfg.MaxPayload))
	}
	if !text {
		return c.onAttachment(data)
	}
	if len(data) == 0 {
		return c.violation(fmt.Errorf("%w: empty Engine.IO packet", ErrMalformed))
	}
	switch data[0] {
	case eioMessage:
		return c.onPacket(data[1:])
	case eioPong:
		if len(data) != 1 {
			return c.violation(fmt.Errorf("%w: pong with data (no upgrade is in progress)", ErrMalformed))
		}
		c.waiting.Store(false)
		return nil
	case eioClose:
		c.quiet.Store(true)
		c.closed.Store(true)
		c.noRecovery.Store(true)
		c.closing()
		c.s.Close(bridge.CloseNormal, "client closed")
		return nil
	case eioNoop:
		return nil
	}
	return c.violation(fmt.Errorf("%w: Engine.IO packet type %q from a client", ErrMalformed, data[0]))
}

// onPacket handles one Socket.IO packet.
func (c *conn) onPacket(b []byte) error {
	if c.pending != nil {
		// socket.io-parser: "got plaintext data when reconstructing a packet".
		return c.violation(fmt.Errorf("%w: a packet while %d attachments are due", ErrMalformed, c.pending.pk.Attachments-len(c.pending.atts)))
	}
	pk, err := DecodePacket(b, c.p.cfg.MaxAttachments)
	if err != nil {
		return c.violation(err)
	}
	switch pk.Type {
	case Connect:
		c.onConnect(pk)
	case Disconnect:
		c.onDisconnect(pk.Namespace)
	case BinaryEvent, BinaryAck:
		if pk.Attachments > 0 {
			pk.Data = bytes.Clone(pk.Data) // the reader's buffer is reused
			c.pending = &pendingBinary{pk: pk}
			return nil
		}
		return c.dispatch(pk, nil)
	default:
		return c.dispatch(pk, nil)
	}
	return nil
}

// dispatch handles an EVENT or ACK, binary ones with their attachments.
func (c *conn) dispatch(pk *Packet, atts [][]byte) error {
	var err error
	switch pk.Type {
	case Event, BinaryEvent:
		err = c.onEvent(pk, atts)
	case Ack, BinaryAck:
		err = c.onAck(pk, atts)
	}
	if err != nil {
		return c.violation(err)
	}
	return nil
}

// socketOf is the connection's socket in namespace ns, or nil.
func (c *conn) socketOf(ns string) *socket {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sockets.get(ns)
}

// send queues one Engine.IO text packet.
func (c *conn) send(b []byte) error {
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	return c.s.Send(bridge.TextFrame(b))
}

// sendPair queues a binary packet and its attachment, nothing between.
func (c *conn) sendPair(packet []byte, attachment []byte) {
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	if c.s.Send(bridge.TextFrame(packet)) == nil {
		_ = c.s.Send(bridge.BinaryFrame(attachment))
	}
}

// errorKind is the metrics label of a protocol error.
func errorKind(err error) string {
	switch {
	case errors.Is(err, ErrTooLarge):
		return "too_large"
	case errors.Is(err, ErrMalformed):
		return "malformed_packet"
	case errors.Is(err, ErrInvalidName):
		return "invalid_name"
	case errors.Is(err, auth.ErrDenied), errors.Is(err, auth.ErrNoCredentials):
		return "unauthorized"
	}
	return "protocol"
}

// violation ends the connection for bad input, as the Socket.IO server
// does on a packet it cannot parse: the WebSocket closes with 1002 (1009
// for a packet over max_payload) and the reason, and the error is counted.
// Only this connection is affected.
func (c *conn) violation(err error) error {
	c.s.Metrics().ProtocolError(Name, errorKind(err))
	c.quiet.Store(true)
	c.closed.Store(true)
	c.closing()
	code := bridge.CloseProtocolError
	if errors.Is(err, ErrTooLarge) {
		code = bridge.CloseTooBig
	}
	return &bridge.CloseError{Code: code, Reason: short(err.Error())}
}

// short cuts a message for the wire (a close reason has at most 123 bytes).
func short(s string) string {
	if len(s) > 120 {
		return s[:117] + "..."
	}
	return s
}

// Goodbye implements bridge.Goodbyer: a close the server starts (a
// worker's close, credentials expired) reaches every socket as a
// DISCONNECT, which the client takes as "io server disconnect" and does
// not reconnect from; a shutdown says nothing, so the client reconnects,
// to another gateway.
func (c *conn) Goodbye(ci bridge.CloseInfo) *bridge.Frame {
	c.closing()
	if ci.Code != bridge.CloseGoingAway {
		c.noRecovery.Store(true) // the client is told not to come back
	}
	if c.quiet.Swap(true) || ci.Code == bridge.CloseGoingAway {
		return nil
	}
	c.mu.Lock()
	nss := make([]string, 0, len(c.sockets))
	for _, sk := range c.sockets {
		nss = append(nss, sk.ns)
	}
	c.mu.Unlock() // c.send takes sendMu, which is never held around c.mu
	if len(nss) == 0 {
		return nil
	}
	for _, ns := range nss[1:] {
		_ = c.send(AppendPacket(nil, Disconnect, 0, ns, 0, false, nil))
	}
	return bridge.TextFrame(AppendPacket(nil, Disconnect, 0, nss[0], 0, false, nil))
}

// closing is called when the server ends the connection: a polling
// session's pipe is drained if its client does not poll.
func (c *conn) closing() {
	if c.s.Virtual() {
		c.p.polls.closing(c.s.ID())
	}
}

// OnClose implements bridge.Closer: the heartbeat walker forgets the
// connection and workers waiting for its acknowledgements are told. The
// bridge has ended every subscription.
func (c *conn) OnClose(bridge.CloseInfo) {
	c.closed.Store(true)
	c.p.hb.Remove(c)
	if c.s.Virtual() {
		c.p.polls.remove(c.s.ID())
	}
	c.mu.Lock()
	acks := c.acks
	socks := c.sockets
	c.acks, c.sockets = nil, nil
	c.mu.Unlock()
	c.saveSockets(socks)
	for _, a := range acks {
		c.answerWorker(a.reply, "disconnected", nil, false, false)
	}
}
