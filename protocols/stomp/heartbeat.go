package stomp

import (
	"sync"
	"time"

	"github.com/wsgate/wsgate/bridge"
)

// eolFrame is a server heart-beat: one EOL [STOMP-1.2 "Heart-beating"].
// One frame serves every connection.
var eolFrame = bridge.TextFrame([]byte{'\n'})

// heartbeats is the one goroutine per protocol that keeps STOMP
// heart-beats: it walks the connections that agreed on any, sends an EOL to
// those the gateway has not written to for their interval, and closes those
// the client has been silent on for twice theirs. It runs only while some
// connection needs it, so there is no timer per connection and nothing
// running on an idle gateway.
type heartbeats struct {
	tick time.Duration

	mu      sync.Mutex
	conns   map[*conn]struct{}
	running bool
}

// init sets the walk's period from the shortest interval the gateway
// agrees to: a fraction of it, within [50ms, 1s].
func (h *heartbeats) init(cfg Config) {
	shortest := time.Duration(0)
	for _, d := range []time.Duration{cfg.HeartbeatSend, cfg.HeartbeatReceive} {
		if d > 0 && (shortest == 0 || d < shortest) {
			shortest = d
		}
	}
	h.tick = min(max(shortest/4, 50*time.Millisecond), time.Second)
}

// add starts walking c, and the walker if it is not running.
func (h *heartbeats) add(c *conn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.conns == nil {
		h.conns = map[*conn]struct{}{}
	}
	h.conns[c] = struct{}{}
	if !h.running {
		h.running = true
		go h.run()
	}
}

// remove stops walking c.
func (h *heartbeats) remove(c *conn) {
	h.mu.Lock()
	delete(h.conns, c)
	h.mu.Unlock()
}

func (h *heartbeats) run() {
	t := time.NewTicker(h.tick)
	defer t.Stop()
	var batch []*conn
	for now := range t.C {
		h.mu.Lock()
		if len(h.conns) == 0 {
			h.running = false
			h.mu.Unlock()
			return
		}
		batch = batch[:0]
		for c := range h.conns {
			batch = append(batch, c)
		}
		h.mu.Unlock()
		n := now.UnixNano()
		for _, c := range batch {
			c.beat(n)
		}
		clear(batch)
	}
}

// beat sends a heart-beat if one is due and closes a silent client: "If the
// receiver does not receive any new data within the expected time frame,
// [...] it MAY consider the connection as dead" [STOMP-1.2
// "Heart-beating"]. The expected time frame here is twice the interval.
func (c *conn) beat(now int64) {
	if c.recvEvery > 0 && now-c.lastRecv.Load() > int64(2*c.recvEvery) {
		c.p.hb.remove(c)
		c.s.Metrics().ProtocolError(Name, "heartbeat_timeout")
		c.s.Close(bridge.ClosePolicy, "heart-beat timeout: nothing from the client for "+(2*c.recvEvery).String())
		return
	}
	if c.sendEvery > 0 && now-c.s.LastWrite().UnixNano() >= int64(c.sendEvery) {
		_ = c.sendFrame(eolFrame)
	}
}
