package socketio

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/wsgate/wsgate/bridge"
)

// frameKey names the EVENT frame of a NATS message in one namespace: every
// local socket of that namespace receiving it shares one frame, encoded
// once.
type frameKey struct{ ns string }

// deliverer returns the delivery callback of a socket's room and namespace
// subscriptions. It runs on a hub dispatcher: it never blocks. A message
// published by this connection itself, or naming it in Socketio-Except,
// is not delivered to it: broadcast to all but the sender.
func (c *conn) deliverer(sk *socket) func(*bridge.Delivery) {
	key := frameKey{sk.ns}
	id := c.s.ID()
	offsets := c.p.cfg.Recovery.Window > 0
	return func(d *bridge.Delivery) {
		h := d.Msg.Header
		if h.Get(bridge.HeaderConnectionID) == id || h.Get(HeaderExcept) == id {
			return
		}
		f, ok := d.Cached(key) // the frame of the first socket of ns, for the others
		if !ok {
			var err error
			f, err = d.Frame(key, func(m *bridge.Message) (*bridge.Frame, error) {
				if reservedEvent(m.Header.Get(HeaderEvent)) {
					return nil, errReservedEvent
				}
				offset := ""
				if offsets {
					offset = offsetNow(m)
				}
				if isBinary(m) {
					return bridge.TextFrame(binaryEventPacket(key.ns, m, 0, false, offset)), nil
				}
				return bridge.TextFrame(eventPacket(key.ns, m, 0, false, offset)), nil
			})
			if err != nil {
				return
			}
		}
		var a *bridge.Frame
		if p := f.Payload(); len(p) > 1 && p[1] == '0'+byte(BinaryEvent) {
			if a, ok = d.Cached(attachmentKey{}); !ok {
				a = bridge.BinaryFrame(d.Msg.Data)
				d.Keep(attachmentKey{}, a)
			}
		}
		c.sendMu.Lock()
		if d.Send(c.s, f) == nil && a != nil {
			_ = d.Send(c.s, a)
		}
		c.sendMu.Unlock()
	}
}

// errReservedEvent refuses a delivery named by a reserved event name: no
// client gets it.
var errReservedEvent = errors.New("socketio: reserved event name")

// attachmentKey names the binary frame of a binary message, the attachment
// of its BINARY_EVENT in every namespace.
type attachmentKey struct{}

// eventPacket encodes a NATS message as an EVENT in namespace ns: the
// event name from Socketio-Event (default "message"), the arguments from
// the body, and the offset, if any, last (recovery.go).
func eventPacket(ns string, m *bridge.Message, id uint64, hasID bool, offset string) []byte {
	name := m.Header.Get(HeaderEvent)
	if name == "" {
		name = defaultEvent
	}
	b := make([]byte, 0, len(ns)+len(name)+len(m.Data)+len(offset)+32)
	b = AppendPacket(b, Event, 0, ns, id, hasID, nil)
	b = appendString(append(b, '['), name)
	n := len(b)
	b = appendArgs(append(b, ','), m.Data, m.Header.Get(HeaderSpread) == "true")
	if len(b) == n+1 {
		b = b[:n] // no arguments
	}
	if offset != "" {
		b = appendString(append(b, ','), offset)
	}
	return append(b, ']')
}

// Push implements bridge.Handler: a worker's message to this connection
// (wsgate.conn.<id>.send, POST /@connections/<id>) is an EVENT in the
// namespace of its Socketio-Namespace header (default /), named by
// Socketio-Event (default "message"). A namespace the client has not
// joined gets nothing.
func (c *conn) Push(m *bridge.Message) {
	ns := m.Header.Get(HeaderNamespace)
	if ns == "" {
		ns = "/"
	}
	if c.closed.Load() || c.socketOf(ns) == nil || reservedEvent(m.Header.Get(HeaderEvent)) {
		return
	}
	c.sendEvent(ns, m, 0, false)
}

