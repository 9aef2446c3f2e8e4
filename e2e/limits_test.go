package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// limitsConfig is a dev-mode config (so /metrics is open) with the given
// gateway.limits lines.
func limitsConfig(lines ...string) string {
	return "gateway:\n  limits:\n    " + strings.Join(lines, "\n    ") + "\n"
}

// limitMetric is wsgate_limit_exceeded_total for the JSON protocol and limit.
func limitMetric(t *testing.T, g *gateway, limit string) float64 {
	t.Helper()
	return g.metric(t, "wsgate_limit_exceeded_total", map[string]string{"protocol": "json", "limit": limit})
}

// wantLimitMetric checks wsgate_limit_exceeded_total{limit} is n.
func wantLimitMetric(t *testing.T, g *gateway, limit string, n float64) {
	t.Helper()
	if got := limitMetric(t, g, limit); got != n {
		t.Errorf("wsgate_limit_exceeded_total{limit=%q} = %v, want %v", limit, got, n)
	}
}

// dialsEventually retries a handshake until it is accepted.
func dialsEventually(t *testing.T, url string) {
	t.Helper()
	eventually(t, 10*time.Second, func() error {
		status, body, _ := tryDial(t, nil, url, nil)
		if status != http.StatusSwitchingProtocols {
			return fmt.Errorf("HTTP %d %q", status, body)
		}
		return nil
	})
}

func TestLimitConnectionsPerIP(t *testing.T) {
	g := startGateway(t, gwOpts{Config: limitsConfig("max_connections_per_ip: 2")})
	c1 := dial(t, g.WS("/"), nil)
	dial(t, g.WS("/ws"), nil)
	body := refused(t, g.WS("/"), nil, http.StatusTooManyRequests)
	if !strings.Contains(body, "max_connections_per_ip") {
		t.Errorf("refusal body %q does not name the limit", body)
	}
	wantLimitMetric(t, g, "max_connections_per_ip", 1)

	c1.Conn.Close()
	dialsEventually(t, g.WS("/"))
	// Two open again: the limit holds.
	refused(t, g.WS("/"), nil, http.StatusTooManyRequests)
}

// TestLimitRefusedHoldNoSlot checks that a handshake refused after the
// connection limits were counted (here by authentication) gives its slot
// back.
func TestLimitRefusedHoldNoSlot(t *testing.T) {
	key := newSecret(t)
	g := startGateway(t, gwOpts{Config: limitsConfig("max_connections_per_ip: 1", "max_connections: 1") + `
auth:
  authenticators:
    - type: api_keys
      api_keys:
        keys: [{id: k, hash: "` + keyHash(key) + `"}]
`})
	for range 3 {
		refused(t, g.WS("/"), bearer(newSecret(t)), http.StatusUnauthorized)
	}
	dial(t, g.WS("/"), bearer(key))
	refused(t, g.WS("/"), bearer(key), http.StatusServiceUnavailable)
}

func TestLimitMaxConnections(t *testing.T) {
	g := startGateway(t, gwOpts{Config: limitsConfig("max_connections: 1")})
	c1 := dial(t, g.WS("/"), nil)
	body := refused(t, g.WS("/"), nil, http.StatusServiceUnavailable)
	if !strings.Contains(body, "max_connections") {
		t.Errorf("refusal body %q does not name the limit", body)
	}
	wantLimitMetric(t, g, "max_connections", 1)
	c1.Conn.Close()
	dialsEventually(t, g.WS("/"))
}

func TestLimitConnectRate(t *testing.T) {
	g := startGateway(t, gwOpts{Config: limitsConfig("connect_rate_per_ip: 1", "connect_burst_per_ip: 2")})
	// Closed at once: only the rate may refuse, not a count of open ones.
	for range 2 {
		c := dial(t, g.WS("/"), nil)
		c.Conn.Close()
	}
	body := refused(t, g.WS("/"), nil, http.StatusTooManyRequests)
	if !strings.Contains(body, "connect_rate_per_ip") {
		t.Errorf("refusal body %q does not name the limit", body)
	}
	wantLimitMetric(t, g, "connect_rate_per_ip", 1)
	// One token a second refills the bucket.
	dialsEventually(t, g.WS("/"))
}

