package mqtt

import (
	"bytes"
	"sync"
	"sync/atomic"

	"github.com/wsgate/wsgate/bridge"
)

// inbound is the ordered pipeline of a connection's PUBLISHes. A message
// that is stored first — in the session stream (QoS 1/2), as the retained
// message — waits for JetStream's acknowledgement, but the reader does
// not: it goes on decoding, so one connection has many stores in flight
// instead of paying a round trip per message. Each message's effects — the
// live NATS publish, the PUBACK or PUBREC — happen in arrival order once
// every message before it is done, because MQTT wants acknowledgements in
// order [MQTT-4.6.0-2/3] and subscribers want messages in order. A message
// that needs no store runs at once when nothing is ahead of it.
type inbound struct {
	mu       sync.Mutex
	more     sync.Cond // signalled when the queue shrinks
	queue    []*inPub
	draining bool                // a goroutine is completing queued messages
	qos2     map[uint16]struct{} // QoS 2 ids published and awaiting PUBREL
}

// inPub is one PUBLISH on its way through the pipeline.
type inPub struct {
	subject string
	hdr     bridge.Header
	payload []byte
	kv      *bridge.KV // retained bucket of a retained message
	qos     byte
	id      uint16
	ackOnly bool // no publish: only the acknowledgement, with rc
	rc      byte
	done    bool // ready to complete
	stored  bool // the session stream has it (set by its store's callback)

	waits atomic.Int32 // stores still running
}

// inbound returns the connection's pipeline, made on the first PUBLISH (a
// subscriber that never publishes has none). Only the reader calls it; the
// goroutines completing messages find it made.
func (c *conn) inbound() *inbound {
	if c.in == nil {
		c.in = &inbound{}
		c.in.more.L = &c.in.mu
	}
	return c.in
}

// submit runs e's effects now if nothing is ahead of it, else queues it
// behind. store, when set, starts e's stores; they must call stored
// exactly once. The reader waits while receive_maximum messages are queued: that
// is the connection's backpressure.
func (c *conn) submit(e *inPub, store func(e *inPub)) {
	in := c.inbound()
	in.mu.Lock()
	if store == nil && len(in.queue) == 0 && !in.draining {
		in.mu.Unlock()
		c.sendAcks(c.complete(e, nil), nil) // only the reader queues, so nothing can overtake it
		return
	}
	for len(in.queue) >= c.p.cfg.ReceiveMaximum {
		in.more.Wait()
	}
	// The payload aliases the read buffer, valid only during HandleMessage.
	e.payload = bytes.Clone(e.payload)
	e.done = store == nil
	c.wg.Add(1) // before a drainer can see e (and call Done)
	in.queue = append(in.queue, e)
	in.mu.Unlock()
	if store != nil {
		store(e)
		return
	}
	c.drain(nil)
}

// stored is the stores' completion: it marks e done and drains. b, when
// set, is the batch of the acknowledgements JetStream sent together.
func (c *conn) stored(e *inPub, b *bridge.Batch) {
	c.in.mu.Lock()
	e.done = true
	c.in.mu.Unlock()
	c.drain(b)
}

// drain completes the done messages at the head of the queue, in order,
// sending their acknowledgements through b (maybe nil). One goroutine
// drains at a time; another finding it busy leaves its message to it.
func (c *conn) drain(b *bridge.Batch) {
	in := c.in
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.draining {
		return
	}
	in.draining = true
	for len(in.queue) > 0 && in.queue[0].done {
		n := 0
		for n < len(in.queue) && in.queue[n].done {
			n++
		}
		batch := append([]*inPub(nil), in.queue[:n]...)
		clear(in.queue[:n])
		in.queue = in.queue[n:]
		if len(in.queue) == 0 {
			in.queue = nil
		}
		in.more.Broadcast()
		in.mu.Unlock()
		// The batch's acknowledgements go out as one WebSocket message
		// (MQTT over WebSocket lets one carry several packets).
		var acks []byte
		for _, e := range batch {
			acks = c.complete(e, acks)
		}
		c.sendAcks(acks, b)
		for range batch {
			c.wg.Done()
		}
		in.mu.Lock()
	}
	in.draining = false
}

// complete publishes e live (marked as stored when the session stream
// has it) and appends its acknowledgement, if it has one, to acks.
func (c *conn) complete(e *inPub, acks []byte) []byte {
	rc := e.rc
	if !e.ackOnly {
		hdr := e.hdr
		if e.stored {
			hdr = setOne(hdr, HeaderStored, "1")
		}
		if err := c.s.Publish(e.subject, "", hdr, e.payload); err != nil {
			rc = reasonOf(err)
			c.s.Logger().Debug("publish refused", "subject", e.subject, "err", err)
		}
	}
	switch e.qos {
	case 1:
		return (&Packet{Type: PUBACK, ID: e.id, Reason: rc}).Encode(acks, c.version)
	case 2:
		if rc >= 0x80 {
			c.in.mu.Lock()
			delete(c.in.qos2, e.id) // refused: the id is free again
			c.in.mu.Unlock()
		}
		return (&Packet{Type: PUBREC, ID: e.id, Reason: rc}).Encode(acks, c.version)
	}
	return acks
}

// sendAcks queues acknowledgements encoded by complete, through b when
// set.
func (c *conn) sendAcks(acks []byte, b *bridge.Batch) {
	if len(acks) > 0 {
		_ = b.Send(c.s, bridge.BinaryFrame(acks))
	}
}
