package bridge

import (
	"context"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/wsgate/wsgate/auth"
)

// natsRequester is how the NATS authorizer asks its workers.
type natsRequester struct{ nc *nats.Conn }

// NATSRequester adapts a NATS connection to auth.Requester. Within a
// traced upgrade (ctx carries its span) each request is a client span of
// its own, and the authorizer's worker gets its traceparent.
func NATSRequester(nc *nats.Conn) auth.Requester { return natsRequester{nc} }

func (r natsRequester) Request(ctx context.Context, subject string, data []byte, timeout time.Duration) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	m := &nats.Msg{Subject: subject, Data: data}
	sp := startNATSCall(ctx, subject, m)
	reply, err := r.nc.RequestMsgWithContext(ctx, m)
	endSend(sp, err)
	if err != nil {
		return nil, err
	}
	return reply.Data, nil
}
