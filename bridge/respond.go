package bridge

import (
	"context"
	"errors"
	"fmt"
	"maps"

	"github.com/nats-io/nats.go"

	"github.com/wsgate/wsgate/subjects"
)

// ErrNoReply is returned by Respond for a message that was not a request.
var ErrNoReply = errors.New("bridge: message has no reply subject")

// Respond publishes data to m.Reply, the answer to a NATS request that
// reached this connection through one of its subscriptions (a WAMP
// callee's YIELD), with the connection's headers plus hdr (which may be
// nil). No permission is checked: the reply subject came from NATS, not
// from the client, and clients may not publish to _INBOX.… themselves.
func (s *Session) Respond(m *Message, hdr Header, data []byte) error {
	if m.Reply == "" {
		return ErrNoReply
	}
	if err := subjects.ValidateSubject(m.Reply); err != nil {
		return err
	}
	h := s.Headers(EventMessage, "")
	maps.Copy(h, hdr)
	if err := s.gw.nc.PublishMsg(&nats.Msg{Subject: m.Reply, Header: nats.Header(h), Data: data}); err != nil {
		return fmt.Errorf("respond: %w", err)
	}
	return nil
}

// Replies is a request that may get several replies (a worker streaming
// progressive results by replying more than once to one reply subject).
// Unlike Request, whose reply subject takes one answer, it has an inbox
// subscription of its own until Stop.
type Replies struct {
	sub     *nats.Subscription
	subject string
}

// RequestReplies publishes data to subject, after checking permissions,
// with a reply subject whose replies Next returns one by one.
func (s *Session) RequestReplies(subject, route string, hdr Header, data []byte) (*Replies, error) {
	if err := s.CheckPublish(subject); err != nil {
		return nil, err
	}
	inbox := s.gw.nc.NewInbox()
	sub, err := s.gw.nc.SubscribeSync(inbox)
	if err != nil {
		return nil, fmt.Errorf("request %q: %w", subject, err)
	}
	h := s.Headers(EventMessage, route)
	maps.Copy(h, hdr)
	if err := s.gw.nc.PublishMsg(&nats.Msg{Subject: subject, Reply: inbox, Header: nats.Header(h), Data: data}); err != nil {
		_ = sub.Unsubscribe()
		return nil, fmt.Errorf("request %q: %w", subject, err)
	}
	return &Replies{sub: sub, subject: subject}, nil
}

// Next waits for the next reply. It returns ErrNoResponders when nobody
// subscribes to the subject, ErrTimeout when ctx's deadline passes, and
// ctx's error when it is canceled.
func (r *Replies) Next(ctx context.Context) (*Message, error) {
	m, err := r.sub.NextMsgWithContext(ctx)
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		return nil, fmt.Errorf("%w on %q", ErrNoResponders, r.subject)
	case errors.Is(err, context.DeadlineExceeded):
		return nil, fmt.Errorf("%w on %q", ErrTimeout, r.subject)
	case err != nil && ctx.Err() != nil:
		return nil, ctx.Err()
	case err != nil:
		return nil, fmt.Errorf("request %q: %w", r.subject, err)
	}
	return &Message{Subject: m.Subject, Reply: m.Reply, Header: Header(m.Header), Data: m.Data}, nil
}

// Stop ends the request: later replies are dropped.
func (r *Replies) Stop() { _ = r.sub.Unsubscribe() }
