package bridge

import (
	"errors"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// On a clustered JetStream a consumer's pulls are served by its leader,
// whose subscription reaches the other servers a moment after the
// consumer is made. A pull sent in that moment finds no responder, and
// nats.go pulls again only once two heartbeats are missed: 30 s, for a
// durable STOMP queue's or an MQTT session's first delivery. So a
// consumption whose pull found no responder is started again at once,
// and again with a growing pause (at most repullMax) while it still
// finds none.

const (
	repullFirst = 20 * time.Millisecond
	repullMax   = 2 * time.Second
)

// start consumes cons with handler, restarting the consumption when a
// pull finds no responder.
func (c *Consumer) start(cons jetstream.Consumer, handler jetstream.MessageHandler) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.quit = make(chan struct{})
	return c.consumeLocked(cons, handler)
}

// end marks the consumer stopped or drained; c.mu is held.
func (c *Consumer) end() {
	if !c.done {
		c.done = true
		close(c.quit)
	}
}

// consumeLocked starts a consumption; c.mu is held, so a pull failing
// before Consume returns is restarted only once c.cc is set.
func (c *Consumer) consumeLocked(cons jetstream.Consumer, handler jetstream.MessageHandler) error {
	cc, err := cons.Consume(handler, jetstream.ConsumeErrHandler(func(failed jetstream.ConsumeContext, err error) {
		if errors.Is(err, nats.ErrNoResponders) {
			go c.repull(cons, handler, failed)
		}
	}))
	if err != nil {
		return err
	}
	c.cc = cc
	return nil
}

// repull replaces the consumption failed, unless it has been replaced,
// stopped or drained meanwhile.
func (c *Consumer) repull(cons jetstream.Consumer, handler jetstream.MessageHandler, failed jetstream.ConsumeContext) {
	c.mu.Lock()
	wait := min(repullFirst<<min(c.repulls, 10), repullMax)
	c.mu.Unlock()
	select {
	case <-time.After(wait):
	case <-c.quit:
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done || c.cc != failed {
		return
	}
	c.repulls++
	failed.Stop()
	if err := c.consumeLocked(cons, handler); err != nil {
		c.js.log.Warn("jetstream consumer not restarted after a pull found no responder", "consumer", c.name, "stream", c.stream, "err", err)
	}
}
