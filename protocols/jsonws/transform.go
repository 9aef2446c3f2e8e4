package jsonws

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"time"

	"github.com/wsgate/wsgate/bridge"
)

// Transforms are a route's jq expressions (inline in RouteConfig), the
// managed gateway's mapping templates and content-based choice of
// integration. Each is evaluated over
//
//	{"body": <the message, decoded>, "connectionId": "...", "route": "...",
//	 "principal": "...", "context": {...}, "claims": {...}, "stage": {...}}
//
// and compiled once, when the config is loaded.
type Transforms struct {
	// When makes the route conditional: the message takes it only if the
	// expression's first result is neither false nor null; otherwise it
	// goes to $default (or gets a no_route error frame).
	When string `yaml:"when"`
	// Targets are integrations (each with the keys of a route and an
	// optional when) tried in order: the first whose when holds takes the
	// message; if none does, the route's own integration does, or, for a
	// route without one, $default. Targets do not nest and share the
	// route's rate.
	Targets []RouteConfig `yaml:"targets"`
	// RequestTransform makes what a publish, request or http route
	// forwards (an http route's only with proxy: false, and only for
	// POST, PUT or PATCH): a string result as its text, anything else as
	// JSON.
	RequestTransform string `yaml:"request_transform"`
	// ResponseTransform makes the reply of a request or http (proxy:
	// false) route from the input plus "request" (the client's message),
	// with "body" the answer (decoded when JSON, else text) and, for http,
	// "status" and "headers" (lower-case names, first values).
	ResponseTransform string `yaml:"response_transform"`
	// Transform makes what a subscribe route delivers from each message:
	// {"body", "subject", "route", "stage"}. It sees no connection, so one
	// result serves every subscriber of the route in a stage.
	Transform string `yaml:"transform"`
}

// routeJQ is a route's compiled Transforms.
type routeJQ struct {
	when    *jqExpr
	targets []*route
	req     *jqExpr
	resp    *jqExpr
	deliver *jqExpr
}

// choosing reports whether a route picks its integration by content.
func (x *routeJQ) choosing() bool { return x != nil && (x.when != nil || len(x.targets) > 0) }

// compileTransforms compiles rc's Transforms into r.xf.
func compileTransforms(key string, rc RouteConfig, r *route, defTimeout time.Duration) []error {
	t := rc.Transforms
	if t.When == "" && len(t.Targets) == 0 && t.RequestTransform == "" && t.ResponseTransform == "" && t.Transform == "" {
		return nil
	}
	var errs []error
	x := &routeJQ{}
	special := key == routeConnect || key == routeDisconnect
	jq := func(field, src string) *jqExpr {
		if special {
			errs = append(errs, ferr(field, "not on %s", key))
			return nil
		}
		e, err := compileJQ(src)
		if err != nil {
			errs = append(errs, ferr(field, "%v", err))
		}
		return e
	}
	if t.When != "" {
		x.when = jq("when", t.When)
	}
	for i, tc := range t.Targets {
		field := fmt.Sprintf("targets[%d]", i)
		if special {
			errs = append(errs, ferr("targets", "not on %s", key))
			break
		}
		if len(tc.Targets) > 0 {
			errs = append(errs, ferr(field+".targets", "targets do not nest"))
		}
		if tc.Rate != 0 || tc.Burst != 0 {
			errs = append(errs, ferr(field+".rate", "a target shares its route's rate: set it on the route"))
		}
		if tc.Schema != nil {
			errs = append(errs, ferr(field+".schema", "a target shares its route's schema: set it on the route"))
		}
		tr, terrs := compileRoute(key, tc, defTimeout)
		for _, e := range terrs {
			errs = append(errs, fmt.Errorf("%s.%w", field, e))
		}
		x.targets = append(x.targets, tr)
	}
	httpNoProxy := r.kind == kindHTTP && r.http != nil && !r.http.proxy
	if t.RequestTransform != "" {
		switch {
		case r.kind == kindHTTP && !httpNoProxy:
			errs = append(errs, ferr("request_transform", "only with proxy: false (a proxy route passes the message through)"))
		case r.kind == kindHTTP && r.http != nil && !sendsBody(r.http.method):
			errs = append(errs, ferr("request_transform", "%s sends no body: use the url, query and headers", r.http.method))
		case r.kind != kindPublish && r.kind != kindRequest && r.kind != kindHTTP:
			errs = append(errs, ferr("request_transform", "only on publish, request and http routes"))
		case rc.Payload != "":
			errs = append(errs, ferr("request_transform", "payload and request_transform both say what is forwarded: keep one"))
		}
		x.req = jq("request_transform", t.RequestTransform)
	}
	if t.ResponseTransform != "" {
		switch {
		case r.kind == kindHTTP && !httpNoProxy:
			errs = append(errs, ferr("response_transform", "only with proxy: false (a proxy route passes the answer through)"))
		case r.kind != kindRequest && r.kind != kindHTTP:
			errs = append(errs, ferr("response_transform", "only on request and http routes"))
		}
		x.resp = jq("response_transform", t.ResponseTransform)
	}
	if t.Transform != "" {
		if r.kind != kindSubscribe {
			errs = append(errs, ferr("transform", "only on subscribe routes (request_transform and response_transform on the others)"))
		}
		x.deliver = jq("transform", t.Transform)
	}
	r.xf = x
	return errs
}

