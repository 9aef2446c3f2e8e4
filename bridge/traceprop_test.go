package bridge

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"go.opentelemetry.io/otel/trace"
)

const (
	tpTrace  = "4bf92f3577b34da6a3ce929d0e0e4736"
	tpParent = "00f067aa0ba902b7"
	tpValid  = "00-" + tpTrace + "-" + tpParent + "-01"
)

// TestRemoteSpanContext: a client's trace context is read when it is
// well formed, and anything else is ignored, never an error.
func TestRemoteSpanContext(t *testing.T) {
	for _, tc := range []struct {
		name, parent, state string
		valid, sampled      bool
		wantState           string
	}{
		{"valid", tpValid, "", true, true, ""},
		{"valid with tracestate", tpValid, "vendor=abc,other=1", true, true, "vendor=abc,other=1"},
		{"not sampled", "00-" + tpTrace + "-" + tpParent + "-00", "", true, false, ""},
		{"malformed tracestate dropped alone", tpValid, "=no key,\x00", true, true, ""},
		{"long tracestate dropped alone", tpValid, "k=" + strings.Repeat("v", 600), true, true, ""},
		{"future version with more fields", "cc-" + tpTrace + "-" + tpParent + "-01-what-comes-next", "", true, true, ""},
		{"empty", "", "vendor=abc", false, false, ""},
		{"garbage", "hello", "", false, false, ""},
		{"upper-case hex", "00-" + strings.ToUpper(tpTrace) + "-" + tpParent + "-01", "", false, false, ""},
		{"short trace id", "00-" + tpTrace[2:] + "-" + tpParent + "-01", "", false, false, ""},
		{"version 00 with more fields", tpValid + "-extra", "", false, false, ""},
		{"version ff", "ff-" + tpTrace + "-" + tpParent + "-01", "", false, false, ""},
		{"zero trace id", "00-" + strings.Repeat("0", 32) + "-" + tpParent + "-01", "", false, false, ""},
		{"zero span id", "00-" + tpTrace + "-" + strings.Repeat("0", 16) + "-01", "", false, false, ""},
		{"very long", "cc-" + tpTrace + "-" + tpParent + "-01-" + strings.Repeat("a", 300), "", false, false, ""},
		{"not UTF-8", "00-\xff\xfe" + tpTrace[4:] + "-" + tpParent + "-01", "", false, false, ""},
		{"NUL", "00-" + tpTrace + "-" + tpParent + "-01\x00", "", false, false, ""},
		{"spaces", " " + tpValid + " ", "", false, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc := RemoteSpanContext(tc.parent, tc.state)
			if sc.IsValid() != tc.valid || sc.IsSampled() != tc.sampled {
				t.Fatalf("valid %v sampled %v, want %v %v", sc.IsValid(), sc.IsSampled(), tc.valid, tc.sampled)
			}
			if !tc.valid {
				return
			}
			if sc.TraceID().String() != tpTrace || sc.SpanID().String() != tpParent || !sc.IsRemote() {
				t.Errorf("read as %s/%s remote %v", sc.TraceID(), sc.SpanID(), sc.IsRemote())
			}
			if got := sc.TraceState().String(); got != tc.wantState {
				t.Errorf("tracestate %q, want %q", got, tc.wantState)
			}
		})
	}
}

// FuzzRemoteSpanContext: whatever a client sends, reading it never panics,
// and what is read writes back as a version-00 traceparent of its ids.
func FuzzRemoteSpanContext(f *testing.F) {
	for _, s := range []string{tpValid, "", "00-" + tpTrace + "-" + tpParent + "-00", "cc-" + tpTrace + "-" + tpParent + "-01-x", "\xff"} {
		f.Add(s, "vendor=abc")
	}
	f.Fuzz(func(t *testing.T, parent, state string) {
		sc := RemoteSpanContext(parent, state)
		if !sc.IsValid() {
			return
		}
		h := withTrace(nil, sc)
		want := "00-" + sc.TraceID().String() + "-" + sc.SpanID().String() + "-" + sc.TraceFlags().String()
		if got := h.Get(HeaderTraceparent); got != want {
			t.Fatalf("written as %q, want %q", got, want)
		}
	})
}

