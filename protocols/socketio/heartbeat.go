package socketio

import (
	"sync"
	"time"

	"github.com/wsgate/wsgate/bridge"
)

// pingPacket is the server's Engine.IO ping; one frame serves every
// connection.
var pingPacket = bridge.TextFrame([]byte{eioPing})

// heartbeats is the one goroutine per protocol that keeps Engine.IO
// heartbeats: "the server sends a ping packet every pingInterval ms, and
// the client has pingTimeout ms to send a pong back" [Engine.IO v4
// "Heartbeat"]. It walks the connections, pings those due and closes those
// whose pong is late. It runs only while some connection exists, so there
// is no timer per connection and nothing running on an idle gateway.
type heartbeats struct {
	interval, timeout time.Duration
	tick              time.Duration

	mu    sync.Mutex
	conns map[*conn]struct{}
	stop  chan struct{} // closed to end the running walker; nil: none runs
}

// init sets the walk's period: a fraction of the shorter of the two
// settings, within [10ms, 1s].
func (h *heartbeats) init(cfg Config) {
	h.interval, h.timeout = cfg.PingInterval, cfg.PingTimeout
	h.tick = min(max(min(h.interval, h.timeout)/4, 10*time.Millisecond), time.Second)
}

// add starts walking c, and the walker if it is not running.
func (h *heartbeats) add(c *conn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.conns == nil {
		h.conns = map[*conn]struct{}{}
	}
	h.conns[c] = struct{}{}
	if h.stop == nil {
		h.stop = make(chan struct{})
		go h.run(h.stop)
	}
}

// remove stops walking c, and the walker with the last connection.
func (h *heartbeats) remove(c *conn) {
	h.mu.Lock()
	delete(h.conns, c)
	if len(h.conns) == 0 && h.stop != nil {
		close(h.stop)
		h.stop = nil
	}
	h.mu.Unlock()
}

func (h *heartbeats) run(stop chan struct{}) {
	t := time.NewTicker(h.tick)
	defer t.Stop()
	var batch []*conn
	for {
		var now time.Time
		select {
		case <-stop:
			return
		case now = <-t.C:
		}
		h.mu.Lock()
		batch = batch[:0]
		for c := range h.conns {
			batch = append(batch, c)
		}
		h.mu.Unlock()
		n := now.UnixNano()
		for _, c := range batch {
			c.beat(h, n)
		}
		clear(batch)
	}
}

// beat pings c when its interval has passed and closes it when its pong
// is late.
func (c *conn) beat(h *heartbeats, now int64) {
	since := time.Duration(now - c.pingAt.Load())
	if c.waiting.Load() {
		if since > h.timeout {
			h.remove(c)
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
