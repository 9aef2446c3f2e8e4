package jsonws

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wsgate/wsgate/bridge"
)

// seen is one request an endpoint received.
type seen struct {
	method, path, rawQuery string
	host                   string
	header                 http.Header
	body                   string
}

// recorder is a test endpoint: it records every request and answers with
// what answer says.
type recorder struct {
	mu     sync.Mutex
	got    []seen
	answer func(n int, w http.ResponseWriter, r *http.Request) // n counts requests from 0
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	rec.mu.Lock()
	n := len(rec.got)
	rec.got = append(rec.got, seen{r.Method, r.URL.EscapedPath(), r.URL.RawQuery, r.Host, r.Header.Clone(), string(b)})
	rec.mu.Unlock()
	if rec.answer != nil {
		rec.answer(n, w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"ok":true}`)
}

func (rec *recorder) requests() []seen {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]seen(nil), rec.got...)
}

// httpFixture starts rec and compiles route "x" with h, its url relative
// to the server.
func httpFixture(t *testing.T, rec *recorder, h HTTPRoute, timeout time.Duration) (*Protocol, *route, *httptest.Server) {
	t.Helper()
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	h.URL = srv.URL + h.URL
	p, err := New(Config{Routes: map[string]RouteConfig{"x": {Integration: kindHTTP, HTTPRoute: h, Timeout: timeout}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.http.CloseIdleConnections)
	return p, p.cur().routes["x"], srv
}

func lookupMap(m map[string]string) func(string) (string, bool) {
	return func(n string) (string, bool) { v, ok := m[n]; return v, ok }
}

var identity = bridge.Header{"Wsgate-Connection-Id": {"c1"}, "Wsgate-Route": {"x"}}

func TestHTTPMethods(t *testing.T) {
	for _, m := range []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "get"} {
		t.Run(m, func(t *testing.T) {
			rec := &recorder{}
			p, r, _ := httpFixture(t, rec, HTTPRoute{Method: m, URL: "/orders/{body.id}"}, 5*time.Second)
			a, err := p.callHTTP(context.Background(), r, lookupMap(map[string]string{"body.id": "42"}), identity, []byte(`{"id":42}`))
			if err != nil {
				t.Fatal(err)
			}
			reqs := rec.requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests", len(reqs))
			}
			got := reqs[0]
			if want := strings.ToUpper(m); got.method != want || got.path != "/orders/42" {
				t.Errorf("endpoint got %s %s, want %s /orders/42", got.method, got.path, want)
			}
			hasBody := r.http.method == "POST" || r.http.method == "PUT" || r.http.method == "PATCH"
			if hasBody != (got.body == `{"id":42}`) || !hasBody && got.body != "" {
				t.Errorf("%s sent body %q", got.method, got.body)
			}
			if hasBody && got.header.Get("Content-Type") != "application/json" {
				t.Errorf("Content-Type %q", got.header.Get("Content-Type"))
			}
			if got.header.Get("Wsgate-Connection-Id") != "c1" || got.header.Get("Wsgate-Route") != "x" {
				t.Errorf("identity headers missing: %v", got.header)
			}
			wantBody := `{"ok":true}`
			if got.method == "HEAD" {
				wantBody = ""
			}
			if a.status != 200 || string(a.body) != wantBody {
				t.Errorf("answer %d %q", a.status, a.body)
			}
		})
	}
}

func TestHTTPQueryAndHeaders(t *testing.T) {
	rec := &recorder{}
	p, r, _ := httpFixture(t, rec, HTTPRoute{
		Method: "GET", URL: "/q/{context.tenant}?fixed=1&sym={body.symbol}",
		Query:               map[string]string{"conn": "{connectionId}", "b c": "x"},
		Headers:             map[string]string{"authorization": "Bearer {context.token}", "X-Sym": "{body.symbol}"},
		OmitIdentityHeaders: true,
	}, 5*time.Second)
	vals := map[string]string{"context.tenant": "t 1", "body.symbol": "A&B", "connectionId": "c1", "context.token": "s3cr\xe9t"}
	if _, err := p.callHTTP(context.Background(), r, lookupMap(vals), identity, nil); err != nil {
		t.Fatal(err)
	}
	got := rec.requests()[0]
	if got.path != "/q/t%201" || got.rawQuery != "fixed=1&sym=A%26B&b%20c=x&conn=c1" {
		t.Errorf("got %s?%s", got.path, got.rawQuery)
	}
	if got.header.Get("Authorization") != "Bearer s3cr\xe9t" || got.header.Get("X-Sym") != "A&B" {
		t.Errorf("headers %v", got.header)
	}
	if got.header.Get("Wsgate-Connection-Id") != "" {
		t.Errorf("omit_identity_headers sent %v", got.header)
	}
}

// TestHTTPHostile sends every hostile value through a URL, a query and a
// header to a real endpoint: either nothing is sent, or the endpoint sees
// the configured path shape with the value in its place, on its own host.
func TestHTTPHostile(t *testing.T) {
	rec := &recorder{}
	p, r, srv := httpFixture(t, rec, HTTPRoute{Method: "GET", URL: "/v1/{body.id}/items?q={body.id}",
		Headers: map[string]string{"X-Id": "{body.id}"}}, 5*time.Second)
	host := strings.TrimPrefix(srv.URL, "http://")
	for _, v := range hostileValues {
		n := len(rec.requests())
		_, err := p.callHTTP(context.Background(), r, lookupMap(map[string]string{"body.id": v}), nil, nil)
		reqs := rec.requests()
		if err != nil {
			if !errors.Is(err, errTemplateValue) {
				t.Errorf("%q: %v", v, err)
			}
			if len(reqs) != n {
				t.Errorf("%q: refused, yet a request was sent", v)
			}
			if v != "" && v != "." && v != ".." && !strings.ContainsAny(v, "\r\n\x00\x7f") {
				t.Errorf("%q refused: %v", v, err)
			}
			continue
		}
		got := reqs[len(reqs)-1]
		segs := strings.Split(got.path, "/")
		if got.host != host || len(segs) != 4 || segs[1] != "v1" || segs[3] != "items" || got.header.Get("X-Id") != strings.Trim(v, " \t") { // HTTP drops the white space around a value
			t.Errorf("%q: endpoint got %s %s?%s host %s X-Id %q", v, got.method, got.path, got.rawQuery, got.host, got.header.Get("X-Id"))
		}
		checkRendered(t, v, "http://api.example:8443"+got.path+"?"+got.rawQuery)
	}
}

func TestHTTPStatusMapping(t *testing.T) {
	answer := func(_ int, w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/404":
			http.Error(w, `{"missing":true}`, http.StatusNotFound)
		case "/409":
			http.Error(w, "conflict", http.StatusConflict)
		case "/500":
			http.Error(w, "secret stack trace", http.StatusInternalServerError)
		case "/302":
			http.Redirect(w, r, "http://evil.example/", http.StatusFound)
		case "/201":
			w.WriteHeader(http.StatusCreated)
			_, _ = io.WriteString(w, `{"id":1}`)
		}
	}
	f := false
	mapped := HTTPRoute{Proxy: &f, Responses: []ResponseConfig{
		{Status: "404", As: "reply", Data: `{"found":false}`},
		{Status: "409", Error: "conflict"},
		{Status: "400-499", As: "error", Error: "bad_input"},
		{Status: "201", As: "error", Error: "odd"},
	}}
	selected := HTTPRoute{Proxy: &f, Responses: []ResponseConfig{
		{When: `(.body | objects | .missing) // false`, As: "reply", Data: `{"known":false}`},
		{Status: "4xx", When: `.headers["content-type"] | startswith("text/plain")`, Error: "plain"},
	}}
	tests := []struct {
		name  string
		h     HTTPRoute
		path  string
		want  outcome
		class string
	}{
		{"when holds", selected, "/404", outcome{reply: true, code: errIntegration, status: 404, data: []byte(`{"known":false}`)}, "http_4xx"},
		{"when on headers", selected, "/409", outcome{code: "plain", status: 409}, "http_4xx"},
		{"no when holds", selected, "/201", outcome{reply: true, code: errIntegration, status: 201, data: []byte(`{"id":1}`)}, ""},
		{"proxy 2xx", HTTPRoute{}, "/201", outcome{reply: true, code: errIntegration, status: 201, data: []byte(`{"id":1}`)}, ""},
		{"proxy 404", HTTPRoute{}, "/404", outcome{code: errIntegration, status: 404}, "http_4xx"},
		{"proxy 500 hides the body", HTTPRoute{}, "/500", outcome{code: errIntegration, status: 500}, "http_5xx"},
		{"proxy 500 with error_body", HTTPRoute{ErrorBody: true}, "/500", outcome{code: errIntegration, status: 500, data: []byte("secret stack trace\n")}, "http_5xx"},
		{"redirect not followed", HTTPRoute{}, "/302", outcome{code: errIntegration, status: 302}, "http_3xx"},
		{"mapped 404 to a reply", mapped, "/404", outcome{reply: true, code: errIntegration, status: 404, data: []byte(`{"found":false}`)}, "http_4xx"},
		{"mapped 409 code", mapped, "/409", outcome{code: "conflict", status: 409}, "http_4xx"},
		{"mapped 201 to an error", mapped, "/201", outcome{code: "odd", status: 201}, ""},
		{"unmapped 500", mapped, "/500", outcome{code: errIntegration, status: 500}, "http_5xx"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{answer: answer}
			h := tc.h
			h.URL = tc.path
			p, r, _ := httpFixture(t, rec, h, 5*time.Second)
			a, err := p.callHTTP(context.Background(), r, lookupMap(nil), nil, []byte(`{}`))
			if err != nil {
				t.Fatal(err)
			}
			o, err := r.http.outcome(context.Background(), a, p.cur().jq)
			if err != nil {
				t.Fatal(err)
			}
			if o.reply != tc.want.reply || o.code != tc.want.code || o.status != tc.want.status || string(o.data) != string(tc.want.data) ||
				(o.data == nil) != (tc.want.data == nil) {
				t.Errorf("outcome %+v (data %q), want %+v (data %q)", o, o.data, tc.want, tc.want.data)
			}
			if c := httpErrorClass(a, nil); c != tc.class {
				t.Errorf("class %q, want %q", c, tc.class)
			}
			if n := len(rec.requests()); n != 1 {
				t.Errorf("%d requests", n)
			}
		})
	}
}

