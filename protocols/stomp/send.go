package stomp

import (
	"errors"
	"fmt"
	"strings"

	"github.com/wsgate/wsgate/bridge"
)

// send handles SEND; applying is set when a COMMIT replays it.
func (c *conn) send(f *Frame, applying bool) error {
	d, err := c.require(f, "destination")
	if err != nil {
		return err
	}
	dst, err := parseDestination(d, false)
	if err != nil {
		return c.failErr(f, err)
	}
	switch dst.kind {
	case destTemp:
		return c.failErr(f, fmt.Errorf("%w %q: a temp-queue only receives replies; name it in reply-to", errDestination, short(d)))
	case destUser:
		return c.failErr(f, fmt.Errorf("%w %q: a /user/ destination only receives pushes", errDestination, short(d)))
	}
	var temp string
	if rt, ok := f.Get("reply-to"); ok {
		if !strings.HasPrefix(rt, prefixTempQueue) {
			return c.failErr(f, fmt.Errorf("%w: reply-to %q: only /temp-queue/<name> is supported", errDestination, short(rt)))
		}
		rd, err := parseDestination(rt, false)
		if err != nil {
			return c.failErr(f, err)
		}
		temp = rd.subject
	}
	// Permissions are checked when the frame arrives, also inside a
	// transaction, so that a COMMIT does not fail half way for them.
	if err := c.s.CheckPublish(dst.subject); err != nil {
		return c.failErr(f, err)
	}
	if tx, ok := f.Get("transaction"); ok && !applying {
		return c.hold(f, tx)
	}
	hdr := toNATS(f)
	switch {
	case temp != "":
		return c.request(f, dst.subject, temp, hdr)
	case dst.kind == destQueue && c.p.durable(dst.subject):
		if err := c.publishDurable(dst.subject, hdr, f.Body); err != nil {
			if bridge.Retryable(err) {
				// JetStream did not answer within request_timeout: the
				// server's fault, not the frame's. The client may send
				// it again (under the same receipt) once it reconnects.
				return c.fail(f, "message not stored, try again", bridge.CloseTryLater, err)
			}
			return c.failErr(f, err)
		}
	default:
		if err := c.s.Publish(dst.subject, "", hdr, f.Body); err != nil {
			return c.failErr(f, err)
		}
	}
	return nil
}

// Errors a reply MESSAGE reports in its error header when a request gets
// no reply.
const (
	replyErrTimeout      = "timeout"
	replyErrNoResponders = "no-responders"
	replyErrFailed       = "failed"
)

// request runs a SEND whose reply-to is /temp-queue/<temp> as a NATS
// request beside the reader. The reply comes back as a MESSAGE on the
// temp-queue; a request that gets none comes back as a MESSAGE with an
// error header (timeout, no-responders, failed) and a message header, and
// an empty body, so that a missing worker does not end the connection.
func (c *conn) request(f *Frame, subject, temp string, hdr bridge.Header) error {
	err := c.s.RequestAsync(c.p.cfg.MaxInflight, subject, "", hdr, f.Body, c.p.cfg.RequestTimeout, func(m *bridge.Message, err error) {
		if err != nil {
			kind := replyErrFailed
			switch bridge.KindOf(err) {
			case bridge.KindTimeout:
				kind = replyErrTimeout
			case bridge.KindNoResponders:
				kind = replyErrNoResponders
			}
			m = &bridge.Message{Header: bridge.Header{"error": {kind}, "message": {err.Error()}}}
		}
		c.reply(temp, m)
	})
	switch {
	case errors.Is(err, bridge.ErrTooManyRequests):
		return c.fail(f, "too many requests", bridge.ClosePolicy,
			fmt.Errorf("more than %d requests waiting for replies", c.p.cfg.MaxInflight))
	case err != nil:
		return c.failErr(f, err)
	}
	return nil
}

// reply delivers a request's reply on /temp-queue/<temp>: with the id of
// the client's subscription to it if there is one, else with the
// destination as subscription.
func (c *conn) reply(temp string, m *bridge.Message) {
	dest := prefixTempQueue + temp
	subID := dest
	c.mu.Lock()
	for id, sub := range c.subs {
		if sub.dst.kind == destTemp && sub.dst.subject == temp {
			subID = id
			break
		}
	}
	c.mu.Unlock()
	v := c.ver()
	tail := c.p.messageTail(m, v, false, "")
	if msg := m.Header.Get("message"); msg != "" && m.Header.Get("error") != "" {
		// message is one of STOMP's own headers, left out of the tail.
		e := appendHeader(nil, "message", msg, v, v >= V11)
		tail = append(e, tail...)
	}
	_ = c.sendFrame(messageFrame(subID, dest, v, bridge.DataFrame(tail)))
}
