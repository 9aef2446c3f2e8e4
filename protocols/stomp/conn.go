package stomp

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsgate/wsgate/bridge"
)

// conn is one STOMP connection. HandleMessage runs on the session's reader
// (never two at once); deliveries, pushes, heart-beats and replies come
// from other goroutines and touch only what is guarded or atomic.
type conn struct {
	p *Protocol
	s *bridge.Session

	// Reader-owned state.
	dec       Decoder // frames, and what is incomplete until the next message
	connected bool
	done      bool // DISCONNECT seen: the rest is ignored
	txs       map[string]*transaction

	version atomic.Uint32 // negotiated Version; 0 before CONNECT
	quiet   atomic.Bool   // the client already has our last word: Goodbye adds nothing

	// Heart-beats, fixed before the connection joins the walker.
	sendEvery, recvEvery time.Duration
	lastRecv             atomic.Int64 // unix nanoseconds

	mu      sync.Mutex
	subs    map[string]*subscription // by subscription id
	live    bool                     // CONNECTED sent: pushes go straight out
	early   []*bridge.Message        // pushes before CONNECTED
	durable map[string]*durableAck   // unacknowledged durable messages by ack id

	sends atomic.Uint64 // durable SENDs, for their message ids
}

var (
	_ bridge.Handler            = (*conn)(nil)
	_ bridge.Closer             = (*conn)(nil)
	_ bridge.Goodbyer           = (*conn)(nil)
	_ bridge.PermissionsChanger = (*conn)(nil)
	_ bridge.Refuser            = (*conn)(nil)
)

func newConn(p *Protocol, s *bridge.Session) *conn {
	c := &conn{p: p, s: s, subs: map[string]*subscription{}, dec: Decoder{Limits: p.lim}}
	c.lastRecv.Store(time.Now().UnixNano())
	return c
}

// ver is the negotiated version (1.0 before CONNECT).
func (c *conn) ver() Version {
	if v := Version(c.version.Load()); v != 0 {
		return v
	}
	return V10
}

// HandleMessage implements bridge.Handler. A WebSocket message may hold
// several frames, part of one, or heart-beat EOLs: what is incomplete waits
// for the next message.
func (c *conn) HandleMessage(_ bool, data []byte) error {
	c.lastRecv.Store(time.Now().UnixNano())
	if c.done {
		return nil
	}
	c.dec.Feed(data)
	defer c.dec.Keep()
	for !c.done {
		f, err := c.dec.Next(c.ver())
		if err != nil {
			return c.fail(nil, "malformed frame", bridge.CloseProtocolError, err)
		}
		if f == nil {
			return nil
		}
		if err := c.handle(f); err != nil {
			return err
		}
	}
	return nil
}

// handle runs one client frame and answers its receipt.
func (c *conn) handle(f *Frame) error {
	if !c.connected {
		if f.Command != CmdConnect && f.Command != CmdStomp {
			return c.fail(f, "not connected", bridge.CloseProtocolError,
				fmt.Errorf("the first frame must be CONNECT or STOMP, not %s", f.Command))
		}
		return c.connect(f)
	}
	var err error
	switch f.Command {
	case CmdSend:
		err = c.send(f, false)
	case CmdSubscribe:
		err = c.subscribe(f)
	case CmdUnsubscribe:
		err = c.unsubscribe(f)
	case CmdAck, CmdNack:
		err = c.ack(f, false)
	case CmdBegin:
		err = c.begin(f)
	case CmdCommit:
		err = c.commit(f)
	case CmdAbort:
		err = c.abort(f)
	case CmdDisconnect:
		return c.disconnect(f)
	case CmdConnect, CmdStomp:
		err = c.fail(f, "already connected", bridge.CloseProtocolError, errors.New("a second CONNECT on one connection"))
	default:
		err = c.fail(f, "not a client frame", bridge.CloseProtocolError, fmt.Errorf("%s is a server frame", f.Command))
	}
	if err != nil {
		return err
	}
	// "The server will acknowledge the processing of a client frame with a
	// receipt header with a RECEIPT frame" [STOMP-1.2 "Header receipt"].
	if r, ok := f.Get("receipt"); ok {
		c.receipt(r)
	}
	return nil
}

// receipt sends a RECEIPT frame.
func (c *conn) receipt(id string) {
	c.write(&Frame{Command: CmdReceipt, Headers: []HeaderField{{"receipt-id", id}}})
}

// write encodes f for the connection's version and queues it.
func (c *conn) write(f *Frame) {
	_ = c.sendFrame(bridge.DataFrame(f.Append(nil, c.ver())))
}

// sendFrame queues an encoded frame. An
// error means the connection is closing (or is a slow consumer and will).
func (c *conn) sendFrame(f *bridge.Frame) error {
	return c.s.Send(f)
}

