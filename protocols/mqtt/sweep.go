package mqtt

import "time"

// The keep-alive sweep: one goroutine per Protocol, running only while it
// has connections, closes every connection past its deadline (no CONNECT
// within ConnectTimeout, or no packet within 1.5 times the keep-alive
// [MQTT-3.1.2-24]). No connection owns a timer.

func (p *Protocol) track(c *conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.conns[c] = struct{}{}
	if !p.sweeping {
		p.sweeping = true
		go p.sweep()
	}
}

func (p *Protocol) untrack(c *conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.conns, c)
	if c.clientKey != "" && p.clients[c.clientKey] == c {
		delete(p.clients, c.clientKey)
	}
}

// sweep runs until the protocol has no connections.
func (p *Protocol) sweep() {
	t := time.NewTicker(p.tick)
	defer t.Stop()
	var expired []*conn
	for now := range t.C {
		expired = expired[:0]
		n := now.UnixNano()
		p.mu.Lock()
		if len(p.conns) == 0 {
			p.sweeping = false
			p.mu.Unlock()
			return
		}
		for c := range p.conns {
			if d := c.deadline.Load(); d != 0 && n > d {
				expired = append(expired, c)
			}
		}
		p.mu.Unlock()
		for _, c := range expired {
			c.expire()
		}
	}
}

// takeover registers c under its client id and returns the connection it
// replaces, if any [MQTT-3.1.4-3].
func (p *Protocol) takeover(c *conn) *conn {
	p.mu.Lock()
	defer p.mu.Unlock()
	old := p.clients[c.clientKey]
	p.clients[c.clientKey] = c
	if old == c {
		return nil
	}
	return old
}