// sendsBody reports whether a request with method carries the payload.
func sendsBody(method string) bool {
	return method == http.MethodPost || method == http.MethodPut || method == http.MethodPatch
}

// jqInput is the input of a message's transforms and conditions, decoded
// the first time one needs it. It owns its values (nothing refers to the
// read buffer), so it may go with a two-way route beside the reader.
type jqInput struct {
	c *conn
	b *body
	v map[string]any

	doc     any  // the message decoded, when a schema check did it already
	decoded bool // doc is set
}

// get returns the input for route r.
func (in *jqInput) get(r *route) map[string]any {
	if in.v == nil {
		if !in.decoded {
			in.doc, in.decoded = decodeBody(in.b), true
		}
		in.v = in.c.jqBase(in.doc)
	}
	in.v["route"] = r.key
	return in.v
}

// jqBase is the input of a connection's transforms around body.
func (c *conn) jqBase(body any) map[string]any {
	v := map[string]any{"body": body, "connectionId": "", "principal": "", "context": map[string]any{},
		"claims": map[string]any{}, "stage": map[string]any{}}
	if c.s != nil {
		v["connectionId"] = c.s.ID()
		v["context"] = stringMap(c.s.Context())
		if _, vars := c.s.Stage(); vars != nil {
			v["stage"] = stringMap(vars)
		}
		if p := c.s.Principal(); p != nil {
			v["principal"] = p.ID
			v["claims"] = jqValue(p.Claims)
		}
	}
	return v
}

// choose picks what takes a message on route r, whose integration depends
// on content: the first target whose when holds, else r itself if its own
// when holds and it has an integration; nil if nothing does.
func (c *conn) choose(r *route, in *jqInput) (*route, error) {
	lim := c.p.cur().jq
	if r.xf.when != nil {
		ok, err := r.xf.when.truthy(context.Background(), in.get(r), lim)
		if err != nil || !ok {
			return nil, err
		}
	}
	for _, t := range r.xf.targets {
		if t.xf == nil || t.xf.when == nil {
			return t, nil
		}
		ok, err := t.xf.when.truthy(context.Background(), in.get(r), lim)
		if err != nil {
			return nil, err
		}
		if ok {
			return t, nil
		}
	}
	if r.kind == "" {
		return nil, nil
	}
	return r, nil
}

// forward is what route r sends of a message: its payload, or what its
// request_transform makes of it.
func (c *conn) forward(ctx context.Context, r *route, b *body, in *jqInput) ([]byte, error) {
	if r.xf == nil || r.xf.req == nil {
		return payload(r, b), nil
	}
	v, err := r.xf.req.first(ctx, in.get(r), c.p.cur().jq)
	if err != nil {
		return nil, err
	}
	return encodeResult(v), nil
}

// transformReply runs route r's response_transform, if any, on an answer
// (with its HTTP status and headers when a is not nil).
func (c *conn) transformReply(ctx context.Context, r *route, in *jqInput, reply []byte, a *httpAnswer) ([]byte, error) {
	if r.xf == nil || r.xf.resp == nil {
		return reply, nil
	}
	v := maps.Clone(in.get(r))
	v["request"] = v["body"]
	v["body"] = decodeJQ(reply)
	if a != nil {
		v["status"] = a.status
		v["headers"] = headerMap(a.header)
	}
	out, err := r.xf.resp.first(ctx, v, c.p.cur().jq)
	if err != nil {
		return nil, err
	}
	return encodeResult(out), nil
}

// deliverKey names the frame of a subscribe route's transform in a
// delivery's cache: one per route and stage.
type deliverKey struct {
	xf    *routeJQ
	stage string
}

// deliverFrame is the frame of a subscribe route with a transform for one
// message: the same for every subscriber of the route in a stage, so the
// delivery encodes it once (keyed by deliverKey).
func deliverFrame(r *route, stage map[string]string, lim jqLimits) func(m *bridge.Message) (*bridge.Frame, error) {
	sv := stringMap(stage)
	return func(m *bridge.Message) (*bridge.Frame, error) {
		in := map[string]any{"body": decodeJQ(m.Data), "subject": m.Subject, "route": r.key, "stage": sv}
		v, err := r.xf.deliver.first(context.Background(), in, lim)
		if err != nil {
			env := Envelope{Type: "error", Route: r.key, Subject: m.Subject, Error: errTransformFailed, Message: err.Error()}
			return env.frame(), nil
		}
		out := &bridge.Message{Subject: m.Subject, Header: m.Header, Data: encodeResult(v)}
		if r.raw {
			return rawFrame(out)
		}
		return messageFrame(out)
	}
}
