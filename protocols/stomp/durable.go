package stomp

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"maps"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/wsgate/wsgate/bridge"
	"github.com/wsgate/wsgate/subjects"
)

// Durable queues are the /queue/ destinations that Config.DurableQueues
// names. They live in one JetStream stream, so a message sent while nobody
// subscribes waits for a subscriber, and survives a gateway restart. Every
// subscriber of a queue binds the same durable consumer, so each message
// goes to one of them. ACK and NACK map to JetStream acks: client-individual
// acknowledges one message, client acknowledges the subscription's earlier
// messages too (done by the gateway per subscription, not with JetStream's
// AckAll, which would acknowledge other subscribers' messages), NACK asks
// for redelivery, and auto acknowledges a message once it is queued to the
// client. A subscriber that leaves has its unacknowledged messages
// redelivered at once.

// durableStream is the stream of the durable queues.
const durableStream = "WSGATE_STOMP_QUEUES"

// consumerIdle is how long a queue's durable consumer outlives its last
// subscriber. Its messages stay in the stream (work-queue retention keeps
// them until acknowledged) and a later subscriber's new consumer gets them
// all, so the bound costs nothing and keeps a client that subscribes to
// many names of a pattern ("/queue/jobs.*") from piling up consumers.
const consumerIdle = time.Hour

// durable reports whether a /queue/ subject is a durable queue.
func (p *Protocol) durable(subject string) bool {
	for _, pat := range p.durablePatterns {
		if subjects.Match(pat, subject) {
			return true
		}
	}
	return false
}

// ensureStream creates the durable queues' stream (once per process).
func (p *Protocol) ensureStream(ctx context.Context, js *bridge.JetStream) error {
	return js.EnsureStream(ctx, bridge.StreamConfig{
		Name:      durableStream,
		Subjects:  p.durablePatterns,
		Retention: "workqueue",
	})
}

// consumerName is the durable consumer of a queue: a name JetStream
// accepts, whatever the subject holds.
func consumerName(subject string) string {
	sum := sha256.Sum256([]byte(subject))
	return "stomp_q_" + hex.EncodeToString(sum[:12])
}

// durableSub is a subscription's consumption of a durable queue.
type durableSub struct {
	c       *conn
	sub     *subscription
	cons    *bridge.Consumer
	order   atomic.Uint64 // delivery order, for cumulative acks
	stopped atomic.Bool
}

// durableAck is one delivered, unacknowledged durable message.
type durableAck struct {
	ds    *durableSub
	m     *bridge.DurableMessage
	order uint64
}

// durableAttempt is how long a durable SEND waits for the stream's
// acknowledgement before asking again.
const durableAttempt = 2 * time.Second

var errNoJetStream = errors.New("stomp: JetStream is not available")

// jetStream is the session's JetStream, with the durable stream in place.
func (c *conn) jetStream() (*bridge.JetStream, error) {
	js := c.s.JetStream()
	if js == nil {
		return nil, errNoJetStream
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.p.cfg.RequestTimeout)
	defer cancel()
	if err := c.p.ensureStream(ctx, js); err != nil {
		return nil, err
	}
	return js, nil
}

// publishDurable stores a SEND in its durable queue and waits for the
// stream's acknowledgement, asking again every durableAttempt under the
// same message id (the connection's id and a count), so a NATS server that
// dies with the acknowledgement delays the RECEIPT by an attempt, not by
// request_timeout, and the queue holds the message once.
func (c *conn) publishDurable(subject string, hdr bridge.Header, body []byte) error {
	js, err := c.jetStream()
	if err != nil {
		return err
	}
	h := c.s.Headers(bridge.EventMessage, "")
	maps.Copy(h, hdr)
	ctx, cancel := context.WithTimeout(context.Background(), c.p.cfg.RequestTimeout)
	defer cancel()
	id := c.s.ID() + "." + strconv.FormatUint(c.sends.Add(1), 10)
	_, err = js.PublishOnce(ctx, subject, id, h, body, durableAttempt)
	return err
}

