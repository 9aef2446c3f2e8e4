package bridge

import (
	"context"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"
)

// TestTracerWithoutCollector: a collector that is not there does not stop
// a tracer from starting, and its shutdown is bounded by its context,
// for either exporter.
func TestTracerWithoutCollector(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String() // nobody listens once it is closed
	ln.Close()
	// The exporters retry a failed export until their timeout (10s by
	// default), beyond a shutdown's context: keep it short, so that no
	// goroutine outlives the test.
	t.Setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "300")
	for _, exp := range []string{"", ExporterOTLPHTTP, ExporterOTLPGRPC} {
		t.Run(exp, func(t *testing.T) {
			tr, err := newTracer(TracingConfig{Enabled: true, Exporter: exp, Endpoint: dead}, "gw1", slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err != nil || tr == nil {
				t.Fatalf("newTracer: %v", err)
			}
			_, sp := tr.t.Start(context.Background(), "test")
			sp.End()
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			start := time.Now()
			_ = tr.shutdown(ctx) // the flush fails: nobody listens
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("shutdown took %s with a 1s context", took)
			}
		})
	}
	if tr, err := newTracer(TracingConfig{}, "gw1", nil); tr != nil || err != nil {
		t.Errorf("tracing off: newTracer = %v, %v; want nil, nil", tr, err)
	}
	bad := 2.0
	if _, err := newTracer(TracingConfig{Enabled: true, Ratio: &bad}, "gw1", nil); err == nil {
		t.Error("a ratio of 2 was accepted")
	}
}