func TestHTTPResponseWhenFails(t *testing.T) {
	f := false
	rec := &recorder{answer: func(_ int, w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "text") }}
	p, r, _ := httpFixture(t, rec, HTTPRoute{URL: "/x", Proxy: &f, Responses: []ResponseConfig{{When: ".body.missing"}}}, 5*time.Second)
	a, err := p.callHTTP(context.Background(), r, lookupMap(nil), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.http.outcome(context.Background(), a, p.cur().jq); !errors.Is(err, errTransform) {
		t.Errorf("a when that cannot index a string: %v", err)
	}
}

func TestHTTPRetry(t *testing.T) {
	failTwice := func(n int, w http.ResponseWriter, _ *http.Request) {
		if n < 2 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "done")
	}
	tests := []struct {
		name     string
		h        HTTPRoute
		answer   func(int, http.ResponseWriter, *http.Request)
		requests int
		status   int
	}{
		{"GET retried until it succeeds", HTTPRoute{Method: "GET", Retries: 3, RetryBackoff: time.Millisecond}, failTwice, 3, 200},
		{"retries run out", HTTPRoute{Method: "PUT", Retries: 1, RetryBackoff: time.Millisecond}, failTwice, 2, 503},
		{"off by default", HTTPRoute{Method: "GET"}, failTwice, 1, 503},
		{"a 404 is an answer, not a failure", HTTPRoute{Method: "DELETE", Retries: 3, RetryBackoff: time.Millisecond},
			func(_ int, w http.ResponseWriter, _ *http.Request) { http.NotFound(w, nil) }, 1, 404},
		{"429 retried", HTTPRoute{Method: "HEAD", Retries: 1, RetryBackoff: time.Millisecond},
			func(n int, w http.ResponseWriter, _ *http.Request) {
				if n == 0 {
					w.WriteHeader(http.StatusTooManyRequests)
				}
			}, 2, 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{answer: tc.answer}
			tc.h.URL = "/r"
			p, r, _ := httpFixture(t, rec, tc.h, 5*time.Second)
			a, err := p.callHTTP(context.Background(), r, lookupMap(nil), nil, []byte("x"))
			if err != nil {
				t.Fatal(err)
			}
			if a.status != tc.status || len(rec.requests()) != tc.requests {
				t.Errorf("status %d after %d requests, want %d after %d", a.status, len(rec.requests()), tc.status, tc.requests)
			}
		})
	}
	if _, err := New(Config{Routes: map[string]RouteConfig{"x": {Integration: kindHTTP, HTTPRoute: HTTPRoute{URL: "http://h/", Retries: 1}}}}); err == nil ||
		!strings.Contains(err.Error(), "routes.x.retries: POST is not idempotent") {
		t.Errorf("retries on POST: %v", err)
	}
}