// controlRequest is the body of join and leave on the connection API.
type controlRequest struct {
	Namespace string `json:"namespace"`
	Room      string `json:"room"`
}

// Control implements bridge.Controller: the Socket.IO verbs of the
// connection API.
//
//	<prefix>.conn.<id>.join   {"room":"r1","namespace":"/shop"}  puts the socket in a room
//	<prefix>.conn.<id>.leave  {"room":"r1","namespace":"/shop"}  takes it out
//	<prefix>.conn.<id>.emit   an EVENT as Push makes it; a request gets
//	                          the client's acknowledgement as its reply
//	<prefix>.conn.<id>.poll, .post, .unpoll
//	                          a polling request relayed by another gateway
//	                          (relay.go)
func (c *conn) Control(verb string, m *bridge.Message) bool {
	switch verb {
	case "join", "leave":
		var req controlRequest
		if err := json.Unmarshal(m.Data, &req); err != nil || req.Room == "" {
			c.controlReply(m, errors.New(`the body must be {"room":"...","namespace":"/..."}`))
			return true
		}
		if req.Namespace == "" {
			req.Namespace = "/"
		}
		sk := c.socketOf(req.Namespace)
		if sk == nil {
			c.controlReply(m, fmt.Errorf("the client is not connected to namespace %s", quote(req.Namespace)))
			return true
		}
		var err error
		if verb == "join" {
			err = c.join(sk, req.Room)
		} else {
			err = c.leave(sk, req.Room)
		}
		c.controlReply(m, err)
		return true
	case "emit":
		c.emitToClient(m)
		return true
	case verbPoll, verbPost, verbUnpoll:
		go c.relayed(verb, m) // a GET holds for up to a ping interval
		return true
	}
	return false
}

// controlReply answers a connection API request: {"ok":true} or
// {"error":"..."}.
func (c *conn) controlReply(m *bridge.Message, err error) {
	if m.Reply == "" {
		return
	}
	body := []byte(`{"ok":true}`)
	if err != nil {
		body = appendString([]byte(`{"error":`), short(err.Error()))
		body = append(body, '}')
	}
	_ = c.s.Respond(m, nil, body)
}

// ackTTL is how long a worker's emit waits for the client's
// acknowledgement at most; a later one finds nobody (the worker's request
// has timed out long before).
const ackTTL = 5 * time.Minute

// emitToClient delivers a worker's emit. A request (with a reply subject)
// asks the client for an acknowledgement, whose arguments are the reply.
func (c *conn) emitToClient(m *bridge.Message) {
	ns := m.Header.Get(HeaderNamespace)
	if ns == "" {
		ns = "/"
	}
	if c.closed.Load() || c.socketOf(ns) == nil {
		if m.Reply != "" {
			c.answerWorker(m.Reply, "the client is not connected to namespace "+quote(ns), nil, false, false)
		}
		return
	}
	if ev := m.Header.Get(HeaderEvent); reservedEvent(ev) {
		if m.Reply != "" {
			c.answerWorker(m.Reply, quote(ev)+" is a reserved event name", nil, false, false)
		}
		return
	}
	if m.Reply == "" {
		c.sendEvent(ns, m, 0, false)
		return
	}
	now := time.Now()
	c.mu.Lock()
	if c.acks == nil {
		c.acks = map[uint64]pendingAck{}
	}
	for id, a := range c.acks {
		if now.Sub(a.at) > ackTTL {
			delete(c.acks, id)
		}
	}
	if len(c.acks) >= c.p.cfg.MaxPendingAcks {
		c.mu.Unlock()
		c.s.Metrics().LimitExceeded(Name, "max_pending_acks")
		c.answerWorker(m.Reply, "too many acknowledgements pending", nil, false, false)
		return
	}
	c.ackSeq++
	id := c.ackSeq
	c.acks[id] = pendingAck{reply: m.Reply, at: now}
	c.mu.Unlock()
	c.sendEvent(ns, m, id, true)
}