// TestWithTrace: a protocol's header is copied, never changed; a client's
// trace context under any case of its name is replaced by the gateway's,
// in lower case.
func TestWithTrace(t *testing.T) {
	hdr := Header{"TraceParent": {"junk"}, "TRACESTATE": {"junk"}, "Mqtt-Qos": {"1"}}
	parent, state, present := clientTrace(hdr)
	if parent != "junk" || state != "junk" || !present {
		t.Fatalf("clientTrace = %q %q %v", parent, state, present)
	}
	if _, _, present := clientTrace(Header{"Mqtt-Qos": {"1"}, "trace": {"x"}}); present {
		t.Error("clientTrace found a trace context in a header without one")
	}
	sc := RemoteSpanContext(tpValid, "vendor=abc")
	h := withTrace(hdr, sc)
	if len(hdr) != 3 || hdr.Get("TraceParent") != "junk" {
		t.Errorf("the protocol's header was changed: %v", hdr)
	}
	want := Header{"Mqtt-Qos": {"1"}, HeaderTraceparent: {tpValid}, HeaderTracestate: {"vendor=abc"}}
	if len(h) != len(want) {
		t.Fatalf("header %v, want %v", h, want)
	}
	for k, v := range want {
		if h.Get(k) != v[0] {
			t.Errorf("%s = %q, want %q", k, h.Get(k), v[0])
		}
	}
	if h := withTrace(hdr, trace.SpanContext{}); len(h) != 1 || h.Get("Mqtt-Qos") != "1" {
		t.Errorf("without a span context: %v, want only Mqtt-Qos", h)
	}
}

// otlpSink is an OTLP/HTTP endpoint that counts what it is sent and
// discards it.
func otlpSink(t *testing.T) (url string, posts *atomic.Int64) {
	t.Helper()
	posts = new(atomic.Int64)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		posts.Add(1)
		w.Header().Set("Connection", "close") // no idle connection outlives the test
	}))
	t.Cleanup(srv.Close)
	return srv.URL, posts
}

// TestTracedPublishHeaders runs a gateway with tracing on and off: what a
// worker gets of a client's trace context (a STOMP header, an MQTT 5 user
// property: here the test protocol's tpub), and that stopping the gateway
// flushes its spans.
func TestTracedPublishHeaders(t *testing.T) {
	sink, posts := otlpSink(t)
	one := 1.0
	on := TracingConfig{Enabled: true, Endpoint: sink, Ratio: &one}
	unsampled := "00-" + tpTrace + "-" + tpParent + "-00"
	for _, tc := range []struct {
		name    string
		tracing TracingConfig
		sent    string
		check   func(t *testing.T, got string)
	}{
		{"on/sampled", on, tpValid, func(t *testing.T, got string) {
			sc := RemoteSpanContext(got, "")
			if !sc.IsSampled() || sc.TraceID().String() != tpTrace || sc.SpanID().String() == tpParent {
				t.Errorf("worker got %q, want the client's trace under a span of the gateway's", got)
			}
		}},
		{"on/not sampled", on, unsampled, func(t *testing.T, got string) {
			if got != unsampled {
				t.Errorf("worker got %q, want the client's unsampled %q passed on", got, unsampled)
			}
		}},
		{"on/malformed", on, "00-nonsense", func(t *testing.T, got string) {
			if got != "" {
				t.Errorf("worker got %q, want a malformed traceparent dropped", got)
			}
		}},
		{"off/untouched", TracingConfig{}, "00-nonsense", func(t *testing.T, got string) {
			if got != "00-nonsense" {
				t.Errorf("worker got %q, want the client's header as it was with tracing off", got)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			emb, err := StartEmbedded(EmbeddedConfig{Listen: "-", DataDir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(emb.Shutdown)
			e := newEnvOpts(t, emb, Options{Tracing: tc.tracing})
			w := e.worker()
			sub, err := w.SubscribeSync("orders.new")
			if err != nil {
				t.Fatal(err)
			}
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			c := e.dial("/", nil, nil)
			c.do("tpub orders.new " + tc.sent + " hello")
			m, err := sub.NextMsg(5e9)
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			for k, v := range m.Header {
				if strings.EqualFold(k, HeaderTraceparent) {
					got = v[0]
				}
			}
			tc.check(t, got)
			before := posts.Load()
			if err := e.stop(); err != nil {
				t.Fatal(err)
			}
			// The batch waits 5s by default: only the stop can have sent it.
			if sent := posts.Load() - before; tc.name == "on/sampled" && sent == 0 {
				t.Error("stopping the gateway sent no spans")
			} else if !tc.tracing.Enabled && sent != 0 {
				t.Errorf("tracing off, and %d exports", sent)
			}
		})
	}
}
