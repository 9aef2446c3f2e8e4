package socketio

import (
	"time"

	"github.com/wsgate/wsgate/bridge"
)

// pingPacket is the server's Engine.IO ping; one frame serves every
// connection.
var pingPacket = bridge.TextFrame([]byte{eioPing})

// heartbeats keeps Engine.IO heartbeats: "the server sends a ping packet
// every pingInterval ms, and the client has pingTimeout ms to send a pong
// back" [Engine.IO v4 "Heartbeat"]. One walker per protocol pings the
// connections due and closes those whose pong is late: no timer per
// connection, and nothing running on an idle gateway.
type heartbeats struct {
	interval, timeout time.Duration
	bridge.Walker[*conn]
}

// init sets the walk's period: a fraction of the shorter of the two
// settings, within [10ms, 1s].
func (h *heartbeats) init(cfg Config) {
	h.interval, h.timeout = cfg.PingInterval, cfg.PingTimeout
	h.Tick = min(max(min(h.interval, h.timeout)/4, 10*time.Millisecond), time.Second)
	h.Beat = func(c *conn, now int64) { c.beat(h, now) }
}

// beat pings c when its interval has passed and closes it when its pong
// is late.
func (c *conn) beat(h *heartbeats, now int64) {
	since := time.Duration(now - c.pingAt.Load())
	if c.waiting.Load() {
		if since > h.timeout {
			h.Remove(c)
			c.s.Metrics().ProtocolError(Name, "ping_timeout")
			c.quiet.Store(true)
			c.closing()
			c.s.Close(bridge.ClosePolicy, "ping timeout: no pong for "+h.timeout.String())
		}
		return
	}
	if since >= h.interval {
		c.pingAt.Store(now)
		c.waiting.Store(true)
		_ = c.s.Send(pingPacket)
	}
}