// consume starts delivering a durable queue to sub.
func (c *conn) consume(sub *subscription) (*durableSub, error) {
	js, err := c.jetStream()
	if err != nil {
		return nil, err
	}
	ds := &durableSub{c: c, sub: sub}
	v := c.ver()
	withAck := sub.ack != ackAuto && v >= V12
	ctx, cancel := context.WithTimeout(context.Background(), c.p.cfg.RequestTimeout)
	defer cancel()
	ds.cons, err = js.Consume(ctx, bridge.ConsumerConfig{
		Stream:            durableStream,
		Durable:           consumerName(sub.dst.subject),
		FilterSubjects:    []string{sub.dst.subject},
		AckWait:           c.p.cfg.DurableAckWait,
		InactiveThreshold: consumerIdle,
	}, func(m *bridge.DurableMessage) { ds.deliver(m, v, withAck) })
	if err != nil {
		return nil, err
	}
	return ds, nil
}

// deliver sends one durable message to the client and, unless the
// subscription acks automatically, remembers it until the client's ACK or
// NACK. Every delivery is checked against the connection's permissions
// now, not only at SUBSCRIBE.
func (ds *durableSub) deliver(m *bridge.DurableMessage, v Version, withAck bool) {
	c := ds.c
	if ds.stopped.Load() || !c.s.MayReceive(m.Subject) {
		_ = m.Nak(time.Second)
		return
	}
	id := "q" + c.p.newID()
	if ds.sub.ack != ackAuto {
		c.mu.Lock()
		if c.durable == nil {
			c.durable = map[string]*durableAck{}
		}
		c.durable[id] = &durableAck{ds: ds, m: m, order: ds.order.Add(1)}
		c.mu.Unlock()
	}
	tail := bridge.DataFrame(c.p.messageTail(&m.Message, v, withAck, id))
	err := c.sendFrame(messageFrame(ds.sub.id, ds.sub.dst.name(m.Subject), v, tail))
	if ds.sub.ack == ackAuto {
		if err != nil {
			_ = m.Nak(handBackDelay) // never reached the client
		} else {
			_ = m.Ack()
		}
	}
}

// settle applies an ACK (nack false) or NACK to the durable message id
// names, and in client mode to the subscription's earlier messages too
// [STOMP-1.2 "SUBSCRIBE ack Header": "the ACK is treated as a cumulative
// acknowledgment"]. An id that names no durable message (a message of a
// plain destination, or one already settled) needs nothing.
func (c *conn) settle(id string, nack bool) {
	c.mu.Lock()
	da := c.durable[id]
	if da == nil {
		c.mu.Unlock()
		return
	}
	done := []*durableAck{da}
	delete(c.durable, id)
	if da.ds.sub.ack == ackClient {
		for k, o := range c.durable {
			if o.ds == da.ds && o.order < da.order {
				done = append(done, o)
				delete(c.durable, k)
			}
		}
	}
	c.mu.Unlock()
	for _, o := range done {
		if nack {
			_ = o.m.Nak(0)
		} else {
			_ = o.m.Ack()
		}
	}
}

// handBackDelay is how long a message a leaving subscriber held waits
// before JetStream redelivers it. Stopping a consumption does not withdraw
// its pull requests from the server at once; a message refused with no
// delay can be handed straight to one of them, a subscriber that is gone,
// and then waits out the whole ack wait.
const handBackDelay = 500 * time.Millisecond

// PermissionsChanged implements bridge.PermissionsChanger: a durable queue
// subscription the connection's new permissions no longer allow stops,
// silently (STOMP's only notice, ERROR, would end the connection), as the
// session's own subscriptions do; its id stays, so that the client's
// UNSUBSCRIBE still succeeds.
func (c *conn) PermissionsChanged() {
	var gone []*subscription
	c.mu.Lock()
	for _, sub := range c.subs {
		if sub.dq != nil && !sub.dq.stopped.Load() && c.s.CheckSubscribe(sub.dst.subject) != nil {
			gone = append(gone, sub)
		}
	}
	c.mu.Unlock()
	for _, sub := range gone {
		sub.dq.stop()
		c.s.Logger().Info("reload: durable queue subscription no longer permitted; stopped", "id", sub.id, "destination", sub.raw)
	}
}

// stop ends the consumption; the subscription's unacknowledged messages
// go back to the queue (after handBackDelay). Only the first call does.
func (ds *durableSub) stop() {
	if ds.stopped.Swap(true) {
		return // a reload stopped it before the client's UNSUBSCRIBE
	}
	ds.cons.Drain() // late deliveries are handed back (stopped)
	c := ds.c
	var back []*durableAck
	c.mu.Lock()
	for k, o := range c.durable {
		if o.ds == ds {
			back = append(back, o)
			delete(c.durable, k)
		}
	}
	c.mu.Unlock()
	for _, o := range back {
		_ = o.m.Nak(handBackDelay)
	}
}
