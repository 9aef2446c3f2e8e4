package jsonws

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// HTTPRoute holds the keys of an http integration (inline in RouteConfig).
type HTTPRoute struct {
	// URL is the endpoint, an absolute http:// or https:// URL whose path
	// segments and query values may hold the variables of subject
	// templates (https://api.example/{context.tenant}/orders/{body.id}).
	// Each value is percent-encoded for its place, so no message can change
	// the scheme, the host or the number of path segments; a segment that
	// would render empty, "." or ".." is refused. Required.
	URL string `yaml:"url"`
	// Method is GET, POST, PUT, PATCH, DELETE or HEAD. Default POST. POST,
	// PUT and PATCH send the payload as the request body; GET, HEAD and
	// DELETE send none.
	Method string `yaml:"method"`
	// Query adds parameters to the URL: literal names, templated values.
	Query map[string]string `yaml:"query"`
	// Headers adds request headers: literal names, templated values (for
	// example Authorization: "Bearer {context.token}"). A value holding a
	// control character is refused. Wsgate-* names, hop-by-hop headers and
	// Host, Content-Length and Content-Type are the gateway's.
	Headers map[string]string `yaml:"headers"`
	// OmitIdentityHeaders leaves out the connection's Wsgate-* headers
	// (Wsgate-Connection-Id, Wsgate-Principal, ...), which are sent by
	// default as on NATS. Default false.
	OmitIdentityHeaders bool `yaml:"omit_identity_headers"`
	// Proxy true (the default) passes the message through as the body and
	// the response body back as the reply; false lets responses (and
	// transforms) reshape them, as the managed gateway's non-proxy HTTP
	// integration does.
	Proxy *bool `yaml:"proxy"`
	// ErrorBody puts the response body of a non-2xx answer in the error
	// frame's data. Default false: an endpoint's error pages stay inside.
	ErrorBody bool `yaml:"error_body"`
	// Responses map statuses to what the client gets; the first entry
	// whose status matches wins. Only with proxy: false. Without a match,
	// 2xx is a reply and anything else an integration_failed error frame.
	Responses []ResponseConfig `yaml:"responses"`
	// Retries is how many times a failed GET, HEAD, PUT or DELETE is tried
	// again (after a network error, a timeout, or HTTP 429, 502, 503 or
	// 504); a POST or PATCH is never retried. Default 0.
	Retries int `yaml:"retries"`
	// RetryBackoff is the wait before the first retry, doubled before each
	// next one (up to a minute), with jitter. Default 100ms, at most 1m.
	RetryBackoff time.Duration `yaml:"retry_backoff"`
	// MaxResponseBytes bounds a response body; a longer one is an
	// integration_failed error, never a truncated reply. Default 1 MiB.
	MaxResponseBytes int64 `yaml:"max_response_bytes"`
}

// ResponseConfig is one entry of an http route's responses.
type ResponseConfig struct {
	// Status is the statuses it takes: one ("404"), a class ("4xx") or a
	// range ("400-451"). Required unless When is set; then default: all.
	Status string `yaml:"status"`
	// When is a jq condition on the answer, {"status", "headers" (lower-
	// case names, first values), "body" (decoded when JSON, else text)}:
	// the entry takes only answers it holds for (the managed gateway's
	// selection expression on integration responses).
	When string `yaml:"when"`
	// As is reply or error. Default: reply for a 2xx status, else error.
	As string `yaml:"as"`
	// Error is the error frame's code, lower case letters and _. Default
	// integration_failed.
	Error string `yaml:"error"`
	// Data is JSON sent as the frame's data instead of the response body.
	Data string `yaml:"data"`
}

// httpSpec is a compiled HTTPRoute.
type httpSpec struct {
	method    string
	url       *urlTemplate
	headers   []headerParam
	identity  bool
	proxy     bool
	errorBody bool
	responses []responseRule
	retries   int
	backoff   time.Duration
	maxBytes  int64
}

type headerParam struct {
	name  string // canonical
	value textTemplate
}

