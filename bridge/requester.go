package bridge

import (
	"context"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/wsgate/wsgate/auth"
)

// natsRequester is how the NATS authorizer asks its workers.
type natsRequester struct{ nc *nats.Conn }

// NATSRequester adapts a NATS connection to auth.Requester.
func NATSRequester(nc *nats.Conn) auth.Requester { return natsRequester{nc} }

func (r natsRequester) Request(ctx context.Context, subject string, data []byte, timeout time.Duration) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	m, err := r.nc.RequestWithContext(ctx, subject, data)
	if err != nil {
		return nil, err
	}
	return m.Data, nil
}
