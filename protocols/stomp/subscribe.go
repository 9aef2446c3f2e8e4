package stomp

import (
	"context"
	"fmt"
	"unicode/utf8"

	"github.com/wsgate/wsgate/bridge"
)

// ackMode is a subscription's ack header [STOMP-1.2 "SUBSCRIBE ack
// Header"].
type ackMode uint8

const (
	ackAuto             ackMode = iota // the server counts a message acknowledged once sent
	ackClient                          // ACK is cumulative
	ackClientIndividual                // ACK acknowledges one message
)

func parseAckMode(s string, v Version) (ackMode, bool) {
	switch s {
	case "", "auto":
		return ackAuto, true
	case "client":
		return ackClient, true
	case "client-individual":
		return ackClientIndividual, v >= V11
	}
	return 0, false
}

// subscription is one SUBSCRIBE of a connection.
type subscription struct {
	id  string
	raw string // the destination as the client wrote it
	dst destination
	ack ackMode
	sub *bridge.Subscription // nil for /temp-queue/ and durable queues
	dq  *durableSub          // durable queues only
	key any                  // its Delivery key: headKey, boxed once
}

// stop ends the subscription's flow of messages.
func (sub *subscription) stop() {
	if sub.sub != nil {
		sub.sub.Unsubscribe()
	}
	if sub.dq != nil {
		sub.dq.stop()
	}
}

// subscribe handles SUBSCRIBE.
func (c *conn) subscribe(f *Frame) error {
	d, err := c.require(f, "destination")
	if err != nil {
		return err
	}
	id, ok := f.Get("id")
	if !ok || id == "" {
		// "Since a single connection can have multiple open subscriptions
		// with a server, an id header MUST be included in the frame to
		// uniquely identify the subscription" [STOMP-1.2 "SUBSCRIBE id
		// Header"]. STOMP 1.0 made it optional: the destination names it.
		if c.ver() >= V11 {
			return c.fail(f, "missing header", bridge.CloseProtocolError, fmt.Errorf("SUBSCRIBE to %q without an id header", short(d)))
		}
		id = d
	}
	if !utf8.ValidString(id) {
		return c.fail(f, "invalid subscription id", bridge.CloseProtocolError, fmt.Errorf("subscription id is not UTF-8"))
	}
	mode, ok := parseAckMode(f.Value("ack"), c.ver())
	if !ok {
		return c.fail(f, "invalid ack mode", bridge.CloseProtocolError,
			fmt.Errorf("ack %q: use auto, client or client-individual", short(f.Value("ack"))))
	}
	dst, err := parseDestination(d, true)
	if err != nil {
		return c.failErr(f, err)
	}
	c.mu.Lock()
	_, dup := c.subs[id]
	c.mu.Unlock()
	if dup {
		return c.fail(f, "duplicate subscription id", bridge.CloseProtocolError, fmt.Errorf("subscription id %q is in use", short(id)))
	}
	sub := &subscription{id: id, raw: d, dst: dst, ack: mode}
	switch {
	case dst.kind == destTemp, dst.kind == destUser:
		// Replies and pushes are routed to it locally; nothing on NATS.
	case dst.kind == destQueue && c.p.durable(dst.subject):
		if err := c.s.CheckSubscribe(dst.subject); err != nil {
			return c.failErr(f, err)
		}
		if sub.dq, err = c.consume(sub); err != nil {
			return c.fail(f, "durable queue unavailable", bridge.CloseInternal, err)
		}
	default:
		queue := ""
		if dst.kind == destQueue {
			queue = dst.subject
		}
		withAck := mode != ackAuto && c.ver() >= V12
		v := c.ver()
		sub.key = headKey{sub.id, sub.dst.kind, v, withAck}
		sub.sub, err = c.s.Subscribe(dst.subject, queue, func(d *bridge.Delivery) {
			c.deliver(sub, d, v, withAck)
		})
		if err != nil {
			return c.failErr(f, err)
		}
		if _, ok := f.Get("receipt"); ok {
			// The RECEIPT promises NATS has the subscription.
			_ = c.s.FlushSubscriptions(context.Background())
		}
	}
	c.mu.Lock()
	c.subs[id] = sub
	c.mu.Unlock()
	return nil
}