func TestLimitMessageRate(t *testing.T) {
	g := startGateway(t, gwOpts{Config: limitsConfig("message_rate: 5", "message_burst: 5")})
	nc := natsConn(t, g.NATSURL)
	subA := workerSub(t, nc, "load.a")
	subB := workerSub(t, nc, "load.b")
	a := dial(t, g.WS("/"), nil)
	b := dial(t, g.WS("/"), nil)

	const n = 30
	for i := range n {
		a.send(fmt.Sprintf(`{"action":"publish","subject":"load.a","data":%d,"id":%d}`, i, i))
	}
	for i := range 5 { // within b's own burst, at the same time
		b.send(fmt.Sprintf(`{"action":"publish","subject":"load.b","data":%d,"id":%d}`, i, i))
	}
	published, limited := 0, 0
	for range n {
		switch f := a.next(); {
		case f.Type == "published":
			published++
		case f.Type == "error" && f.Error == "rate_limited":
			limited++
			if f.ID == nil || !strings.Contains(f.Message, "5 messages per second") {
				t.Errorf("rate_limited frame %+v: want the message's id and the limit", f)
			}
		default:
			t.Fatalf("frame %+v", f)
		}
	}
	t.Logf("%d published, %d rate_limited", published, limited)
	if limited == 0 || published < 5 {
		t.Errorf("%d published, %d rate_limited: want the burst of 5 through and the rest refused", published, limited)
	}
	for range 5 {
		b.expect("published")
	}
	for range 5 {
		nextMsg(t, subB)
	}
	for range published {
		nextMsg(t, subA)
	}
	wantLimitMetric(t, g, "message_rate", float64(limited))

	// The connection stays open: after a pause a message goes through, and
	// it is the next the worker sees (no refused message leaked).
	deadline := time.Now().Add(5 * time.Second)
	for {
		time.Sleep(200 * time.Millisecond)
		a.send(`{"action":"publish","subject":"load.a","data":"later","id":"later"}`)
		f := a.next()
		if f.Type == "published" {
			break
		}
		if f.Error != "rate_limited" || time.Now().After(deadline) {
			t.Fatalf("after a pause: %+v", f)
		}
	}
	if m := nextMsg(t, subA); string(m.Data) != "later" {
		t.Errorf("worker got %q, want the message sent after the pause", m.Data)
	}
}

func TestLimitSubscriptions(t *testing.T) {
	g := startGateway(t, gwOpts{Config: limitsConfig("max_subscriptions: 2")})
	c := dial(t, g.WS("/"), nil)
	c.subscribe("a.1")
	c.subscribe("a.2")
	c.send(`{"action":"subscribe","subject":"a.3","id":3}`)
	if f := wantErr(c, "limit_exceeded"); string(f.ID) != "3" || !strings.Contains(f.Message, "2 subscriptions") {
		t.Errorf("limit_exceeded frame %+v", f)
	}
	wantLimitMetric(t, g, "max_subscriptions", 1)
	c.subscribe("a.1") // the same subscription again is not a new one
	c.send(`{"action":"unsubscribe","subject":"a.1"}`)
	c.expect("unsubscribed")
	c.subscribe("a.3")

	// Another connection has a count of its own.
	d := dial(t, g.WS("/"), nil)
	d.subscribe("a.1")
	d.subscribe("a.2")
}

func TestLimitRouteRate(t *testing.T) {
	g := startGateway(t, gwOpts{Config: `
json:
  routes:
    ping:
      integration: publish
      subject: e2e.ping
      rate: 1
      burst: 1
    pong:
      integration: publish
      subject: e2e.pong
`})
	c := dial(t, g.WS("/"), nil)
	c.send(`{"action":"ping","id":1}`)
	c.expect("published")
	c.send(`{"action":"ping","id":2}`)
	f := wantErr(c, "rate_limited")
	if f.Route != "ping" || string(f.ID) != "2" || !strings.Contains(f.Message, "ping") {
		t.Errorf("rate_limited frame %+v: want it to name the route ping", f)
	}
	// Other routes, and other connections, have their own buckets.
	c.send(`{"action":"pong","id":3}`)
	c.expect("published")
	d := dial(t, g.WS("/"), nil)
	d.send(`{"action":"ping","id":4}`)
	d.expect("published")

	if n := g.metric(t, "wsgate_protocol_errors_total", map[string]string{"protocol": "json", "kind": "rate_limited"}); n != 1 {
		t.Errorf("wsgate_protocol_errors_total{kind=rate_limited} = %v, want 1", n)
	}
	// README (Security, Limits): every limit is counted in
	// wsgate_limit_exceeded_total, a route's rate included.
	wantLimitMetric(t, g, "route_rate", 1)

	// The bucket refills at one a second.
	deadline := time.Now().Add(5 * time.Second)
	for {
		time.Sleep(250 * time.Millisecond)
		c.send(`{"action":"ping","id":5}`)
		f := c.next()
		if f.Type == "published" {
			break
		}
		if f.Error != "rate_limited" || time.Now().After(deadline) {
			t.Fatalf("after a pause: %+v", f)
		}
	}
}
