package bridge

import "context"

// FlushSubscriptions waits until NATS has processed every subscription made
// so far, so that a protocol's subscribe acknowledgement (an MQTT SUBACK)
// promises delivery of what is published after it, from any connection.
func (s *Session) FlushSubscriptions(ctx context.Context) error {
	return s.gw.nc.FlushWithContext(ctx)
}