// responseRule is a compiled ResponseConfig.
type responseRule struct {
	lo, hi int
	when   *jqExpr
	as     string // "" decides by the status
	code   string
	data   json.RawMessage
}

// matches reports whether the rule takes status.
func (r *responseRule) matches(status int) bool { return status >= r.lo && status <= r.hi }

const (
	defaultRetryBackoff     = 100 * time.Millisecond
	defaultMaxResponseBytes = 1 << 20
	maxRetries              = 10
	maxRetryWait            = time.Minute
)

// reservedHeaders are set by the gateway or the HTTP client only.
var reservedHeaders = map[string]bool{
	"Host": true, "Content-Length": true, "Content-Type": true, "Transfer-Encoding": true,
	"Connection": true, "Keep-Alive": true, "Proxy-Connection": true, "Te": true,
	"Trailer": true, "Upgrade": true,
}

// compileHTTP compiles the http keys of route key; noBody says the route
// has no message ($connect, $disconnect).
func compileHTTP(key string, h HTTPRoute, noBody bool) (*httpSpec, []error) {
	var errs []error
	s := &httpSpec{method: strings.ToUpper(h.Method), identity: !h.OmitIdentityHeaders, proxy: h.Proxy == nil || *h.Proxy,
		errorBody: h.ErrorBody, retries: h.Retries, backoff: h.RetryBackoff, maxBytes: h.MaxResponseBytes}
	if s.method == "" {
		s.method = http.MethodPost
	}
	switch s.method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
	default:
		errs = append(errs, ferr("method", "%q is not GET, POST, PUT, PATCH, DELETE or HEAD", h.Method))
	}
	bodyVar := func(field, name string) {
		if noBody && strings.HasPrefix(name, "body.") {
			errs = append(errs, ferr(field, "{%s}: %s has no message body", name, key))
		}
	}
	qnames := make([]string, 0, len(h.Query))
	for k := range h.Query {
		qnames = append(qnames, k)
	}
	sort.Strings(qnames)
	var extra []queryParam
	for _, k := range qnames {
		if k == "" || strings.ContainsAny(k, "{}") {
			errs = append(errs, ferr("query", "parameter name %q must be literal text", k))
			continue
		}
		t, err := parseText(h.Query[k])
		if err != nil {
			errs = append(errs, ferr("query."+k, "%v", err))
			continue
		}
		t.vars(func(n string) { bodyVar("query."+k, n) })
		extra = append(extra, queryParam{name: string(appendStrict(nil, k)), value: t})
	}
	if h.URL == "" {
		errs = append(errs, ferr("url", "an http integration needs an absolute http:// or https:// URL, got %q", h.URL))
	} else if u, err := parseURL(h.URL, extra); err != nil {
		errs = append(errs, ferr("url", "%v", err))
	} else {
		s.url = u
		for _, seg := range u.segs {
			seg.vars(func(n string) { bodyVar("url", n) })
		}
	}
	hnames := make([]string, 0, len(h.Headers))
	for k := range h.Headers {
		hnames = append(hnames, k)
	}
	sort.Strings(hnames)
	for _, k := range hnames {
		ck := http.CanonicalHeaderKey(k)
		switch {
		case !validToken(k):
			errs = append(errs, ferr("headers", "%q is not a header name", k))
			continue
		case reservedHeaders[ck] || strings.HasPrefix(ck, "Proxy-"):
			errs = append(errs, ferr("headers."+k, "set by the gateway or the HTTP client, not by a route"))
			continue
		case strings.HasPrefix(ck, "Wsgate-"):
			errs = append(errs, ferr("headers."+k, "Wsgate-* headers are the gateway's: an endpoint must be able to trust them"))
			continue
		}
		t, err := parseText(h.Headers[k])
		if err == nil {
			for _, p := range t.parts {
				if err == nil && p.name == "" {
					err = checkHeaderValue(p.lit)
				}
			}
		}
		if err != nil {
			errs = append(errs, ferr("headers."+k, "%v", err))
			continue
		}
		t.vars(func(n string) { bodyVar("headers."+k, n) })
		s.headers = append(s.headers, headerParam{name: ck, value: t})
	}
	if h.Retries < 0 || h.Retries > maxRetries {
		errs = append(errs, ferr("retries", "%d is not 0 to %d", h.Retries, maxRetries))
	} else if h.Retries > 0 && !idempotent(s.method) {
		errs = append(errs, ferr("retries", "%s is not idempotent: only GET, HEAD, PUT and DELETE are retried", s.method))
	}
	if s.backoff < 0 || s.backoff > maxRetryWait {
		errs = append(errs, ferr("retry_backoff", "%s is not 0 to %s", s.backoff, maxRetryWait))
	} else if s.backoff == 0 {
		s.backoff = defaultRetryBackoff
	}
	if s.maxBytes < 0 {
		errs = append(errs, ferr("max_response_bytes", "must not be negative"))
	} else if s.maxBytes == 0 {
		s.maxBytes = defaultMaxResponseBytes
	}
	if len(h.Responses) > 0 && s.proxy {
		errs = append(errs, ferr("responses", "only with proxy: false (a proxy route passes every answer through)"))
	}
	if len(h.Responses) > 0 && noBody {
		errs = append(errs, ferr("responses", "%s answers the upgrade, not the client", key))
	}
	for i, rc := range h.Responses {
		r, err := compileResponse(rc)
		if err != nil {
			errs = append(errs, ferr(fmt.Sprintf("responses[%d]", i), "%v", err))
			continue
		}
		s.responses = append(s.responses, r)
	}
	return s, errs
}

