package mqtt

import (
	"time"

	"github.com/wsgate/wsgate/bridge"
)

// outbound is a connection's QoS 1/2 delivery state: packet ids in flight,
// bounded by the in-flight window (the client's Receive Maximum), and the
// messages waiting for a free slot. Guarded by conn.mu.
type outbound struct {
	window   int
	closed   bool // the connection is gone: stream messages go back at once
	next     uint16
	inflight map[uint16]*flight
	queue    []*flight
}

// flight is one outbound QoS 1/2 message. dm, when set, is the stream
// message of a persistent session, acknowledged to JetStream once the
// client has it (PUBACK; PUBREC for QoS 2).
type flight struct {
	p       *Packet
	want    byte // PUBACK, PUBREC or PUBCOMP
	dm      *bridge.DurableMessage
	rel     bool  // a persistent session's released QoS 2 id: stored until PUBCOMP
	expires int64 // unix nanoseconds when the message expires (msgexpiry.go); 0: never
}

func (o *outbound) init(window int) {
	o.window = max(window, 1)
	// The in-flight map is made on first use: an idle subscriber, or one
	// that only gets QoS 0, never needs it.
}

// queueOut sends m at qos now if the window allows, else queues it. Called
// with c.mu held.
func (c *conn) queueOut(m *bridge.Message, qos byte, sb *sub, retain bool) {
	p := c.outPacket(m, sb.topicOf(m.Subject), qos, sb)
	if p == nil {
		return
	}
	p.Retain = retain
	c.queueFlight(&flight{p: p, expires: expiryDeadline(m.Header, time.Now())})
}

// queueFlight sends or queues f. Called with c.mu held.
func (c *conn) queueFlight(f *flight) {
	o := &c.out
	if o.closed {
		if f.dm != nil {
			_ = f.dm.Nak(redeliverDelay)
		}
		return
	}
	if len(o.inflight) < o.window && len(o.queue) == 0 {
		// A stored delivery comes from a JetStream consumer's callback,
		// whose next messages may join its write.
		c.sendQoS(f, f.dm != nil)
		return
	}
	if len(o.queue) >= c.p.cfg.MaxQueued {
		if f.dm != nil {
			_ = f.dm.Nak(0) // JetStream keeps it
			return
		}
		c.s.Metrics().LimitExceeded(Name, "mqtt_max_queued")
		c.goodbye.CompareAndSwap(0, rcQuotaExceeded)
		c.s.Close(bridge.ClosePolicy, "slow consumer: in-flight window full")
		return
	}
	o.queue = append(o.queue, f)
}

// sendQoS assigns a free packet id to f and sends it (deferred: as
// sendOut's deferred does), or drops it if it has expired. Called with
// c.mu held and a free slot in the window.
func (c *conn) sendQoS(f *flight, deferred bool) {
	if f.expires != 0 {
		left, ok := expiryLeft(f.expires, time.Now())
		if !ok {
			if f.dm != nil {
				_ = f.dm.Term() // [MQTT-3.3.2-5]
			}
			return
		}
		if c.version == V5 {
			f.p.Props.setU32(propMessageExpiry, left) // [MQTT-3.3.2-6]
		}
	}
	o := &c.out
	for {
		o.next++
		if o.next == 0 {
			o.next = 1
		}
		if _, used := o.inflight[o.next]; !used {
			break
		}
	}
	f.p.ID = o.next
	f.want = PUBACK
	if f.p.QoS == 2 {
		f.want = PUBREC
	}
	if o.inflight == nil {
		o.inflight = make(map[uint16]*flight, min(o.window, 64))
	}
	o.inflight[f.p.ID] = f
	c.sendPublishLocked(f.p, deferred)
}

// acked records the client's PUBACK, PUBREC or PUBCOMP of id and fills the
// window from the queue. An unknown id is ignored. refused is a v5 PUBREC
// with a failure reason, which ends the exchange. It reports whether the
// set of a persistent session's unreleased ids changed, to be stored.
func (c *conn) acked(id uint16, typ byte, refused bool) (relChanged bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	o := &c.out
	f, ok := o.inflight[id]
	if !ok || f.want != typ {
		return false
	}
	durable := f.dm != nil
	if durable && typ != PUBCOMP {
		_ = f.dm.Ack()
		f.dm = nil
	}
	if typ == PUBREC && !refused {
		f.want = PUBCOMP // awaiting PUBCOMP after our PUBREL
		f.rel = durable
		return f.rel
	}
	delete(o.inflight, id)
	for len(o.queue) > 0 && len(o.inflight) < o.window {
		f := o.queue[0]
		o.queue[0] = nil
		o.queue = o.queue[1:]
		c.sendQoS(f, false)
	}
	return f.rel
}

// release marks id as a resumed session's QoS 2 message awaiting PUBCOMP:
// its PUBREL is being resent, and the id is not reused until then. Called
// with c.mu held.
func (o *outbound) release(id uint16) {
	if id == 0 {
		return
	}
	if o.inflight == nil {
		o.inflight = make(map[uint16]*flight, min(o.window, 64))
	}
	o.inflight[id] = &flight{p: &Packet{Type: PUBREL, ID: id}, want: PUBCOMP, rel: true}
}

// redeliverDelay is how long a stream message handed back at close waits
// before JetStream redelivers it, so that it does not go to the closing
// connection's consumer, which may linger a moment after Stop.
const redeliverDelay = 250 * time.Millisecond

// nakAll hands every stream message not yet acknowledged back to
// JetStream, to be redelivered (with DUP) when the session reconnects.
func (c *conn) nakAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.out.closed = true
	for _, f := range c.out.inflight {
		if f.dm != nil {
			_ = f.dm.Nak(redeliverDelay)
		}
	}
	for _, f := range c.out.queue {
		if f.dm != nil {
			_ = f.dm.Nak(redeliverDelay)
		}
	}
	c.out.queue = nil
}
