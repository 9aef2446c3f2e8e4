package socketio

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/wsgate/wsgate/bridge"
)

// onEvent handles an EVENT from the client: emit(name, ...args). Without
// a route it publishes to the event's subject; with an acknowledgement
// callback it is a NATS request whose reply is the ACK. A route may send
// it elsewhere, or make it a join or leave.
func (c *conn) onEvent(pk *Packet, atts [][]byte) error {
	sk := c.socketOf(pk.Namespace)
	if sk == nil {
		// socket.io ignores a packet for a namespace the client has not
		// joined; it is counted.
		c.s.Metrics().ProtocolError(Name, "not_connected")
		return nil
	}
	name, rest, _ := splitEvent(pk.Data) // checked by the decoder
	body, spread := argsBody(rest)
	binary := false
	if atts != nil {
		var err error
		if body, spread, binary, rest, err = attachArgs(rest, atts); err != nil {
			return err
		}
	}
	r := c.p.routes[name]
	if name == routeConnect {
		r = nil // a CONNECT's route, not an event's
	}
	fail := func(err error) { c.refuse(sk, pk, name, err) }
	if r != nil && (r.integration == integrationJoin || r.integration == integrationLeave) {
		room, err := r.room.expand(func(v string) (string, bool) { return c.lookup(sk.tok, rest, v) })
		if err == nil {
			if r.integration == integrationJoin {
				err = c.join(sk, room)
			} else {
				err = c.leave(sk, room)
			}
		}
		if err != nil {
			fail(err)
			return nil
		}
		if pk.HasID {
			_ = c.send(AppendPacket(nil, Ack, 0, sk.ns, pk.ID, true, []byte("[]")))
		}
		return nil
	}
	subject, routeKey, err := c.emitSubject(r, sk, name, rest)
	if err != nil {
		fail(err)
		return nil
	}
	hdr := bridge.Header{HeaderNamespace: {sk.ns}, HeaderEvent: {name}}
	switch {
	case binary:
		hdr[HeaderBinary] = []string{"true"}
	case spread:
		hdr[HeaderSpread] = []string{"true"}
	}
	if !pk.HasID && (r == nil || r.integration == integrationPublish) {
		if err := c.s.Publish(subject, routeKey, hdr, body); err != nil && bridge.KindOf(err) != bridge.KindClosed {
			fail(err)
		}
		return nil
	}
	timeout := c.p.cfg.RequestTimeout
	if r != nil && r.timeout > 0 {
		timeout = r.timeout
	}
	ns, id, hasID := sk.ns, pk.ID, pk.HasID
	err = c.s.RequestAsync(c.p.cfg.MaxInflight, subject, routeKey, hdr, body, timeout, func(m *bridge.Message, err error) {
		if !hasID {
			return // a request route without an acknowledgement: the reply is dropped
		}
		if err != nil {
			c.sendAck(ns, id, errorArg(err))
			return
		}
		c.sendReply(ns, id, m)
	})
	if err != nil && bridge.KindOf(err) != bridge.KindClosed {
		fail(err)
	}
	return nil
}

// emitSubject is where an emit goes: its route's subject, or the event's.
func (c *conn) emitSubject(r *route, sk *socket, name string, rest []byte) (subject, routeKey string, err error) {
	if r == nil || r.subject == nil {
		subject, err = eventSubject(c.p.cfg.SubjectPrefix, sk.tok, name)
	} else {
		subject, err = r.subject.Expand(func(v string) (string, bool) { return c.lookup(sk.tok, rest, v) })
		if err != nil {
			err = fmt.Errorf("%w: route %s: %w", ErrInvalidName, quote(r.key), err)
		}
	}
	if r != nil {
		routeKey = r.key
	}
	return subject, routeKey, err
}

// refuse answers an emit the gateway would not carry: with its ACK when
// the client asked for one, else with a wsgate:error event naming it. It
// is counted.
func (c *conn) refuse(sk *socket, pk *Packet, name string, err error) {
	kind := errCode(err)
	c.s.Metrics().ProtocolError(Name, "emit_"+kind)
	if pk.HasID {
		c.sendAck(sk.ns, pk.ID, errorArg(err))
		return
	}
	data := []byte(`["wsgate:error",{"event":`)
	data = appendString(data, name)
	data = append(data, `,"error":`...)
	data = appendString(data, kind)
	data = append(data, `,"message":`...)
	data = appendString(data, short(err.Error()))
	data = append(data, "}]"...)
	_ = c.send(AppendPacket(nil, Event, 0, sk.ns, 0, false, data))
}

// errCode names an error for the client: forbidden, invalid_name, limit,
// timeout, no_responders, unauthenticated or failed.
func errCode(err error) string {
	if errors.Is(err, ErrInvalidName) {
		return "invalid_name"
	}
	return bridge.KindOf(err).String()
}

// errorArg is the one argument of an ACK for an emit that failed:
// {"error":"<code>","message":"..."}.
func errorArg(err error) []byte {
	b := []byte(`{"error":`)
	b = appendString(b, errCode(err))
	b = append(b, `,"message":`...)
	b = appendString(b, short(err.Error()))
	return append(b, '}')
}

// replyArgs are the ACK arguments of a worker's reply: its body's, or,
// with Socketio-Error, {"error":"worker","message":<the header>}.
func replyArgs(m *bridge.Message) []byte {
	if e := m.Header.Get(HeaderError); e != "" {
		b := []byte(`{"error":"worker","message":`)
		b = appendString(b, short(e))
		return append(b, '}')
	}
	return appendArgs(nil, m.Data, m.Header.Get(HeaderSpread) == "true")
}

// sendAck sends ACK ns id [args].
func (c *conn) sendAck(ns string, id uint64, args []byte) {
	data := make([]byte, 0, len(args)+2)
	data = append(append(append(data, '['), args...), ']')
	_ = c.send(AppendPacket(nil, Ack, 0, ns, id, true, data))
}

// onAck handles the client's ACK of a worker's emit: its arguments are
// the worker's reply.
func (c *conn) onAck(pk *Packet, atts [][]byte) error {
	c.mu.Lock()
	a, ok := c.acks[pk.ID]
	if ok {
		delete(c.acks, pk.ID)
	}
	c.mu.Unlock()
	if !ok {
		c.s.Metrics().ProtocolError(Name, "unknown_ack")
		return nil
	}
	body, spread := ackBody(pk.Data)
	binary := false
	if atts != nil {
		var err error
		if body, spread, binary, _, err = attachArgs(ackInner(pk.Data), atts); err != nil {
			return err
		}
	}
	c.answerWorker(a.reply, "", body, spread, binary)
	return nil
}

// ackInner is the raw elements of an ACK's argument array.
func ackInner(arr []byte) []byte {
	i := skipSpace(arr, 0)
	end := bytes.LastIndexByte(arr, ']')
	if i >= len(arr) || end <= i {
		return nil
	}
	return bytes.TrimSpace(arr[i+1 : end])
}

// answerWorker replies to a worker's emit request: the client's ACK
// arguments, or, with errMsg, an empty body and Socketio-Error.
func (c *conn) answerWorker(reply, errMsg string, body []byte, spread, binary bool) {
	hdr := bridge.Header{}
	switch {
	case errMsg != "":
		hdr[HeaderError] = []string{errMsg}
	case binary:
		hdr[HeaderBinary] = []string{"true"}
	case spread:
		hdr[HeaderSpread] = []string{"true"}
	}
	if err := c.s.Respond(&bridge.Message{Reply: reply}, hdr, body); err != nil {
		c.s.Logger().Debug("socketio ack reply", "err", err)
	}
}
