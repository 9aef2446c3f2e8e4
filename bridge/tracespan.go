package bridge

import (
	"context"
	"net/http"
	"strconv"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Attributes of the gateway's spans. Messaging and HTTP ones follow the
// OpenTelemetry semantic conventions; the rest are the gateway's own.
var (
	attrConnID      = attribute.Key("wsgate.connection_id")
	attrProtocol    = attribute.Key("wsgate.protocol")
	attrRoute       = attribute.Key("wsgate.route")
	attrIntegration = attribute.Key("wsgate.integration")
	attrOutcome     = attribute.Key("wsgate.outcome")
	attrMsgSystem   = attribute.Key("messaging.system").String("nats")
	attrMsgDest     = attribute.Key("messaging.destination.name")
	attrMsgOp       = attribute.Key("messaging.operation.type")
	attrHTTPMethod  = attribute.Key("http.request.method")
	attrHTTPStatus  = attribute.Key("http.response.status_code")
	attrURLTemplate = attribute.Key("url.template")
)

// Span is a span of the gateway's as a protocol adapter holds it (the
// server span of one client message, the client span of an HTTP call). A
// nil *Span, which is what tracing off gives, does nothing, so callers
// need no check of their own.
type Span struct {
	sp trace.Span
}

// Context returns ctx carrying the span, so that what runs within it
// (Session.Request, Session.PublishContext, StartHTTPCall) makes its
// children. With a nil span it returns ctx.
func (sp *Span) Context(ctx context.Context) context.Context {
	if sp == nil {
		return ctx
	}
	return trace.ContextWithSpan(ctx, sp.sp)
}

// SetIntegration records which integration took the message (nats,
// request, http, subscribe...) and the subject or URL it went to.
func (sp *Span) SetIntegration(kind, target string) {
	if sp == nil || !sp.sp.IsRecording() {
		return
	}
	sp.sp.SetAttributes(attrIntegration.String(kind), attrMsgDest.String(target))
}

// SetStatusCode records an HTTP answer's status; 4xx and 5xx mark the
// span as failed (a client span's convention).
func (sp *Span) SetStatusCode(code int) {
	if sp == nil || !sp.sp.IsRecording() {
		return
	}
	sp.sp.SetAttributes(attrHTTPStatus.Int(code))
	if code >= 400 {
		sp.sp.SetStatus(codes.Error, "HTTP "+strconv.Itoa(code))
	}
}

// Fail marks the span as failed with err (nil: nothing).
func (sp *Span) Fail(err error) {
	if sp == nil || err == nil || !sp.sp.IsRecording() {
		return
	}
	sp.sp.SetStatus(codes.Error, err.Error())
}

// End ends the span with outcome, the status of the access log ("ok", or
// an error code): anything but "ok" or "" marks it as failed.
func (sp *Span) End(outcome string) {
	if sp == nil {
		return
	}
	if outcome != "" && sp.sp.IsRecording() {
		sp.sp.SetAttributes(attrOutcome.String(outcome))
		if outcome != "ok" {
			sp.sp.SetStatus(codes.Error, outcome)
		}
	}
	sp.sp.End()
}

// Tracing reports whether the gateway makes spans. Adapters use it to skip
// reading a client's trace context when nobody wants it.
func (s *Session) Tracing() bool { return s.gw.tr != nil }

// StartMessage starts the server span of one client message on route,
// continuing the trace the client's traceparent and tracestate name (see
// RemoteSpanContext: bad values start a new trace). It returns nil when
// tracing is off or a new trace is not sampled (tracing.ratio). A client's
// trace that is not sampled gets no span either, but its trace context is
// passed on as it came. The caller ends the span.
func (s *Session) StartMessage(route, traceparent, tracestate string) *Span {
	t := s.gw.tr
	if t == nil {
		return nil
	}
	ctx, ok := t.parent(context.Background(), traceparent, tracestate)
	if !ok {
		return nil
	}
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() && !sc.IsSampled() {
		return &Span{sp: trace.SpanFromContext(ctx)} // passed on, never recorded
	}
	_, sp := t.t.Start(ctx, "route "+route, trace.WithSpanKind(trace.SpanKindServer))
	if sp.IsRecording() {
		sp.SetAttributes(attrRoute.String(route), attrConnID.String(s.id), attrProtocol.String(s.proto.Name()))
	}
	return &Span{sp: sp}
}

// startSend starts the span of a message a connection sends to NATS (a
// producer span for a publish, a client span for a request) and returns
// hdr with the span's trace context. Its parent is ctx's span, else the
// trace context the protocol copied into hdr from its client (a STOMP
// header, an MQTT 5 user property). A publish within a local span gets
// none of its own: it carries that span's context. With neither there is no span (nil),
// and hdr comes back as it was, less a client trace context that does not
// parse, so workers never see one.
func (t *tracer) startSend(ctx context.Context, kind trace.SpanKind, op, subject, route string, hdr Header) (Header, trace.Span) {
	parent := trace.SpanContextFromContext(ctx)
	if !parent.IsValid() {
		cp, cs, present := clientTrace(hdr)
		if !present {
			return hdr, nil
		}
		if parent = RemoteSpanContext(cp, cs); !parent.IsValid() {
			return withTrace(hdr, parent), nil // a bad one is dropped
		}
		ctx = trace.ContextWithRemoteSpanContext(ctx, parent)
	}
	if !parent.IsSampled() {
		return withTrace(hdr, parent), nil // passed on, never recorded
	}
	if kind == trace.SpanKindProducer && !parent.IsRemote() {
		// A publish within a span of the gateway's own (a route's, an
		// upgrade's) adds nothing a span of its own would say: the
		// subscribers' parent is that span.
		return withTrace(hdr, parent), nil
	}
	_, sp := t.t.Start(ctx, "nats "+op, trace.WithSpanKind(kind))
	if sp.IsRecording() {
		sp.SetAttributes(attrMsgSystem, attrMsgDest.String(subject), attrMsgOp.String(op))
		if route != "" {
			sp.SetAttributes(attrRoute.String(route))
		}
	}
	return withTrace(hdr, sp.SpanContext()), sp
}

// endSend ends a span of startSend (nil: nothing) with err.
func endSend(sp trace.Span, err error) {
	if sp == nil {
		return
	}
	if err != nil && sp.IsRecording() {
		sp.SetStatus(codes.Error, err.Error())
	}
	sp.End()
}

// parent returns ctx with the client's trace context when it is valid;
// otherwise ctx as it is, and whether a new trace there is sampled.
func (t *tracer) parent(ctx context.Context, traceparent, tracestate string) (context.Context, bool) {
	if sc := RemoteSpanContext(traceparent, tracestate); sc.IsValid() {
		return trace.ContextWithRemoteSpanContext(ctx, sc), true
	}
	return ctx, t.sampleRoot()
}

// startUpgrade starts the server span of a WebSocket upgrade, continuing
// the trace of the request's traceparent header, and returns r with it in
// its context: $connect's integration is its child. The span is nil when
// the trace is not sampled; a client's trace context is passed on then.
func (t *tracer) startUpgrade(r *http.Request, protocol string) (*http.Request, trace.Span) {
	ctx, ok := t.parent(r.Context(), r.Header.Get("Traceparent"), r.Header.Get("Tracestate"))
	if !ok {
		return r, nil
	}
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() && !sc.IsSampled() {
		return r.WithContext(ctx), nil
	}
	ctx, sp := t.t.Start(ctx, "upgrade "+protocol, trace.WithSpanKind(trace.SpanKindServer))
	if sp.IsRecording() {
		sp.SetAttributes(attrProtocol.String(protocol), attribute.String("url.path", r.URL.Path))
	}
	return r.WithContext(ctx), sp
}

// endUpgrade ends an upgrade's span: s is the session admitted, nil when
// the upgrade was refused.
func endUpgrade(sp trace.Span, s *Session) {
	if sp == nil {
		return
	}
	if sp.IsRecording() {
		if s != nil {
			sp.SetAttributes(attrConnID.String(s.id), attrOutcome.String("ok"))
		} else {
			sp.SetAttributes(attrOutcome.String("refused"))
			sp.SetStatus(codes.Error, "refused")
		}
	}
	sp.End()
}

// startDelivery starts the consumer span of a NATS message fanned out to
// local connections, when tracing.deliveries is on and the message
// carries a trace context; otherwise it returns nil.
func (t *tracer) startDelivery(m *Message, pattern string) trace.Span {
	sc := RemoteSpanContext(m.Header.Get(HeaderTraceparent), m.Header.Get(HeaderTracestate))
	if !sc.IsSampled() { // an invalid one is not sampled either
		return nil
	}
	ctx := trace.ContextWithRemoteSpanContext(context.Background(), sc)
	_, sp := t.t.Start(ctx, "nats deliver", trace.WithSpanKind(trace.SpanKindConsumer))
	if sp.IsRecording() {
		sp.SetAttributes(attrMsgSystem, attrMsgDest.String(m.Subject), attrMsgOp.String("deliver"),
			attribute.String("messaging.destination.template", pattern))
	}
	return sp
}

// startNATSCall starts the client span of a request the gateway makes on
// its own behalf (the NATS authorizer's) within the sampled trace of ctx's
// span, and puts its trace context in m's header. It returns nil, and
// leaves m alone, outside such a trace.
func startNATSCall(ctx context.Context, subject string, m *nats.Msg) trace.Span {
	parent := trace.SpanFromContext(ctx)
	if !parent.SpanContext().IsSampled() {
		return nil
	}
	_, sp := parent.TracerProvider().Tracer(instrumentation).Start(ctx, "nats request", trace.WithSpanKind(trace.SpanKindClient))
	if sp.IsRecording() {
		sp.SetAttributes(attrMsgSystem, attrMsgDest.String(subject), attrMsgOp.String("request"))
	}
	m.Header = nats.Header(withTrace(Header(m.Header), sp.SpanContext()))
	return sp
}

// StartHTTPCall starts the client span of an HTTP integration call made
// within the trace of ctx's span (a client message's, an upgrade's) and
// writes the span's traceparent and tracestate into h. Without a span in
// ctx (tracing off, or a call outside any traced message) it does
// nothing and returns nil. The caller ends the span.
func StartHTTPCall(ctx context.Context, method, urlTemplate string, h http.Header) *Span {
	parent := trace.SpanFromContext(ctx)
	if sc := parent.SpanContext(); !sc.IsSampled() {
		if sc.IsValid() {
			w3c.Inject(ctx, propagation.HeaderCarrier(h)) // passed on, never recorded
		}
		return nil
	}
	_, sp := parent.TracerProvider().Tracer(instrumentation).Start(ctx, "HTTP "+method, trace.WithSpanKind(trace.SpanKindClient))
	if sp.IsRecording() {
		sp.SetAttributes(attrHTTPMethod.String(method), attrURLTemplate.String(urlTemplate))
	}
	w3c.Inject(trace.ContextWithSpan(ctx, sp), propagation.HeaderCarrier(h))
	return &Span{sp: sp}
}
