package jsonws

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/wsgate/wsgate/bridge"
	"github.com/wsgate/wsgate/subjects"
)

// conn is one JSON connection.
type conn struct {
	p *Protocol
	s *bridge.Session

	mu   sync.Mutex
	subs map[subKey]*bridge.Subscription

	limits map[*route]*rate.Limiter // per-route buckets, made on first use

	req   []string // the upgrade request's values the selection names
	stage string   // the connection's stage, whose routes it uses ("": none)

	limitsOf *compiled // the config whose routes limits holds buckets of
}

// table is the connection's route table now: its stage's routes in the
// protocol's current config.
func (c *conn) table() map[string]*route { return c.p.cur().routesFor(c.stage) }

type subKey struct{ subject, queue string }

var (
	_ bridge.Closer              = (*conn)(nil)
	_ bridge.Refuser             = (*conn)(nil)
	_ bridge.SubscriptionRevoker = (*conn)(nil)
)

// HandleMessage implements bridge.Handler.
func (c *conn) HandleMessage(_ bool, data []byte) error {
	c.handle(data)
	return nil
}

// Push implements bridge.Handler: a worker's message goes to the client as
// it is.
func (c *conn) Push(m *bridge.Message) {
	_ = c.s.Send(bridge.DataFrame(m.Data))
}

// handle routes one client message. Nothing of data is kept once it
// returns: the body goes back to the pool, and a two-way route, which runs
// beside the reader, gets a copy.
func (c *conn) handle(data []byte) {
	b := getBody()
	defer putBody(b)
	var kb [64]byte
	r, key, isObject := c.selectRoute(b, data, kb[:0])
	id := clientID(b)
	if r == nil {
		switch {
		case b.deep:
			c.fail("", id, errBadJSON, fmt.Sprintf("message is nested more than %d levels deep and there is no $default route", maxDepth))
			c.logAccess(nil, errBadJSON, 0, len(data))
			return
		case !isObject:
			c.fail("", id, errBadJSON, "message is not a JSON object and there is no $default route")
			c.logAccess(nil, errBadJSON, 0, len(data))
			return
		}
		c.fail("", id, errNoRoute, fmt.Sprintf("no route for key %q and no $default route", string(key)))
		c.logAccess(nil, errNoRoute, 0, len(data))
		return
	}
	var sp *bridge.Span // the message's server span; nil with tracing off
	if c.s.Tracing() {
		sp = c.startSpan(r, b)
	}
	if r.rate > 0 && !c.allow(r) {
		c.s.Metrics().LimitExceeded(Name, "route_rate")
		c.fail(r.key, id, errRateLimited, fmt.Sprintf("route %s allows %g messages per second", r.key, r.rate))
		c.logAccess(r, errRateLimited, 0, len(data))
		sp.End(errRateLimited)
		return
	}
	var in *jqInput // only for routes with transforms, conditions or a schema
	if r.schema != nil {
		in = &jqInput{c: c, b: b}
		if !c.conforms(r, in, id, len(data)) {
			sp.End(errBadRequest)
			return
		}
	}
	if r.xf != nil {
		if in == nil {
			in = &jqInput{c: c, b: b}
		}
		if r.xf.choosing() {
			chosen := c.chooseOrDefault(r, in, id)
			if chosen == nil {
				c.logAccess(r, statusNoTarget, 0, len(data))
				sp.End(statusNoTarget)
				return
			}
			// A message that falls through to $default meets its schema too.
			if chosen != r && chosen.schema != nil && !c.conforms(chosen, in, id, len(data)) {
				sp.End(errBadRequest)
				return
			}
			r = chosen
		}
	}
	start := time.Now()
	var status string
	switch r.kind {
	case kindPublish:
		status = c.publish(sp, r, b, id, in)
	case kindSubscribe:
		status = c.subscribe(r, b, id)
	case kindUnsubscribe:
		status = c.unsubscribe(r, b, id)
	case kindRequest, kindHTTP:
		// Two-way routes run beside the reader so a slow integration does
		// not hold up the connection; replies may come out of order.
		b := b.clone() // the read buffer is reused
		id := clientID(b)
		if in != nil {
			in.b = b
		}
		size := len(data)
		err := c.s.Beside(c.p.cur().cfg.MaxInflight, func(ctx context.Context) { c.twoWay(sp.Context(ctx), sp, r, b, id, in, size) })
		if errors.Is(err, bridge.ErrTooManyRequests) {
			c.fail(r.key, id, errTooMany, fmt.Sprintf("more than %d requests waiting", c.p.cur().cfg.MaxInflight))
			c.logAccess(r, errTooMany, 0, size)
			sp.End(errTooMany)
		} else if err != nil {
			sp.End(statusCancelled)
		}
		return // twoWay writes its line and ends the span
	}
	sp.End(status)
	c.logAccess(r, status, time.Since(start), len(data))
}