// errorFrame builds an ERROR frame: "The ERROR frame SHOULD contain a
// message header with a short description of the error, and the body MAY
// contain more detailed information" [STOMP-1.2 "ERROR"]. A frame that
// carried a receipt header gets it back as receipt-id.
func errorFrame(cause *Frame, msg, detail string) *Frame {
	e := &Frame{Command: CmdError, Body: []byte(detail)}
	e.Add("message", msg)
	if cause != nil {
		if r, ok := cause.Get("receipt"); ok {
			e.Add("receipt-id", r)
		}
	}
	e.Add("content-type", "text/plain")
	e.Add("content-length", fmt.Sprint(len(e.Body)))
	return e
}

// fail sends an ERROR frame and returns the error that closes the
// connection: "If the server cannot successfully process the frame, the
// server MUST send the client an ERROR frame and then close the connection"
// [STOMP-1.2 "Header receipt" and "ERROR"]. Only this connection is
// affected.
func (c *conn) fail(cause *Frame, msg string, code int, err error) error {
	c.s.Metrics().ProtocolError(Name, errorKind(err))
	c.quiet.Store(true)
	c.write(errorFrame(cause, msg, err.Error()))
	return &bridge.CloseError{Code: code, Reason: msg}
}

// failErr is fail for an error of the Session or of a name.
func (c *conn) failErr(cause *Frame, err error) error {
	if errors.Is(err, errDestination) {
		return c.fail(cause, "invalid destination", bridge.ClosePolicy, err)
	}
	switch bridge.KindOf(err) {
	case bridge.KindForbidden:
		return c.fail(cause, "permission denied", bridge.ClosePolicy, err)
	case bridge.KindLimit:
		return c.fail(cause, "limit reached", bridge.ClosePolicy, err)
	case bridge.KindClosed:
		return &bridge.CloseError{Code: bridge.CloseNormal, Reason: err.Error()}
	}
	return c.fail(cause, "cannot process frame", bridge.CloseProtocolError, err)
}

// errorKind is the metrics label of a protocol error.
func errorKind(err error) string {
	switch {
	case errors.Is(err, ErrFrameTooLarge):
		return "frame_too_large"
	case errors.Is(err, ErrFrame):
		return "malformed_frame"
	case errors.Is(err, errDestination):
		return "invalid_destination"
	}
	switch bridge.KindOf(err) {
	case bridge.KindForbidden:
		return "forbidden"
	case bridge.KindUnauthenticated:
		return "unauthorized"
	}
	return "protocol"
}

// require returns the value of a header the frame must have.
func (c *conn) require(f *Frame, name string) (string, error) {
	v, ok := f.Get(name)
	if !ok || v == "" {
		return "", c.fail(f, "missing header", bridge.CloseProtocolError,
			fmt.Errorf("%s frame without a %s header", f.Command, name))
	}
	return v, nil
}

// disconnect ends the connection politely: "the server [...] will send a
// RECEIPT frame" for a DISCONNECT's receipt and close [STOMP-1.2
// "DISCONNECT"].
func (c *conn) disconnect(f *Frame) error {
	c.done = true
	c.quiet.Store(true)
	if r, ok := f.Get("receipt"); ok {
		c.receipt(r)
	}
	c.s.Close(bridge.CloseNormal, "disconnect")
	return nil
}

// Goodbye implements bridge.Goodbyer: a close the server starts (token
// expiry, a worker's close, shutdown, heart-beat timeout) reaches the
// client as an ERROR frame first.
func (c *conn) Goodbye(ci bridge.CloseInfo) *bridge.Frame {
	if c.quiet.Swap(true) {
		return nil
	}
	msg := ci.Reason
	if msg == "" {
		msg = "connection closed by the server"
	}
	msg = strings.Map(func(r rune) rune {
		if r < ' ' {
			return ' '
		}
		return r
	}, msg)
	e := errorFrame(nil, msg, fmt.Sprintf("closed by %s: %s (WebSocket close code %d)", ci.By, msg, ci.Code))
	return bridge.DataFrame(e.Append(nil, c.ver()))
}

// Refuse implements bridge.Refuser. A STOMP connection is a stream: a
// message dropped for the rate limit could leave half a frame behind, so
// the connection ends with an ERROR instead.
func (c *conn) Refuse(_ bool, _ []byte, err error) error {
	return c.fail(nil, "rate limit", bridge.ClosePolicy, err)
}

// OnClose implements bridge.Closer: running requests are cancelled, the
// connection leaves the heart-beat walker, and durable consumers stop;
// open transactions are dropped with the connection [STOMP-1.2 "ABORT"
// implies as much for a DISCONNECT mid-transaction].
func (c *conn) OnClose(bridge.CloseInfo) {
	c.p.hb.Remove(c)
	c.mu.Lock()
	subs := c.subs
	c.subs = map[string]*subscription{}
	c.mu.Unlock()
	for _, sub := range subs {
		sub.stop()
	}
}
