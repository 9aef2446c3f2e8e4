package jsonws

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"

	"github.com/wsgate/wsgate/bridge"
)

// errUpstream marks a failed http integration.
var errUpstream = errors.New("jsonws: integration failed")

// errTooLarge marks a response body over the route's max_response_bytes.
var errTooLarge = errors.New("jsonws: response too large")

// newHTTPClient is the one client every http integration of a protocol
// shares, so connections to an endpoint are reused. It never follows a
// redirect: a 3xx is the endpoint's answer, so no response can send a
// request to a host or path the config does not name.
func newHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 64
	return &http.Client{
		Transport:     t,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// httpAnswer is what an endpoint answered.
type httpAnswer struct {
	status int
	header http.Header
	body   []byte
}

// callHTTP runs route r's http integration for one message: it renders the
// URL and headers with lookup, sends payload (for POST, PUT and PATCH) with
// hdr (the connection's Wsgate-* headers, unless the route omits them), and
// retries an idempotent request as the route allows. Any status is an
// answer; errors are a value that does not fit the URL or a header
// (errTemplateValue), a timeout (bridge.ErrTimeout), or a failed exchange
// (errUpstream).
func (p *Protocol) callHTTP(ctx context.Context, r *route, lookup func(string) (string, bool), hdr bridge.Header, payload []byte) (*httpAnswer, error) {
	h := r.http
	u, err := h.url.render(lookup)
	if err != nil {
		return nil, err
	}
	reqHdr := make(http.Header, len(hdr)+len(h.headers)+1)
	if h.identity {
		for k, v := range hdr {
			reqHdr[k] = v
		}
	}
	var buf []byte
	for _, hp := range h.headers {
		if buf, err = hp.value.appendRender(buf[:0], lookup, func(dst []byte, v string) []byte { return append(dst, v...) }); err != nil {
			return nil, fmt.Errorf("header %s: %w", hp.name, err)
		}
		if len(buf) > maxRenderedHeader {
			return nil, fmt.Errorf("header %s: %w: %d bytes, more than %d", hp.name, errTemplateValue, len(buf), maxRenderedHeader)
		}
		if err := checkHeaderValue(string(buf)); err != nil {
			return nil, fmt.Errorf("header %s: %w", hp.name, err)
		}
		reqHdr[hp.name] = []string{string(buf)}
	}
	hasBody := h.method == http.MethodPost || h.method == http.MethodPut || h.method == http.MethodPatch
	if hasBody {
		ct := "application/octet-stream"
		if json.Valid(payload) {
			ct = "application/json"
		}
		reqHdr["Content-Type"] = []string{ct}
	}
	for attempt := 0; ; attempt++ {
		var body io.Reader
		if hasBody {
			body = bytes.NewReader(payload)
		}
		a, err := p.httpOnce(ctx, r, u, reqHdr, body)
		if attempt >= h.retries || ctx.Err() != nil || !retryable(a, err) {
			return a, err
		}
		// Full jitter over a doubling backoff: retries of many clients
		// do not arrive at an endpoint in step.
		d := h.backoff << min(attempt, 16)
		if d <= 0 || d > maxRetryWait {
			d = maxRetryWait
		}
		d = d/2 + rand.N(d/2+1)
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return a, err
		case <-t.C:
		}
	}
}

// httpOnce sends one request under the route's timeout: within a traced
// message, as a client span of its own whose traceparent the request
// carries.
func (p *Protocol) httpOnce(ctx context.Context, r *route, u string, hdr http.Header, body io.Reader) (*httpAnswer, error) {
	sp := bridge.StartHTTPCall(ctx, r.http.method, r.http.url.src, hdr)
	if sp == nil {
		return p.httpExchange(ctx, r, u, hdr, body)
	}
	a, err := p.httpExchange(sp.Context(ctx), r, u, hdr, body)
	if err != nil {
		sp.Fail(err)
	} else {
		sp.SetStatusCode(a.status)
	}
	sp.End("")
	return a, err
}