func TestHTTPTimeout(t *testing.T) {
	release := make(chan struct{})
	rec := &recorder{answer: func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 0 {
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		_, _ = io.WriteString(w, "second try")
	}}
	defer close(release)
	p, r, _ := httpFixture(t, rec, HTTPRoute{Method: "GET", URL: "/slow"}, 50*time.Millisecond)
	a, err := p.callHTTP(context.Background(), r, lookupMap(nil), nil, nil)
	if !errors.Is(err, bridge.ErrTimeout) || httpErrorClass(a, err) != errTimeout {
		t.Fatalf("slow endpoint: %v, %v", a, err)
	}
	// With a retry, the second try answers.
	p, r, _ = httpFixture(t, rec, HTTPRoute{Method: "GET", URL: "/slow", Retries: 1, RetryBackoff: time.Millisecond}, 50*time.Millisecond)
	rec.mu.Lock()
	rec.got = nil
	rec.mu.Unlock()
	if a, err := p.callHTTP(context.Background(), r, lookupMap(nil), nil, nil); err != nil || string(a.body) != "second try" {
		t.Errorf("retry after a timeout: %v, %v", a, err)
	}
	// The connection's end stops a call and its retries.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := p.callHTTP(ctx, r, lookupMap(nil), nil, nil); err == nil {
		t.Error("a call on an ended connection succeeded")
	}
}