// conforms checks a message against route r's schema. One that does not
// conform gets a bad_request error frame naming where and why, and goes
// no further; one that does leaves its decoded value in in, for the
// route's transforms.
func (c *conn) conforms(r *route, in *jqInput, id json.RawMessage, size int) bool {
	doc, err := r.schema.check(in.b)
	if err != nil {
		c.fail(r.key, id, errBadRequest, err.Error())
		c.logAccess(r, errBadRequest, 0, size)
		return false
	}
	in.doc, in.decoded = doc, true
	return true
}

// Members of a client message that carry its W3C trace context.
var (
	traceparentPath = []string{bridge.HeaderTraceparent}
	tracestatePath  = []string{bridge.HeaderTracestate}
)

// startSpan starts the server span of a message on route r, continuing the
// trace its traceparent and tracestate members name (when they are
// strings; anything else, or a malformed value, starts a new trace).
func (c *conn) startSpan(r *route, b *body) *bridge.Span {
	tp, _ := b.str(traceparentPath)
	ts, _ := b.str(tracestatePath)
	return c.s.StartMessage(r.key, tp, ts)
}

// Statuses of access log lines besides the error codes.
const (
	statusOK        = "ok"
	statusCancelled = "cancelled"       // the connection ended first
	statusNoTarget  = "no_route_target" // a choosing route found nothing
)

// logAccess writes the access log line of a message of size bytes that
// route r (nil: none) took, when r or the connection's stage asks for one.
func (c *conn) logAccess(r *route, status string, took time.Duration, size int) {
	force := r != nil && r.accessLog
	if !force && !c.s.AccessLogMessages() {
		return
	}
	m := bridge.MessageAccess{Status: status, Latency: took, BytesIn: size, Force: force}
	if r != nil {
		m.Route, m.Sample = r.key, r.accessSample
	}
	c.s.LogAccess(m)
}

// chooseOrDefault picks what takes a message on route r, whose integration
// depends on its content; when nothing does, $default (if r is not
// $default itself). It sends the error frame and returns nil when there is
// nothing to take it or a condition failed.
func (c *conn) chooseOrDefault(r *route, in *jqInput, id json.RawMessage) *route {
	t, err := c.choose(r, in)
	if err != nil {
		c.fail(r.key, id, errTransformFailed, err.Error())
		return nil
	}
	if t != nil {
		return t
	}
	if d := c.table()[routeDefault]; d != nil && d != r {
		if !d.xf.choosing() {
			return d
		}
		if t, err = c.choose(d, in); err != nil {
			c.fail(d.key, id, errTransformFailed, err.Error())
			return nil
		} else if t != nil {
			return t
		}
	}
	c.fail(r.key, id, errNoRoute, fmt.Sprintf("no target of route %s matches and no $default route takes the message", r.key))
	return nil
}

// selectRoute reads data into b and selects its route: the one its key
// (appended to kb) names, else $default, else nil. $connect and $disconnect
// are never selected by a message.
func (c *conn) selectRoute(b *body, data, kb []byte) (r *route, key []byte, isObject bool) {
	if isObject = b.parse(data); isObject {
		key = c.p.cur().sel.appendKey(kb, b, c.req)
		r = c.table()[string(key)]
	}
	if r == nil || string(key) == routeConnect || string(key) == routeDisconnect {
		r = c.table()[routeDefault]
	}
	return r, key, isObject
}

// SubscriptionRevoked implements bridge.SubscriptionRevoker: the client
// gets an error frame (forbidden, with the subject) for a subscription a
// reload's narrower permissions ended, and may subscribe again once they
// allow it.
func (c *conn) SubscriptionRevoked(sub *bridge.Subscription) {
	k := subKey{sub.Pattern(), sub.Queue()}
	c.mu.Lock()
	if c.subs[k] == sub {
		delete(c.subs, k)
	}
	c.mu.Unlock()
	env := Envelope{Type: "error", Subject: k.subject, Error: errForbidden,
		Message: "subscription ended: the gateway's permissions for this connection no longer allow it"}
	_ = c.s.Send(env.frame())
}

// allow takes a token from the route's bucket for this connection.
func (c *conn) allow(r *route) bool {
	if cur := c.p.cur(); c.limitsOf != cur {
		c.limits, c.limitsOf = nil, cur // a reload made new routes
	}
	lim := c.limits[r]
	if lim == nil {
		if c.limits == nil {
			c.limits = map[*route]*rate.Limiter{}
		}
		lim = rate.NewLimiter(rate.Limit(r.rate), r.burst)
		c.limits[r] = lim
	}
	return lim.Allow()
}