// compileResponse compiles one responses entry.
func compileResponse(rc ResponseConfig) (responseRule, error) {
	r := responseRule{lo: 100, hi: 599}
	if rc.When != "" {
		e, err := compileJQ(rc.When)
		if err != nil {
			return r, fmt.Errorf("when: %w", err)
		}
		r.when = e
	}
	if rc.Status != "" || rc.When == "" {
		lo, hi, err := parseStatusRange(rc.Status)
		if err != nil {
			return r, err
		}
		r.lo, r.hi = lo, hi
	}
	switch rc.As {
	case "", "reply", "error":
		r.as = rc.As
	default:
		return r, fmt.Errorf("as: %q is not reply or error", rc.As)
	}
	if rc.Error != "" {
		if rc.As == "reply" {
			return r, fmt.Errorf("error: a reply has no error code")
		}
		for _, c := range rc.Error {
			if (c < 'a' || c > 'z') && c != '_' {
				return r, fmt.Errorf("error: %q must be lower case letters and _", rc.Error)
			}
		}
	}
	r.code = rc.Error
	if rc.Data != "" {
		if !json.Valid([]byte(rc.Data)) {
			return r, fmt.Errorf("data: %q is not JSON", rc.Data)
		}
		r.data = json.RawMessage(rc.Data)
	}
	return r, nil
}

// parseStatusRange parses "404", "4xx" or "400-451".
func parseStatusRange(s string) (lo, hi int, err error) {
	bad := fmt.Errorf("status: %q is not a status (404), a class (4xx) or a range (400-451)", s)
	status := func(t string) (int, bool) {
		n, err := strconv.Atoi(t)
		return n, err == nil && len(t) == 3 && n >= 100 && n <= 599
	}
	switch {
	case len(s) == 3 && s[1:] == "xx" && s[0] >= '1' && s[0] <= '5':
		lo = int(s[0]-'0') * 100
		return lo, lo + 99, nil
	case strings.Contains(s, "-"):
		a, b, _ := strings.Cut(s, "-")
		var ok1, ok2 bool
		lo, ok1 = status(a)
		hi, ok2 = status(b)
		if !ok1 || !ok2 || lo > hi {
			return 0, 0, bad
		}
		return lo, hi, nil
	}
	n, ok := status(s)
	if !ok {
		return 0, 0, bad
	}
	return n, n, nil
}

// idempotent reports whether a request with method may be sent twice.
func idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}

// validToken reports whether s is an RFC 9110 token, as a header name must be.
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0 {
			continue
		}
		return false
	}
	return true
}
