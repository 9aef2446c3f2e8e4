package wamp

import (
	"github.com/wsgate/wsgate/bridge"
)

// errRateLimited answers a request dropped for the connection's message
// rate (gateway.limits.message_rate).
const errRateLimited = "wsgate.error.rate_limited"

var _ bridge.Refuser = (*conn)(nil)

// Refuse implements bridge.Refuser: a request over the message rate is
// answered with ERROR wsgate.error.rate_limited, so that its caller does
// not wait for nothing; other messages (events acknowledged by nobody,
// YIELDs) are dropped. The connection stays open.
func (c *conn) Refuse(_ bool, data []byte, err error) error {
	if c.state.Load() != stateEstablished {
		return c.violation(err) // a handshake cannot be dropped half way
	}
	m, derr := Decode(c.ser, data, c.p.lim)
	if derr != nil {
		return c.violation(derr)
	}
	switch m := m.(type) {
	case *Publish:
		if dictBool(m.Options, "acknowledge") {
			c.replyError(TypePublish, m.Request, errRateLimited, err)
		}
	case *Subscribe:
		c.replyError(TypeSubscribe, m.Request, errRateLimited, err)
	case *Unsubscribe:
		c.replyError(TypeUnsubscribe, m.Request, errRateLimited, err)
	case *Call:
		c.replyError(TypeCall, m.Request, errRateLimited, err)
	case *Register:
		c.replyError(TypeRegister, m.Request, errRateLimited, err)
	case *Unregister:
		c.replyError(TypeUnregister, m.Request, errRateLimited, err)
	case *Goodbye, *Abort:
		// Leaving is never rate limited.
		return c.HandleMessage(false, data)
	}
	return nil
}