// Refuse implements bridge.Refuser: a message over the connection's message
// rate gets an error frame and is dropped.
func (c *conn) Refuse(_ bool, data []byte, err error) error {
	b := getBody()
	defer putBody(b)
	b.parse(data)
	c.fail("", clientID(b), errRateLimited, err.Error())
	return nil
}

// idPath is the message member echoed in replies.
var idPath = []string{"id"}

// clientID is the message's "id" member, echoed in replies. It shares the
// message's bytes.
func clientID(b *body) json.RawMessage {
	id, _ := b.lookup(idPath)
	return id
}

// fail sends an error frame and counts it.
func (c *conn) fail(route string, id json.RawMessage, code, msg string) {
	c.s.Metrics().ProtocolError(Name, code)
	env := Envelope{Type: "error", Route: route, ID: id, Error: code, Message: msg}
	_ = c.s.Send(env.frame())
}

// failErr sends the error frame that err calls for and returns its code.
func (c *conn) failErr(route string, id json.RawMessage, err error) string {
	code := errBadRequest
	switch bridge.KindOf(err) {
	case bridge.KindForbidden:
		code = errForbidden
	case bridge.KindTimeout:
		code = errTimeout
	case bridge.KindNoResponders:
		code = errNoResponders
	case bridge.KindNotSubscribed:
		code = errNotSubbed
	case bridge.KindLimit:
		code = errLimit
	}
	if errors.Is(err, errUpstream) {
		code = errIntegration
	}
	if errors.Is(err, errTransform) {
		code = errTransformFailed
	}
	if code == errTimeout || code == errNoResponders || code == errIntegration {
		c.s.Metrics().IntegrationError(route, code)
	}
	c.fail(route, id, code, err.Error())
	return code
}

// subject works out the route's subject for a message.
func (c *conn) subject(r *route, b *body) (string, error) {
	if r.subject == nil {
		v, ok := b.str(r.subjVar)
		if !ok || v == "" {
			return "", fmt.Errorf("the message needs a string %q member naming the subject", pathString(r.subjVar))
		}
		return v, nil
	}
	return r.subject.Expand(func(name string) (string, bool) { return c.lookup(r, b, name) })
}

// lookup resolves a template variable.
func (c *conn) lookup(r *route, b *body, name string) (string, bool) {
	switch {
	case name == "connectionId":
		return c.s.ID(), true
	case name == "principal":
		return c.s.Principal().ID, c.s.Principal().ID != ""
	case name == "route":
		return r.key, true
	case len(name) > 5 && name[:5] == "body.":
		if b == nil {
			return "", false
		}
		return b.scalarDotted(name[5:])
	case len(name) > 7 && name[:7] == "claims.":
		return c.s.Principal().Claim(name[7:])
	case len(name) > 8 && name[:8] == "context.":
		v, ok := c.s.Context()[name[8:]]
		return v, ok
	case len(name) > 6 && name[:6] == "stage.":
		_, vars := c.s.Stage()
		v, ok := vars[name[6:]]
		return v, ok
	}
	return "", false
}

// queue works out the route's queue group: a client-named one must be a
// JSON string when present.
func (c *conn) queue(r *route, b *body) (string, error) {
	if r.queueV == nil {
		return r.queue, nil
	}
	if _, present := b.lookup(r.queueV); !present {
		return "", nil
	}
	v, ok := b.str(r.queueV)
	if !ok {
		return "", fmt.Errorf("the %q member names a queue group: it must be a string", pathString(r.queueV))
	}
	return v, nil
}

// payload is what a route forwards of a message.
func payload(r *route, b *body) []byte {
	if r.payload == nil {
		return b.raw
	}
	return b.payload(r.payload)
}

// publish runs a publish route and returns the status of the access log.
func (c *conn) publish(sp *bridge.Span, r *route, b *body, id json.RawMessage, in *jqInput) string {
	start := time.Now()
	subj, err := c.subject(r, b)
	if err == nil {
		sp.SetIntegration(r.kind, subj)
		ctx := sp.Context(context.Background())
		var p []byte
		if p, err = c.forward(ctx, r, b, in); err == nil {
			err = c.s.PublishContext(ctx, subj, r.key, nil, p)
		}
	}
	c.s.Metrics().RouteDone(r.key, time.Since(start).Seconds())
	if err != nil {
		return c.failErr(r.key, id, err)
	}
	if id != nil {
		env := Envelope{Type: "published", Route: r.key, ID: id, Subject: subj}
		_ = c.s.Send(env.frame())
	}
	return statusOK
}

