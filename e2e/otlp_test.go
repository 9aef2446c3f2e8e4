package e2e

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
)

// The OTLP receivers of the tracing tests: what a collector would get of
// the gateway's spans, decoded with the OTLP protobuf definitions
// (go.opentelemetry.io/proto/otlp, a test-only dependency).

// otlpReceiver is an OTLP/HTTP trace receiver (POST /v1/traces, protobuf),
// as a collector runs one: what the gateway exports, decoded.
type otlpReceiver struct {
	URL   string
	posts atomic.Int64
	mu    sync.Mutex
	spans []recordedSpan
}

// recordedSpan is one exported span and its resource's service.name.
type recordedSpan struct {
	service string
	*tracepb.Span
}

func startOTLPReceiver(t *testing.T) *otlpReceiver {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &otlpReceiver{URL: "http://" + ln.Addr().String()}
	srv := &http.Server{Handler: http.HandlerFunc(r.serve), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return r
}

func (r *otlpReceiver) serve(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost || req.URL.Path != "/v1/traces" {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	var body io.Reader = req.Body
	if req.Header.Get("Content-Encoding") == "gzip" {
		gz, err := gzip.NewReader(req.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = gz
	}
	b, err := io.ReadAll(io.LimitReader(body, 32<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var ex collectortrace.ExportTraceServiceRequest
	if err := proto.Unmarshal(b, &ex); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.record(&ex)
	out, _ := proto.Marshal(&collectortrace.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

// record keeps the spans of an export.
func (r *otlpReceiver) record(ex *collectortrace.ExportTraceServiceRequest) {
	r.posts.Add(1)
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rs := range ex.ResourceSpans {
		svc := attrString(rs.GetResource().GetAttributes(), "service.name")
		for _, ss := range rs.ScopeSpans {
			for _, sp := range ss.Spans {
				r.spans = append(r.spans, recordedSpan{svc, sp})
			}
		}
	}
}

// grpcReceiver is the OTLP/gRPC trace service (port 4317's) in front of
// an otlpReceiver's span store.
type grpcReceiver struct {
	collectortrace.UnimplementedTraceServiceServer
	*otlpReceiver
}

func (g grpcReceiver) Export(_ context.Context, ex *collectortrace.ExportTraceServiceRequest) (*collectortrace.ExportTraceServiceResponse, error) {
	g.record(ex)
	return &collectortrace.ExportTraceServiceResponse{}, nil
}

// startGRPCReceiver serves OTLP/gRPC; its URL is http:// (no TLS).
func startGRPCReceiver(t *testing.T) *otlpReceiver {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &otlpReceiver{URL: "http://" + ln.Addr().String()}
	srv := grpc.NewServer()
	collectortrace.RegisterTraceServiceServer(srv, grpcReceiver{otlpReceiver: r})
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	return r
}

// span waits for a span of traceID named name and returns it.
func (r *otlpReceiver) span(t *testing.T, traceID []byte, name string) recordedSpan {
	t.Helper()
	var found recordedSpan
	eventually(t, 10*time.Second, func() error {
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, sp := range r.spans {
			if bytes.Equal(sp.TraceId, traceID) && sp.Name == name {
				found = sp
				return nil
			}
		}
		return fmt.Errorf("no span %q in trace %x among %d spans", name, traceID, len(r.spans))
	})
	return found
}

// byID waits for the span whose id is id.
func (r *otlpReceiver) byID(t *testing.T, id []byte) recordedSpan {
	t.Helper()
	var found recordedSpan
	eventually(t, 10*time.Second, func() error {
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, sp := range r.spans {
			if bytes.Equal(sp.SpanId, id) {
				found = sp
				return nil
			}
		}
		return fmt.Errorf("no span %x among %d spans", id, len(r.spans))
	})
	return found
}

// child waits for a span named name whose parent is parent.
func (r *otlpReceiver) child(t *testing.T, parent recordedSpan, name string) recordedSpan {
	t.Helper()
	sp := r.span(t, parent.TraceId, name)
	if !bytes.Equal(sp.ParentSpanId, parent.SpanId) {
		t.Fatalf("span %q has parent %x, want %q's %x", name, sp.ParentSpanId, parent.Name, parent.SpanId)
	}
	return sp
}

func attrString(kvs []*commonpb.KeyValue, key string) string {
	for _, kv := range kvs {
		if kv.Key == key {
			return kv.GetValue().GetStringValue()
		}
	}
	return ""
}

// wantAttrs checks string attributes of a span.
func wantAttrs(t *testing.T, sp recordedSpan, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got := attrString(sp.Attributes, k); got != v {
			t.Errorf("span %q: %s = %q, want %q", sp.Name, k, got, v)
		}
	}
}

// traceparent is a W3C traceparent of a client: a trace id and a parent
// span id of its own, sampled.
type traceparent struct {
	trace  [16]byte
	parent [8]byte
}

func newTraceparent(n byte) traceparent {
	var tp traceparent
	for i := range tp.trace {
		tp.trace[i] = 0xa0 + n + byte(i)
	}
	for i := range tp.parent {
		tp.parent[i] = 0xb0 + n + byte(i)
	}
	return tp
}

func (tp traceparent) String() string {
	return "00-" + hex.EncodeToString(tp.trace[:]) + "-" + hex.EncodeToString(tp.parent[:]) + "-01"
}

// parseTraceparent splits a version-00 traceparent into its trace id and
// parent span id; ok is false for anything else.
func parseTraceparent(s string) (traceID, parent []byte, ok bool) {
	parts := strings.Split(s, "-")
	if len(parts) != 4 || parts[0] != "00" || len(parts[1]) != 32 || len(parts[2]) != 16 {
		return nil, nil, false
	}
	traceID, err1 := hex.DecodeString(parts[1])
	parent, err2 := hex.DecodeString(parts[2])
	return traceID, parent, err1 == nil && err2 == nil
}
