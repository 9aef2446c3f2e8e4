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
	m, err := o.g.askConnection(ctx, id, verb, hdr, data)
	if err != nil {
		return nil, err
	}
	return &Message{Subject: m.Subject, Header: Header(m.Header), Data: m.Data}, nil
}

// askConnection requests verb of whichever gateway holds the connection id
// (a valid one), until ctx ends: ErrNotHere when no gateway does or the
// connection has just ended.
func (g *Gateway) askConnection(ctx context.Context, id, verb string, hdr Header, data []byte) (*nats.Msg, error) {
	m, err := g.nc.RequestMsgWithContext(ctx, &nats.Msg{Subject: g.controlSubject(id, verb), Header: nats.Header(hdr), Data: data})
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		return nil, ErrNotHere
	case err != nil:
		return nil, fmt.Errorf("%s to connection %s: %w", verb, id, err)
	case bytes.Equal(m.Data, goneReply):
		return nil, ErrNotHere
	}
	return m, nil
}

// controlSubject is the subject of verb on connection id's control
// subscription (control.go).
func (g *Gateway) controlSubject(id, verb string) string {
	return g.cfg.ReservedPrefix + ".conn." + id + "." + verb
}

// Notify is Relay without an answer: verb is published to the connection's
// control subject, wherever it lives, and not waited for.
func (o *Opener) Notify(id, verb string, hdr Header, data []byte) error {
	if !validConnID(id) {
		return ErrNotHere
	}
	m := &nats.Msg{Subject: o.g.controlSubject(id, verb), Header: nats.Header(hdr), Data: data}
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
