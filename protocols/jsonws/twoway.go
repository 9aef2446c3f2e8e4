package jsonws

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/wsgate/wsgate/bridge"
)

// twoWay runs a request or http integration and sends its answer; size
// is the message's, for the access log.
// sp, the message's span (nil: none), is ended with the status.
func (c *conn) twoWay(ctx context.Context, sp *bridge.Span, r *route, b *body, id json.RawMessage, in *jqInput, size int) {
	start := time.Now()
	status := c.runTwoWay(ctx, sp, r, b, id, in)
	sp.End(status)
	took := time.Since(start)
	c.s.Metrics().RouteDone(r.key, took.Seconds())
	c.logAccess(r, status, took, size)
}

// runTwoWay is twoWay without the accounting; it returns the status of the
// access log.
func (c *conn) runTwoWay(ctx context.Context, sp *bridge.Span, r *route, b *body, id json.RawMessage, in *jqInput) string {
	p, err := c.forward(ctx, r, b, in)
	if err != nil {
		return c.failErr(r.key, id, err)
	}
	ck, cached := "", false
	if r.cache != nil {
		if ck, cached = c.cacheKey(r, b, p); cached {
			reply, hit := r.cache.get(ck)
			c.s.Metrics().RouteCache(r.key, hit)
			if hit {
				c.reply(r, id, reply)
				return statusOK
			}
		}
	}
	var reply []byte
	if r.kind == kindHTTP {
		sp.SetIntegration(r.kind, r.http.url.src)
		var ok bool
		if reply, ok = c.httpRoute(ctx, r, b, id, in, p); !ok {
			return errIntegration // httpRoute sent the client its error
		}
	} else {
		var subj string
		if subj, err = c.subject(r, b); err == nil {
			sp.SetIntegration(r.kind, subj)
			var m *bridge.Message
			if m, err = c.s.Request(ctx, subj, r.key, nil, p, r.timeout); err == nil {
				reply, err = c.transformReply(ctx, r, in, m.Data, nil)
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				return statusCancelled
			}
			c.logExecution(ctx, r, "", nil, err)
			return c.failErr(r.key, id, err)
		}
	}
	if cached {
		r.cache.put(ck, reply)
	}
	c.reply(r, id, reply)
	return statusOK
}

// reply sends a two-way route's answer.
func (c *conn) reply(r *route, id json.RawMessage, reply []byte) {
	if r.raw {
		_ = c.s.Send(bridge.DataFrame(reply))
		return
	}
	data, enc := dataField(reply)
	env := Envelope{Type: "reply", Route: r.key, ID: id, Data: data, Encoding: enc}
	_ = c.s.Send(env.frame())
}

// httpRoute runs an http integration with payload p. ok says whether the
// answer is a successful reply, to send (and cache); otherwise the client
// has had its error frame.
func (c *conn) httpRoute(ctx context.Context, r *route, b *body, id json.RawMessage, in *jqInput, p []byte) (reply []byte, ok bool) {
	a, err := c.p.callHTTP(ctx, r, func(n string) (string, bool) { return c.lookup(r, b, n) },
		c.s.Headers(bridge.EventMessage, r.key), p)
	if class := httpErrorClass(a, err); class != "" {
		c.s.Metrics().IntegrationError(r.key, class)
		c.logExecution(ctx, r, class, a, err)
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, false
		}
		code := errIntegration
		switch {
		case errors.Is(err, errTemplateValue) || errors.Is(err, errURLShape):
			code = errBadRequest
		case errors.Is(err, bridge.ErrTimeout):
			code = errTimeout
		}
		c.fail(r.key, id, code, err.Error())
		return nil, false
	}
	o, err := r.http.outcome(ctx, a, c.p.cur().jq)
	if err != nil {
		if ctx.Err() == nil {
			c.fail(r.key, id, errTransformFailed, err.Error())
		}
		return nil, false
	}
	if o.reply {
		data := o.data
		if !o.fixed {
			if data, err = c.transformReply(ctx, r, in, data, a); err != nil {
				if ctx.Err() == nil {
					c.fail(r.key, id, errTransformFailed, err.Error())
				}
				return nil, false
			}
		}
		if a.status < 200 || a.status > 299 {
			// A reply responses made of an error status: sent, never cached.
			c.reply(r, id, data)
			return nil, false
		}
		return data, true
	}
	c.s.Metrics().ProtocolError(Name, o.code)
	env := Envelope{Type: "error", Route: r.key, ID: id, Error: o.code, Status: o.status,
		Message: (&statusError{o: o, method: r.http.method, url: r.http.url.src}).Error()}
	if o.data != nil {
		env.Data, env.Encoding = dataField(o.data)
	}
	_ = c.s.Send(env.frame())
	return nil, false
}

// maxLoggedBody is how much of an integration's error body an execution
// log line shows.
const maxLoggedBody = 1024

// logExecution writes the execution log line of a failed integration, at
// debug: the route, the connection, what failed, and for an HTTP answer
// its status and the start of its body (what the endpoint said, which the
// client's error frame does not carry). At info and above it costs one
// level check.
func (c *conn) logExecution(ctx context.Context, r *route, class string, a *httpAnswer, err error) {
	if !c.s.LogEnabled(ctx, slog.LevelDebug) {
		return
	}
	attrs := []slog.Attr{slog.String("route", r.key), slog.String("integration", r.kind)}
	if class != "" {
		attrs = append(attrs, slog.String("class", class))
	}
	if r.kind == kindHTTP {
		attrs = append(attrs, slog.String("method", r.http.method), slog.String("url", r.http.url.src))
	}
	if err != nil {
		attrs = append(attrs, slog.String("err", err.Error()))
	}
	if a != nil {
		body, cut := a.body, false
		if len(body) > maxLoggedBody {
			body, cut = body[:maxLoggedBody], true
		}
		attrs = append(attrs, slog.Int("status", a.status), slog.String("body", strings.ToValidUTF8(string(body), "\ufffd")))
		if cut {
			attrs = append(attrs, slog.Int("body_bytes", len(a.body)))
		}
	}
	c.s.Logger().LogAttrs(ctx, slog.LevelDebug, "integration failed", attrs...)
}