// httpExchange is httpOnce without the span.
func (p *Protocol) httpExchange(ctx context.Context, r *route, u string, hdr http.Header, body io.Reader) (*httpAnswer, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, r.http.method, u, body)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errUpstream, err)
	}
	req.Header = hdr
	resp, err := p.http.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("%w after %s on %s %s", bridge.ErrTimeout, r.timeout, r.http.method, r.http.url.src)
		}
		return nil, fmt.Errorf("%w: %s %s: %v", errUpstream, r.http.method, r.http.url.src, errors.Unwrap(err))
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, r.http.maxBytes+1))
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("%w after %s reading %s", bridge.ErrTimeout, r.timeout, r.http.url.src)
		}
		return nil, fmt.Errorf("%w: reading %s: %v", errUpstream, r.http.url.src, err)
	}
	if int64(len(b)) > r.http.maxBytes {
		return nil, fmt.Errorf("%w: %w: %s answered more than %d bytes", errUpstream, errTooLarge, r.http.url.src, r.http.maxBytes)
	}
	return &httpAnswer{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

// retryable reports whether a failed exchange is worth another try: the
// network failed, the endpoint did not answer in time, or it said it is
// overloaded or its own upstream failed.
func retryable(a *httpAnswer, err error) bool {
	if err != nil {
		return !errors.Is(err, errTooLarge)
	}
	switch a.status {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// httpErrorClass names a failed call in wsgate_integration_errors_total:
// http_3xx, http_4xx, http_5xx, timeout, http_too_large or http_transport;
// "" for a 2xx answer.
func httpErrorClass(a *httpAnswer, err error) string {
	switch {
	case err == nil && a.status >= 200 && a.status <= 299:
		return ""
	case err == nil:
		return fmt.Sprintf("http_%dxx", a.status/100)
	case errors.Is(err, bridge.ErrTimeout):
		return errTimeout
	case errors.Is(err, errTooLarge):
		return "http_too_large"
	case errors.Is(err, errTemplateValue) || errors.Is(err, errURLShape):
		return ""
	}
	return "http_transport"
}

// outcome is what the client gets for an answer.
type outcome struct {
	reply  bool
	code   string // an error frame's
	status int
	data   []byte // nil: no data member in an error frame
	fixed  bool   // data is a responses entry's, not the answer's body
}

// outcome maps an answer through the route's responses: the first entry
// whose status matches (and whose when holds) decides; without one, 2xx is
// a reply of the body and anything else an integration_failed error. An
// error is a when that failed (errTransform).
func (h *httpSpec) outcome(ctx context.Context, a *httpAnswer, lim jqLimits) (outcome, error) {
	ok := a.status >= 200 && a.status <= 299
	o := outcome{reply: ok, code: errIntegration, status: a.status}
	var rule *responseRule
	var in map[string]any
	for i := range h.responses {
		rr := &h.responses[i]
		if !rr.matches(a.status) {
			continue
		}
		if rr.when != nil {
			if in == nil {
				in = map[string]any{"status": a.status, "headers": headerMap(a.header), "body": decodeJQ(a.body)}
			}
			holds, err := rr.when.truthy(ctx, in, lim)
			if err != nil {
				return o, err
			}
			if !holds {
				continue
			}
		}
		rule = rr
		break
	}
	if rule != nil {
		switch rule.as {
		case "reply":
			o.reply = true
		case "error":
			o.reply = false
		}
		if rule.code != "" {
			o.code = rule.code
		}
		if rule.data != nil {
			o.data, o.fixed = rule.data, true
			return o, nil
		}
	}
	if o.reply || h.errorBody {
		o.data = a.body
	}
	return o, nil
}

// headerMap is a response's headers for jq: lower-case names, first values.
func headerMap(h http.Header) map[string]any {
	m := make(map[string]any, len(h))
	for k, vals := range h {
		if len(vals) > 0 {
			m[strings.ToLower(k)] = vals[0]
		}
	}
	return m
}

// statusError is an answer the client gets as an error frame.
type statusError struct {
	o      outcome
	method string
	url    string
}

func (e *statusError) Error() string {
	return fmt.Sprintf("%s %s answered HTTP %d", e.method, e.url, e.o.status)
}

// postStatus is callHTTP for $connect: the endpoint's status decides, so a
// 401 or 403 refuses the upgrade with that status.
func (p *Protocol) postStatus(ctx context.Context, r *route, lookup func(string) (string, bool), hdr bridge.Header, payload []byte) ([]byte, error) {
	a, err := p.callHTTP(ctx, r, lookup, hdr, payload)
	if err != nil {
		return nil, err
	}
	if a.status < 200 || a.status > 299 {
		var cr ConnectReply
		if json.Unmarshal(a.body, &cr) != nil || cr.Body == "" {
			cr.Body = http.StatusText(a.status)
		}
		status := a.status
		if status < 400 || status > 599 {
			status = http.StatusBadGateway
		}
		return nil, &bridge.AdmitError{Status: status, Body: cr.Body}
	}
	return a.body, nil
}
