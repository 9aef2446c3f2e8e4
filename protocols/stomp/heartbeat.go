package stomp

import (
	"time"

	"github.com/wsgate/wsgate/bridge"
)

// eolFrame is a server heart-beat: one EOL [STOMP-1.2 "Heart-beating"].
// One frame serves every connection.
var eolFrame = bridge.TextFrame([]byte{'\n'})

// heartbeats keeps STOMP heart-beats: one walker per protocol goes over
// the connections that agreed on any, sends an EOL to those the gateway has
// not written to for their interval, and closes those the client has been
// silent on for twice theirs. No timer per connection, and nothing running
// on an idle gateway.
type heartbeats struct{ bridge.Walker[*conn] }

// init sets the walk's period from the shortest interval the gateway
// agrees to: a fraction of it, within [50ms, 1s].
func (h *heartbeats) init(cfg Config) {
	shortest := time.Duration(0)
	for _, d := range []time.Duration{cfg.HeartbeatSend, cfg.HeartbeatReceive} {
		if d > 0 && (shortest == 0 || d < shortest) {
			shortest = d
		}
	}
	h.Tick = min(max(shortest/4, 50*time.Millisecond), time.Second)
	h.Beat = (*conn).beat
}

// beat sends a heart-beat if one is due and closes a silent client: "If the
// receiver does not receive any new data within the expected time frame,
// [...] it MAY consider the connection as dead" [STOMP-1.2
// "Heart-beating"]. The expected time frame here is twice the interval.
func (c *conn) beat(now int64) {
	if c.recvEvery > 0 && now-c.lastRecv.Load() > int64(2*c.recvEvery) {
		c.p.hb.Remove(c)
		c.s.Metrics().ProtocolError(Name, "heartbeat_timeout")
		c.s.Close(bridge.ClosePolicy, "heart-beat timeout: nothing from the client for "+(2*c.recvEvery).String())
		return
	}
	if c.sendEvery > 0 && now-c.s.LastWrite().UnixNano() >= int64(c.sendEvery) {
		_ = c.sendFrame(eolFrame)
	}
}