// unsubscribe handles UNSUBSCRIBE.
func (c *conn) unsubscribe(f *Frame) error {
	id, ok := f.Get("id")
	if (!ok || id == "") && c.ver() == V10 {
		id, ok = f.Get("destination")
	}
	if !ok || id == "" {
		return c.fail(f, "missing header", bridge.CloseProtocolError, fmt.Errorf("UNSUBSCRIBE without an id header"))
	}
	c.mu.Lock()
	sub := c.subs[id]
	delete(c.subs, id)
	c.mu.Unlock()
	if sub == nil {
		return c.fail(f, "unknown subscription", bridge.CloseProtocolError, fmt.Errorf("no subscription %q", short(id)))
	}
	sub.stop()
	return nil
}

// ack handles ACK and NACK. The id header (1.2) or message-id (1.0, 1.1)
// names the message [STOMP-1.2 "ACK"]. On a durable queue it acknowledges
// or refuses the JetStream delivery; elsewhere NATS has nothing to
// acknowledge and the frame only needs to be well formed.
func (c *conn) ack(f *Frame, applying bool) error {
	name := "id"
	if c.ver() < V12 {
		name = "message-id"
	}
	id, err := c.require(f, name)
	if err != nil {
		return err
	}
	if f.Command == CmdNack && c.ver() == V10 {
		return c.fail(f, "not a client frame", bridge.CloseProtocolError, fmt.Errorf("NACK is not STOMP 1.0"))
	}
	if tx, ok := f.Get("transaction"); ok && !applying {
		return c.hold(f, tx)
	}
	c.settle(id, f.Command == CmdNack)
	return nil
}

// deliver sends a NATS message to a subscription. The part of the MESSAGE
// frame that is the same for every subscription (message-id, ack, headers,
// body) is encoded once per message and version; only the subscription and
// destination lines are written per subscription.
func (c *conn) deliver(sub *subscription, d *bridge.Delivery, v Version, withAck bool) {
	// Subscribers that share a subscription id (STOMP.js numbers them
	// sub-0, sub-1, ... in every client) share the whole frame too.
	f, ok := d.Cached(sub.key)
	if !ok {
		tk := tailKeys[v][b2i(withAck)]
		tail, cached := d.Cached(tk)
		if !cached {
			tail = bridge.DataFrame(c.p.messageTail(d.Msg, v, withAck, ""))
			d.Keep(tk, tail)
		}
		f = messageFrame(sub.id, sub.dst.name(d.Msg.Subject), v, tail)
		d.Keep(sub.key, f)
	}
	_ = d.Send(c.s, f)
}

// tailKeys are the boxed Delivery keys of the shared part of a MESSAGE, by
// version and ack flag, made once so a delivery does not allocate one.
var tailKeys = func() (k [V12 + 1][2]any) {
	for v := range k {
		k[v][0] = tailKey{Version(v), false}
		k[v][1] = tailKey{Version(v), true}
	}
	return k
}()

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// headKey names a whole MESSAGE frame in Delivery.Frame: everything in it
// but the message comes from these.
type headKey struct {
	subID string
	kind  destKind
	v     Version
	ack   bool
}

// tailKey names the shared encoding of a MESSAGE in Delivery.Frame.
type tailKey struct {
	v   Version
	ack bool
}

// messageFrame joins the per-subscription head of a MESSAGE frame to its
// shared tail.
func messageFrame(subID, dest string, v Version, tail *bridge.Frame) *bridge.Frame {
	var head [256]byte
	h := append(head[:0], CmdMessage...)
	h = append(h, '\n')
	h = appendHeader(h, "subscription", subID, v, v >= V11)
	h = appendHeader(h, "destination", dest, v, v >= V11)
	t := tail.Payload()
	f, p := bridge.NewFrame(tail.IsText() && utf8.Valid(h), len(h)+len(t))
	copy(p[copy(p, h):], t)
	return f
}
