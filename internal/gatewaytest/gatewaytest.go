// Package gatewaytest runs gateways for the tests of protocol packages: on
// an embedded NATS server, connected as cmd/wsgate connects them (a second,
// NoEcho connection for the hub), behind an httptest server, and stopped
// when the test ends.
package gatewaytest

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/wsgate/wsgate/bridge"
)

// NATS starts an embedded NATS server, without a client listener, for the
// test's gateways and workers.
func NATS(t testing.TB) *bridge.Embedded {
	t.Helper()
	emb, err := bridge.StartEmbedded(bridge.EmbeddedConfig{Listen: "-", DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emb.Shutdown)
	return emb
}

// Gateway is a running gateway and the server in front of it.
type Gateway struct {
	*bridge.Gateway
	Server *httptest.Server
	t      testing.TB
	once   sync.Once
}

// Start runs a gateway with o on emb; its NATS connections and a logger
// that discards are filled in.
func Start(t testing.TB, emb *bridge.Embedded, o bridge.Options) *Gateway {
	t.Helper()
	o.NATS, o.HubNATS = Worker(t, emb), connect(t, emb, nats.NoEcho())
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	gw, err := bridge.New(o)
	if err != nil {
		t.Fatal(err)
	}
	g := &Gateway{Gateway: gw, Server: httptest.NewServer(gw.Handler()), t: t}
	t.Cleanup(g.Stop)
	t.Cleanup(g.Server.Close)
	return g
}

// Stop shuts the gateway down gracefully, once.
func (g *Gateway) Stop() {
	g.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := g.Shutdown(ctx); err != nil {
			g.t.Errorf("shutdown: %v", err)
		}
	})
}

// URL is the ws:// URL of path on the gateway.
func (g *Gateway) URL(path string) string {
	return "ws" + strings.TrimPrefix(g.Server.URL, "http") + path
}

// Worker is a NATS connection as a backend worker has, closed when the
// test ends.
func Worker(t testing.TB, emb *bridge.Embedded) *nats.Conn {
	t.Helper()
	return connect(t, emb)
}

func connect(t testing.TB, emb *bridge.Embedded, opts ...nats.Option) *nats.Conn {
	t.Helper()
	nc, err := emb.Connect(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}