// subscribe runs a subscribe route and returns the status of the access log.
func (c *conn) subscribe(r *route, b *body, id json.RawMessage) string {
	subj, err := c.subject(r, b)
	if err != nil {
		return c.failErr(r.key, id, err)
	}
	q, err := c.queue(r, b)
	if err != nil {
		return c.failErr(r.key, id, err)
	}
	k := subKey{subj, q}
	c.mu.Lock()
	_, dup := c.subs[k]
	c.mu.Unlock()
	if !dup {
		var key any = keyEnvelope
		encode := messageFrame
		switch {
		case r.xf != nil && r.xf.deliver != nil:
			// One frame per route and stage: the transform sees the stage.
			name, vars := c.s.Stage()
			key, encode = deliverKey{r.xf, name}, deliverFrame(r, vars, c.p.cur().jq)
		case r.raw:
			key, encode = keyRaw, rawFrame
		}
		s := c.s
		sub, err := s.Subscribe(k.subject, k.queue, func(d *bridge.Delivery) {
			if f, err := d.Frame(key, encode); err == nil {
				_ = d.Send(s, f)
			}
		})
		if err != nil {
			return c.failErr(r.key, id, err)
		}
		c.mu.Lock()
		if old := c.subs[k]; old != nil {
			sub.Unsubscribe() // a concurrent twin won
		} else {
			c.subs[k] = sub
		}
		c.mu.Unlock()
	}
	if !dup {
		// Promise what "subscribed" says: NATS has the subscription.
		_ = c.s.FlushSubscriptions(context.Background())
	}
	env := Envelope{Type: "subscribed", Route: r.key, ID: id, Subject: subj}
	_ = c.s.Send(env.frame())
	return statusOK
}

// unsubscribe runs an unsubscribe route and returns the status of the access log.
func (c *conn) unsubscribe(r *route, b *body, id json.RawMessage) string {
	subj, err := c.subject(r, b)
	if err != nil {
		return c.failErr(r.key, id, err)
	}
	if err := subjects.ValidatePattern(subj); err != nil {
		return c.failErr(r.key, id, err)
	}
	q, err := c.queue(r, b)
	if err != nil {
		return c.failErr(r.key, id, err)
	}
	var gone []*bridge.Subscription
	c.mu.Lock()
	for k, sub := range c.subs {
		if k.subject == subj && (q == "" || k.queue == q) {
			gone = append(gone, sub)
			delete(c.subs, k)
		}
	}
	c.mu.Unlock()
	if len(gone) == 0 {
		return c.failErr(r.key, id, fmt.Errorf("%w to %q", bridge.ErrNotSubscribed, subj))
	}
	for _, sub := range gone {
		sub.Unsubscribe()
	}
	env := Envelope{Type: "unsubscribed", Route: r.key, ID: id, Subject: subj}
	_ = c.s.Send(env.frame())
	return statusOK
}

// OnClose implements bridge.Closer: it runs the $disconnect route (the
// session has stopped the connection's running integrations already).
func (c *conn) OnClose(ci bridge.CloseInfo) {
	r := c.table()[routeDisconnect]
	if r == nil {
		return
	}
	info := c.s.Info()
	info.CloseCode, info.CloseReason, info.ClosedBy = ci.Code, ci.Reason, ci.By
	body, _ := json.Marshal(info)
	h := bridge.Header{}
	h.Set(bridge.HeaderEvent, bridge.EventDisconnect)
	h.Set(bridge.HeaderCloseCode, fmt.Sprint(ci.Code))
	h.Set(bridge.HeaderCloseReason, ci.Reason)
	start := time.Now()
	var err error
	if r.kind == kindHTTP {
		hdr := c.s.Headers(bridge.EventDisconnect, r.key)
		for k, v := range h {
			hdr[k] = v
		}
		ctx, cancel := context.WithTimeout(context.Background(), r.timeout*time.Duration(1+r.http.retries))
		var a *httpAnswer
		if a, err = c.p.callHTTP(ctx, r, func(n string) (string, bool) { return c.lookup(r, nil, n) }, hdr, body); err == nil && (a.status < 200 || a.status > 299) {
			err = fmt.Errorf("%w: %s answered HTTP %d", errUpstream, r.http.url.src, a.status)
		}
		cancel()
	} else {
		var subj string
		if subj, err = c.subject(r, nil); err == nil {
			err = c.s.Publish(subj, r.key, h, body)
		}
	}
	c.s.Metrics().RouteDone(r.key, time.Since(start).Seconds())
	if err != nil {
		c.s.Metrics().IntegrationError(r.key, "disconnect")
		c.s.Logger().Warn("$disconnect route failed", "err", err)
	}
}