func TestHTTPResponseBound(t *testing.T) {
	rec := &recorder{answer: func(_ int, w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, strings.Repeat("x", 101))
	}}
	p, r, _ := httpFixture(t, rec, HTTPRoute{URL: "/big", MaxResponseBytes: 100}, 5*time.Second)
	a, err := p.callHTTP(context.Background(), r, lookupMap(nil), nil, nil)
	if !errors.Is(err, errTooLarge) || !errors.Is(err, errUpstream) || httpErrorClass(a, err) != "http_too_large" {
		t.Errorf("101 bytes over a bound of 100: %v, %v", a, err)
	}
	p, r, _ = httpFixture(t, rec, HTTPRoute{URL: "/big", MaxResponseBytes: 101}, 5*time.Second)
	if a, err := p.callHTTP(context.Background(), r, lookupMap(nil), nil, nil); err != nil || len(a.body) != 101 {
		t.Errorf("101 bytes within a bound of 101: %v", err)
	}
}

func TestHTTPTransportError(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there now
	p, err := New(Config{Routes: map[string]RouteConfig{"x": {Integration: kindHTTP, HTTPRoute: HTTPRoute{URL: url + "/x"}}}})
	if err != nil {
		t.Fatal(err)
	}
	a, err := p.callHTTP(context.Background(), p.cur().routes["x"], lookupMap(nil), nil, nil)
	if !errors.Is(err, errUpstream) || httpErrorClass(a, err) != "http_transport" {
		t.Errorf("closed port: %v", err)
	}
}

