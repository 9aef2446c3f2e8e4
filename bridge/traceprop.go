package bridge

import (
	"context"
	"strings"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Trace context propagation (W3C Trace Context,
// https://www.w3.org/TR/trace-context/): where the gateway reads a client's
// trace context, and how it writes its own into NATS and HTTP headers.

// Names of the W3C trace context in NATS headers, JSON client messages,
// STOMP headers and MQTT 5 user properties. NATS headers are written in
// lower case, as the W3C names them; reading ignores case.
const (
	HeaderTraceparent = "traceparent"
	HeaderTracestate  = "tracestate"
)

// Bounds on a client's trace context, checked before it is parsed: a
// version-00 traceparent is 55 bytes (later versions may append fields),
// and the W3C asks that a tracestate of 512 bytes be kept. A longer one
// is ignored (traceparent) or dropped (tracestate), never an error.
const (
	maxTraceparent = 256
	maxTracestate  = 512
)

// w3c is the one propagator the gateway speaks.
var w3c propagation.TraceContext

// pairCarrier is a propagation.TextMapCarrier over a client's two values.
type pairCarrier struct{ parent, state string }

func (c *pairCarrier) Get(k string) string {
	switch k {
	case HeaderTraceparent:
		return c.parent
	case HeaderTracestate:
		return c.state
	}
	return ""
}

func (c *pairCarrier) Set(string, string) {}
func (c *pairCarrier) Keys() []string     { return []string{HeaderTraceparent, HeaderTracestate} }

// RemoteSpanContext is the span context a client's traceparent and
// tracestate name. It is invalid (IsValid false) when traceparent is
// missing, longer than 256 bytes or malformed (W3C Trace Context, section
// 3.2: the vendor then starts a new trace); a tracestate that is too long
// or malformed is dropped alone (section 3.3.1.1). Bad values are never an
// error: a client's trace context is a hint.
func RemoteSpanContext(traceparent, tracestate string) trace.SpanContext {
	if traceparent == "" || len(traceparent) > maxTraceparent {
		return trace.SpanContext{}
	}
	if len(tracestate) > maxTracestate {
		tracestate = ""
	}
	ctx := w3c.Extract(context.Background(), &pairCarrier{traceparent, tracestate})
	return trace.SpanContextFromContext(ctx)
}

// headerCarrier is a propagation.TextMapCarrier over a NATS header, writing
// lower-case names.
type headerCarrier Header

func (h headerCarrier) Get(k string) string { return Header(h).Get(k) }
func (h headerCarrier) Set(k, v string)     { h[k] = []string{v} }
func (h headerCarrier) Keys() []string {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	return keys
}

// clientTrace returns the trace context a protocol put in hdr as its client
// sent it (a STOMP header, an MQTT 5 user property), whatever the case of
// the names, and whether hdr has either name at all.
func clientTrace(hdr Header) (parent, state string, present bool) {
	for k, v := range hdr {
		if len(k) != len(HeaderTraceparent) && len(k) != len(HeaderTracestate) || len(v) == 0 {
			continue
		}
		switch {
		case strings.EqualFold(k, HeaderTraceparent):
			parent, present = v[0], true
		case strings.EqualFold(k, HeaderTracestate):
			state, present = v[0], true
		}
	}
	return parent, state, present
}

// withTrace returns a copy of hdr without any client trace context, and
// with sc's when it is valid. hdr itself is never changed: protocols may
// share it.
func withTrace(hdr Header, sc trace.SpanContext) Header {
	h := make(Header, len(hdr)+2)
	for k, v := range hdr {
		if !strings.EqualFold(k, HeaderTraceparent) && !strings.EqualFold(k, HeaderTracestate) {
			h[k] = v
		}
	}
	if sc.IsValid() {
		w3c.Inject(trace.ContextWithSpanContext(context.Background(), sc), headerCarrier(h))
	}
	return h
}
