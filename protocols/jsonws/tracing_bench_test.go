package jsonws

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/wsgate/wsgate/bridge"
	"github.com/wsgate/wsgate/internal/gatewaytest"
)

// BenchmarkRouteTracing is the throughput of a publish route through a
// whole gateway (embedded NATS, a real WebSocket client that pipelines its
// messages and reads every "published" answer) with tracing off, on at
// ratio 0.01 and on at ratio 1. Spans go over OTLP/HTTP to a local
// receiver that discards them. The messages carry no traceparent, so the
// ratio decides which are sampled.
//
//	go test -run XXX -bench RouteTracing -benchmem -count 1 -benchtime 100000x ./protocols/jsonws/
func BenchmarkRouteTracing(b *testing.B) {
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Connection", "close") // no idle connection outlives the benchmark
	}))
	defer collector.Close()
	ratio := func(r float64) *float64 { return &r }
	for _, tc := range []struct {
		name string
		cfg  bridge.TracingConfig
	}{
		{"off", bridge.TracingConfig{}},
		{"ratio=0.01", bridge.TracingConfig{Enabled: true, Endpoint: collector.URL, Ratio: ratio(0.01)}},
		{"ratio=1", bridge.TracingConfig{Enabled: true, Endpoint: collector.URL, Ratio: ratio(1)}},
	} {
		b.Run(tc.name, func(b *testing.B) { benchTracedRoute(b, tc.cfg) })
	}
}

func benchTracedRoute(b *testing.B, tc bridge.TracingConfig) {
	p, err := New(benchTemplateCfg)
	if err != nil {
		b.Fatal(err)
	}
	gw := gatewaytest.Start(b, gatewaytest.NATS(b), bridge.Options{
		Config:    bridge.Config{GhostTimeout: -1},
		Protocols: []bridge.Protocol{p},
		Tracing:   tc,
	})
	ws, _, err := websocket.DefaultDialer.Dial(gw.URL("/"), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer ws.Close()
	msg := []byte(benchTemplate)
	written := make(chan error, 1)
	b.ReportAllocs()
	b.ResetTimer()
	go func() {
		for range b.N {
			if err := ws.WriteMessage(websocket.TextMessage, msg); err != nil {
				written <- err
				return
			}
		}
		written <- nil
	}()
	for i := range b.N {
		_, ans, err := ws.ReadMessage()
		if err != nil {
			b.Fatalf("answer %d: %v", i, err)
		}
		if !strings.Contains(string(ans), `"published"`) {
			b.Fatalf("answer %d: %s", i, ans)
		}
	}
	b.StopTimer()
	if err := <-written; err != nil {
		b.Fatal(fmt.Errorf("write: %w", err))
	}
}
