package bridge

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
)

// ErrNotHere is Relay's error for a connection that no gateway of the
// deployment holds (or that has just ended).
var ErrNotHere = errors.New("bridge: no gateway holds the connection")

// Relay sends a request to the connection id wherever in the deployment it
// lives: verb (one of its protocol's Controller verbs) on the connection's
// control subject, with hdr and data, and waits for the answer until ctx
// ends. It is how a protocol whose sessions span many HTTP requests (the
// Engine.IO long-polling transport) serves a request that reached another
// gateway than the session's. id comes from the client: an invalid one is
// ErrNotHere as an unknown one is.
func (o *Opener) Relay(ctx context.Context, id, verb string, hdr Header, data []byte) (*Message, error) {
	if !validConnID(id) {
		return nil, ErrNotHere
	}
	req := &nats.Msg{Subject: o.g.cfg.ReservedPrefix + ".conn." + id + "." + verb, Header: nats.Header(hdr), Data: data}
	m, err := o.g.nc.RequestMsgWithContext(ctx, req)
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		return nil, ErrNotHere
	case err != nil:
		return nil, fmt.Errorf("relay %s to connection %s: %w", verb, id, err)
	case bytes.Equal(m.Data, goneReply):
		return nil, ErrNotHere
	}
	return &Message{Subject: m.Subject, Header: Header(m.Header), Data: m.Data}, nil
}

// Notify is Relay without an answer: verb is published to the connection's
// control subject, wherever it lives, and not waited for.
func (o *Opener) Notify(id, verb string, hdr Header, data []byte) error {
	if !validConnID(id) {
		return ErrNotHere
	}
	m := &nats.Msg{Subject: o.g.cfg.ReservedPrefix + ".conn." + id + "." + verb, Header: nats.Header(hdr), Data: data}
	if err := o.g.nc.PublishMsg(m); err != nil {
		return fmt.Errorf("notify %s to connection %s: %w", verb, id, err)
	}
	return nil
}

// MaxRelay is the largest request or answer Relay carries: the NATS
// deployment's max payload, less room for the headers.
func (o *Opener) MaxRelay() int { return maxRelay(o.g) }

func maxRelay(g *Gateway) int { return int(g.nc.MaxPayload()) - 4<<10 }

// MaxRelay is Opener.MaxRelay, for the session's side of a relay.
func (s *Session) MaxRelay() int { return maxRelay(s.gw) }