func TestCompileHTTPErrors(t *testing.T) {
	f := false
	tests := []struct {
		name string
		key  string
		h    HTTPRoute
		want string
	}{
		{"method", "x", HTTPRoute{URL: "http://h/", Method: "TRACE"}, `routes.x.method: "TRACE" is not`},
		{"host variable", "x", HTTPRoute{URL: "http://{body.h}/"}, "routes.x.url:"},
		{"unknown variable", "x", HTTPRoute{URL: "http://h/{nope}"}, "routes.x.url:"},
		{"query variable", "x", HTTPRoute{URL: "http://h/", Query: map[string]string{"a": "{nope}"}}, "routes.x.query.a:"},
		{"query name", "x", HTTPRoute{URL: "http://h/", Query: map[string]string{"{body.k}": "v"}}, "routes.x.query:"},
		{"header name", "x", HTTPRoute{URL: "http://h/", Headers: map[string]string{"a b": "v"}}, "routes.x.headers:"},
		{"header CRLF", "x", HTTPRoute{URL: "http://h/", Headers: map[string]string{"X-A": "a\r\nX-B: b"}}, "routes.x.headers.X-A:"},
		{"header host", "x", HTTPRoute{URL: "http://h/", Headers: map[string]string{"host": "evil"}}, "routes.x.headers.host:"},
		{"wsgate header", "x", HTTPRoute{URL: "http://h/", Headers: map[string]string{"Wsgate-Principal": "admin"}}, "routes.x.headers.Wsgate-Principal:"},
		{"body in $connect url", "$connect", HTTPRoute{URL: "http://h/{body.x}"}, "routes.$connect.url: {body.x}"},
		{"body in $disconnect header", "$disconnect", HTTPRoute{URL: "http://h/", Headers: map[string]string{"X": "{body.x}"}}, "routes.$disconnect.headers.X: {body.x}"},
		{"negative retries", "x", HTTPRoute{URL: "http://h/", Method: "GET", Retries: -1}, "routes.x.retries:"},
		{"too many retries", "x", HTTPRoute{URL: "http://h/", Method: "GET", Retries: 11}, "routes.x.retries:"},
		{"retry on PATCH", "x", HTTPRoute{URL: "http://h/", Method: "PATCH", Retries: 1}, "routes.x.retries: PATCH"},
		{"negative backoff", "x", HTTPRoute{URL: "http://h/", RetryBackoff: -1}, "routes.x.retry_backoff:"},
		{"long backoff", "x", HTTPRoute{URL: "http://h/", RetryBackoff: time.Hour}, "routes.x.retry_backoff: 1h0m0s is not 0 to 1m0s"},
		{"negative bound", "x", HTTPRoute{URL: "http://h/", MaxResponseBytes: -1}, "routes.x.max_response_bytes:"},
		{"responses on a proxy", "x", HTTPRoute{URL: "http://h/", Responses: []ResponseConfig{{Status: "404"}}}, "routes.x.responses: only with proxy: false"},
		{"bad status", "x", HTTPRoute{URL: "http://h/", Proxy: &f, Responses: []ResponseConfig{{Status: "4x"}}}, "routes.x.responses[0]: status:"},
		{"bad range", "x", HTTPRoute{URL: "http://h/", Proxy: &f, Responses: []ResponseConfig{{Status: "500-400"}}}, "routes.x.responses[0]: status:"},
		{"bad as", "x", HTTPRoute{URL: "http://h/", Proxy: &f, Responses: []ResponseConfig{{Status: "404", As: "ok"}}}, "routes.x.responses[0]: as:"},
		{"bad code", "x", HTTPRoute{URL: "http://h/", Proxy: &f, Responses: []ResponseConfig{{Status: "404", Error: "Not Found"}}}, "routes.x.responses[0]: error:"},
		{"bad data", "x", HTTPRoute{URL: "http://h/", Proxy: &f, Responses: []ResponseConfig{{Status: "404", Data: "{"}}}, "routes.x.responses[0]: data:"},
		{"no status nor when", "x", HTTPRoute{URL: "http://h/", Proxy: &f, Responses: []ResponseConfig{{As: "reply"}}}, "routes.x.responses[0]: status:"},
		{"bad when", "x", HTTPRoute{URL: "http://h/", Proxy: &f, Responses: []ResponseConfig{{When: ".status =="}}}, "routes.x.responses[0]: when: jq: line 1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Config{Routes: map[string]RouteConfig{tc.key: {Integration: kindHTTP, HTTPRoute: tc.h}}}.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate = %v, want %q", err, tc.want)
			}
		})
	}
	err := Config{Routes: map[string]RouteConfig{"x": {Integration: kindPublish, Subject: "a", HTTPRoute: HTTPRoute{Method: "GET", Retries: 1}}}}.Validate()
	if err == nil || !strings.Contains(err.Error(), "routes.x.method: only http") || !strings.Contains(err.Error(), "routes.x.retries: only http") {
		t.Errorf("http keys on publish: %v", err)
	}
}
