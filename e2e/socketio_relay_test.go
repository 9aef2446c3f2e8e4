package e2e

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// roundRobin is a balancer without sticky sessions: each HTTP request (a
// WebSocket upgrade too) goes to the next gateway in turn. It counts the
// polling requests of established sessions (with a sid) each gateway got.
type roundRobin struct {
	targets []*url.URL
	next    atomic.Uint64
	mu      sync.Mutex
	polls   map[string]int // gateway host: requests with a sid
}

func (rr *roundRobin) proxy() http.Handler {
	return &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		u := rr.targets[rr.next.Add(1)%uint64(len(rr.targets))]
		pr.SetURL(u)
		pr.Out.Host = u.Host
		q := pr.In.URL.Query()
		if q.Get("sid") != "" && q.Get("transport") == "polling" {
			rr.mu.Lock()
			rr.polls[u.Host]++
			rr.mu.Unlock()
		}
	}}
}

// TestSocketIORelay runs e2e/js/socketio.test.mjs (socket.io-client 4.8)
// through a round-robin balancer in front of two gateway processes on one
// NATS: a polling session's requests reach both gateways, and the one that
// does not hold the session relays them to the one that does. With the
// default transports the upgrade reaches the session's gateway or is
// refused, and the client polls on; either way every test passes.
func TestSocketIORelay(t *testing.T) {
	long(t)
	node, dir := nodeModules(t, "js", "socket.io-client")
	key, jsonKey := newSecret(t), newSecret(t)
	a := startGateway(t, gwOpts{Config: sioConfig(key, jsonKey)})
	b := startGateway(t, gwOpts{Config: sioConfig(key, jsonKey), NATSURL: a.NATSURL})
	sioWorkers(t, natsConn(t, a.NATSURL))
	sioJSONPeer(t, b, jsonKey)
	rr := &roundRobin{polls: map[string]int{}}
	for _, g := range []*gateway{a, b} {
		u, _ := url.Parse(g.HTTP(""))
		rr.targets = append(rr.targets, u)
	}
	lb := httptest.NewServer(rr.proxy())
	t.Cleanup(lb.Close)
	for _, transports := range []string{"polling", "polling,websocket"} {
		t.Run(strings.ReplaceAll(transports, ",", "+"), func(t *testing.T) {
			runSocketIOTest(t, node, dir, lb.URL, key, transports, "SIO_UPGRADE_OPTIONAL=1")
		})
	}
	rr.mu.Lock()
	defer rr.mu.Unlock()
	for _, g := range []*gateway{a, b} {
		if rr.polls[g.Addr] == 0 {
			t.Errorf("gateway %s got no polling request of an established session: %v", g.Addr, rr.polls)
		}
	}
	t.Logf("polling requests with a sid, by gateway: %v", rr.polls)
}
