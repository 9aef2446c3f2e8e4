package auth

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// requesterFunc adapts a function to Requester.
type requesterFunc func(ctx context.Context, subject string, data []byte, timeout time.Duration) ([]byte, error)

func (f requesterFunc) Request(ctx context.Context, subject string, data []byte, timeout time.Duration) ([]byte, error) {
	return f(ctx, subject, data, timeout)
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// fakeAuthorizer answers nats authorizer requests with a function of the
// request, counting them.
type fakeAuthorizer struct {
	calls  atomic.Int64
	answer func(req AuthorizerRequest) (string, error)
	last   atomic.Pointer[AuthorizerRequest]
}

func (f *fakeAuthorizer) Request(ctx context.Context, subject string, data []byte, timeout time.Duration) ([]byte, error) {
	f.calls.Add(1)
	if subject != "auth.check" {
		return nil, fmt.Errorf("wrong subject %q", subject)
	}
	if timeout <= 0 {
		return nil, errors.New("no timeout")
	}
	var req AuthorizerRequest
	if err := json.Unmarshal(data, &req); err != nil {
		return nil, err
	}
	f.last.Store(&req)
	s, err := f.answer(req)
	return []byte(s), err
}

// newNATSFixture builds a nats authorizer on f with options o.
func newNATSFixture(t *testing.T, f *fakeAuthorizer, o AuthorizerOptions, clock *fakeClock, logs *logBuffer) *authorizer {
	t.Helper()
	d := Deps{Requester: f, Now: clock.Now}
	if logs != nil {
		d.Logger = logs.logger()
	}
	a, errs := newNATSAuthorizer(NATSAuthorizerConfig{Subject: "auth.check", AuthorizerOptions: o}, "nats", d.withDefaults(), true)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	return a
}

func TestAuthorizerAllow(t *testing.T) {
	f := &fakeAuthorizer{answer: func(r AuthorizerRequest) (string, error) {
		return `{"allow":true,"principal":"user-7","claims":{"tenant":"acme","n":3},
			"permissions":{"publish":{"allow":["t.{claims.tenant}.>"]}},
			"context":{"plan":"pro"},"reason":"ok"}`, nil
	}}
	a := newNATSFixture(t, f, AuthorizerOptions{}, &fakeClock{now: testNow}, nil)
	cert := &x509.Certificate{Raw: []byte("der"), Subject: pkix.Name{CommonName: "dev-1"}, Issuer: pkix.Name{CommonName: "ca"}, SerialNumber: big.NewInt(99)}
	c := &Credentials{
		Protocol: "mqtt", Token: "tok", Username: "u", Password: "pw",
		Headers: map[string][]string{"X-A": {"1"}}, Query: map[string][]string{"q": {"2"}},
		Cookies: map[string]string{"session": "s"}, SourceIP: "10.0.0.1", UserAgent: "ua/1", ClientCert: cert,
	}
	p, err := a.Authenticate(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if p.ID != "user-7" || p.Context["plan"] != "pro" || p.Claims["tenant"] != "acme" {
		t.Errorf("principal %+v", p)
	}
	if p.Permissions == nil || p.Permissions.Publish.Allow[0] != "t.{claims.tenant}.>" {
		t.Errorf("permissions %+v", p.Permissions)
	}
	req := f.last.Load()
	want := AuthorizerRequest{
		Protocol: "mqtt", Token: "tok", Username: "u", Password: "pw",
		Headers: c.Headers, Query: c.Query, Cookies: c.Cookies, SourceIP: "10.0.0.1", UserAgent: "ua/1",
		ClientCert: &AuthorizerCert{Subject: "CN=dev-1", Issuer: "CN=ca", SerialNumber: "99",
			SHA256: sha256Hex("der")},
	}
	gotJSON, _ := json.Marshal(req)
	wantJSON, _ := json.Marshal(want)
	if string(gotJSON) != string(wantJSON) {
		t.Errorf("request\n got %s\nwant %s", gotJSON, wantJSON)
	}
}

func TestAuthorizerDeny(t *testing.T) {
	tests := []struct {
		name   string
		answer string
		reason string
	}{
		{"with reason", `{"allow":false,"reason":"account suspended"}`, "account suspended"},
		{"without reason", `{"allow":false}`, "no reason given"},
		{"long reason cut", `{"allow":false,"reason":"` + strings.Repeat("x", 500) + `"}`, strings.Repeat("x", 200) + "..."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs logBuffer
			f := &fakeAuthorizer{answer: func(AuthorizerRequest) (string, error) { return tt.answer, nil }}
			a := newNATSFixture(t, f, AuthorizerOptions{}, &fakeClock{now: testNow}, &logs)
			_, err := a.Authenticate(context.Background(), &Credentials{Token: "t"})
			if !errors.Is(err, ErrDenied) || !strings.HasSuffix(err.Error(), tt.reason) {
				t.Fatalf("err = %v", err)
			}
			if logs.String() != "" {
				t.Errorf("a clean deny was logged as a failure: %s", logs.String())
			}
		})
	}
}

// TestAuthorizerFailures checks that every way the authorizer can fail
// refuses the client and logs one line with the cause.
func TestAuthorizerFailures(t *testing.T) {
	tests := []struct {
		name   string
		answer func(ctx context.Context) (string, error)
		cause  string
	}{
		{"timeout", func(ctx context.Context) (string, error) { <-ctx.Done(); return "", ctx.Err() }, "deadline exceeded"},
		{"transport error", func(context.Context) (string, error) {
			return "", errors.New("nats: no responders available for request")
		}, "no responders"},
		{"not JSON", func(context.Context) (string, error) { return "OK", nil }, "malformed answer"},
		{"empty", func(context.Context) (string, error) { return "", nil }, "malformed answer"},
		{"no allow", func(context.Context) (string, error) { return `{"principal":"x"}`, nil }, `no \"allow\"`},
		{"allow not bool", func(context.Context) (string, error) { return `{"allow":"yes","principal":"x"}`, nil }, "malformed answer"},
		{"allow without principal", func(context.Context) (string, error) { return `{"allow":true}`, nil }, "without"},
		{"misspelt permissions", func(context.Context) (string, error) {
			return `{"allow":true,"principal":"x","permissions":{"publish":{"allow":[">"],"dney":["a"]}}}`, nil
		}, "unknown field"},
		{"bad ttl string", func(context.Context) (string, error) { return `{"allow":false,"ttl":"soon"}`, nil }, "ttl"},
		{"negative ttl", func(context.Context) (string, error) { return `{"allow":false,"ttl_seconds":-5}`, nil }, "negative"},
		{"both ttls", func(context.Context) (string, error) { return `{"allow":false,"ttl":"1s","ttl_seconds":1}`, nil }, "both"},
		{"ttl object", func(context.Context) (string, error) { return `{"allow":false,"ttl":{}}`, nil }, "ttl"},
		{"context not strings", func(context.Context) (string, error) { return `{"allow":true,"principal":"x","context":{"a":1}}`, nil }, "malformed answer"},
		{"huge", func(context.Context) (string, error) {
			return `{"allow":false,"reason":"` + strings.Repeat("x", maxReplyBytes) + `"}`, nil
		}, "max"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs logBuffer
			f := &fakeAuthorizer{}
			o := AuthorizerOptions{Timeout: 20 * time.Millisecond}
			a := newNATSFixture(t, f, o, &fakeClock{now: testNow}, &logs)
			a.call = func(ctx context.Context, _ []byte) ([]byte, error) {
				f.calls.Add(1)
				s, err := tt.answer(ctx)
				return []byte(s), err
			}
			_, err := a.Authenticate(context.Background(), &Credentials{Token: "t"})
			if !errors.Is(err, ErrDenied) {
				t.Fatalf("err = %v, want ErrDenied", err)
			}
			out := logs.String()
			if strings.Count(out, "\n") != 1 || !strings.Contains(out, "authorizer failed") || !strings.Contains(out, tt.cause) {
				t.Errorf("log = %q, want one line with %q", out, tt.cause)
			}
			// Failures are not cached.
			a.Authenticate(context.Background(), &Credentials{Token: "t"})
			if n := f.calls.Load(); n != 2 {
				t.Errorf("authorizer asked %d times, want 2 (failures are not cached)", n)
			}
		})
	}
}

// TestAuthorizerCache proves the authorizer is not asked again within the
// TTL and is asked after it.
func TestAuthorizerCache(t *testing.T) {
	tests := []struct {
		name    string
		answer  string
		maxTTL  time.Duration
		fresh   time.Duration // still cached after this long
		expired time.Duration // asked again after this long
		allow   bool
	}{
		{"ttl string", `{"allow":true,"principal":"p","ttl":"30s"}`, 0, 29 * time.Second, 30 * time.Second, true},
		{"ttl number", `{"allow":true,"principal":"p","ttl":30}`, 0, 29 * time.Second, 30 * time.Second, true},
		{"ttl_seconds", `{"allow":true,"principal":"p","ttl_seconds":1.5}`, 0, time.Second, 1500 * time.Millisecond, true},
		{"capped by default max_ttl", `{"allow":true,"principal":"p","ttl":"24h"}`, 0, 4 * time.Minute, 5 * time.Minute, true},
		{"capped by max_ttl", `{"allow":true,"principal":"p","ttl_seconds":1e12}`, time.Minute, 59 * time.Second, time.Minute, true},
		{"deny cached", `{"allow":false,"reason":"no","ttl":"10s"}`, 0, 9 * time.Second, 10 * time.Second, false},
		{"no ttl: not cached", `{"allow":true,"principal":"p"}`, 0, -1, 0, true},
		{"deny without ttl: not cached", `{"allow":false}`, 0, -1, 0, false},
		{"cache disabled", `{"allow":true,"principal":"p","ttl":"30s"}`, -1, -1, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := &fakeClock{now: testNow}
			f := &fakeAuthorizer{answer: func(AuthorizerRequest) (string, error) { return tt.answer, nil }}
			a := newNATSFixture(t, f, AuthorizerOptions{MaxTTL: tt.maxTTL}, clock, nil)
			ask := func(want int64) {
				t.Helper()
				p, err := a.Authenticate(context.Background(), &Credentials{Token: "t"})
				if tt.allow != (err == nil) {
					t.Fatalf("err = %v", err)
				}
				if tt.allow && p.ID != "p" {
					t.Fatalf("principal %+v", p)
				}
				if n := f.calls.Load(); n != want {
					t.Fatalf("at +%v: authorizer asked %d times, want %d", clock.Now().Sub(testNow), n, want)
				}
			}
			ask(1)
			if tt.fresh < 0 {
				ask(2)
				return
			}
			clock.Advance(tt.fresh)
			ask(1)
			clock.Advance(tt.expired - tt.fresh)
			ask(2)
			ask(2)
		})
	}
}

func TestAuthorizerIdentity(t *testing.T) {
	clock := &fakeClock{now: testNow}
	f := &fakeAuthorizer{answer: func(r AuthorizerRequest) (string, error) {
		return fmt.Sprintf(`{"allow":true,"principal":%q,"ttl":"1m"}`, r.UserAgent), nil
	}}
	a := newNATSFixture(t, f, AuthorizerOptions{IdentitySources: []string{"header:authorization", "query:token", "cookie:session"}}, clock, nil)
	hdr := func(v ...string) map[string][]string { return map[string][]string{"Authorization": v} }
	tests := []struct {
		name  string
		c     Credentials
		calls int64 // total after this one
		id    string
		err   error
	}{
		{"nothing", Credentials{Token: "ignored", UserAgent: "x"}, 0, "", ErrNoCredentials},
		{"empty header", Credentials{Headers: hdr(""), UserAgent: "x"}, 0, "", ErrNoCredentials},
		{"header", Credentials{Headers: hdr("Bearer a"), UserAgent: "one"}, 1, "one", nil},
		{"same header, other user agent: cached", Credentials{Headers: hdr("Bearer a"), UserAgent: "two"}, 1, "one", nil},
		{"same header, other token: cached", Credentials{Headers: hdr("Bearer a"), Token: "zzz", UserAgent: "two"}, 1, "one", nil},
		{"other header", Credentials{Headers: hdr("Bearer b"), UserAgent: "three"}, 2, "three", nil},
		{"header split differently", Credentials{Headers: hdr("Bearer", " b"), UserAgent: "four"}, 3, "four", nil},
		{"query", Credentials{Query: map[string][]string{"token": {"a"}}, UserAgent: "five"}, 4, "five", nil},
		{"cookie with the same value", Credentials{Cookies: map[string]string{"session": "a"}, UserAgent: "six"}, 5, "six", nil},
		{"other cookie", Credentials{Cookies: map[string]string{"other": "a"}, UserAgent: "x"}, 5, "", ErrNoCredentials},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := a.Authenticate(context.Background(), &tt.c)
			if !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if n := f.calls.Load(); n != tt.calls {
				t.Errorf("calls = %d, want %d", n, tt.calls)
			}
			if err == nil && p.ID != tt.id {
				t.Errorf("ID = %q, want %q", p.ID, tt.id)
			}
		})
	}
}

func TestAuthorizerDefaultIdentity(t *testing.T) {
	f := &fakeAuthorizer{answer: func(AuthorizerRequest) (string, error) { return `{"allow":true,"principal":"p","ttl":"1m"}`, nil }}
	a := newNATSFixture(t, f, AuthorizerOptions{}, &fakeClock{now: testNow}, nil)
	for i, c := range []Credentials{
		{Token: "ab"}, {Username: "ab"}, {Password: "ab"}, {Username: "a", Password: "b"}, {Username: "ab", Password: ""}, {Token: "ab"},
	} {
		if _, err := a.Authenticate(context.Background(), &c); err != nil {
			t.Fatalf("%d: %v", i, err)
		}
	}
	// Each distinct combination is its own identity; the last repeats the first.
	if n := f.calls.Load(); n != 4 {
		t.Errorf("calls = %d, want 4", n)
	}
	if _, err := a.Authenticate(context.Background(), &Credentials{Headers: map[string][]string{"Authorization": {"x"}}}); !errors.Is(err, ErrNoCredentials) {
		t.Errorf("headers only: %v", err)
	}
}

func TestAuthorizerCacheBounded(t *testing.T) {
	f := &fakeAuthorizer{answer: func(AuthorizerRequest) (string, error) { return `{"allow":true,"principal":"p","ttl":"1m"}`, nil }}
	a := newNATSFixture(t, f, AuthorizerOptions{CacheSize: 3}, &fakeClock{now: testNow}, nil)
	for i := range 10 {
		if _, err := a.Authenticate(context.Background(), &Credentials{Token: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
		if n := a.cache.len(); n > 3 {
			t.Fatalf("cache holds %d entries, max 3", n)
		}
	}
	// The newest are kept, the oldest evicted.
	calls := f.calls.Load()
	a.Authenticate(context.Background(), &Credentials{Token: "9"})
	if f.calls.Load() != calls {
		t.Error("newest entry was evicted")
	}
	a.Authenticate(context.Background(), &Credentials{Token: "0"})
	if f.calls.Load() != calls+1 {
		t.Error("oldest entry was kept")
	}
}

// TestAuthorizerSharesFlight checks that clients with the same identity
// arriving together share one request.
func TestAuthorizerSharesFlight(t *testing.T) {
	release := make(chan struct{})
	f := &fakeAuthorizer{answer: func(AuthorizerRequest) (string, error) {
		<-release
		return `{"allow":true,"principal":"p"}`, nil
	}}
	a := newNATSFixture(t, f, AuthorizerOptions{}, &fakeClock{now: testNow}, nil)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			_, err := a.Authenticate(context.Background(), &Credentials{Token: "same"})
			errs <- err
		})
	}
	// Let the first request start, then the rest join it.
	for f.calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond)
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := f.calls.Load(); n >= 8 {
		t.Errorf("authorizer asked %d times for 8 concurrent identical clients", n)
	}
}

func TestAuthorizerReplyJSON(t *testing.T) {
	r := AuthorizerReply{Allow: true, Principal: "p", TTL: 90 * time.Second, Context: map[string]string{"a": "b"},
		Permissions: &Permissions{Publish: Rules{Allow: []string{"x"}}}}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"ttl":"1m30s"`) {
		t.Errorf("marshalled %s", b)
	}
	var back AuthorizerReply
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.TTL != r.TTL || back.Principal != "p" || back.Context["a"] != "b" || back.Permissions.Publish.Allow[0] != "x" {
		t.Errorf("round trip: %+v", back)
	}
	for _, tt := range []struct {
		in  string
		ttl time.Duration
	}{
		{`{"allow":false}`, 0},
		{`{"allow":false,"ttl":null}`, 0},
		{`{"allow":false,"ttl":"250ms"}`, 250 * time.Millisecond},
		{`{"allow":false,"ttl":0.5}`, 500 * time.Millisecond},
		{`{"allow":false,"ttl_seconds":60}`, time.Minute},
		{`{"allow":false,"ttl_seconds":1e300}`, maxTTLSeconds * time.Second},
	} {
		var r AuthorizerReply
		if err := json.Unmarshal([]byte(tt.in), &r); err != nil || r.TTL != tt.ttl {
			t.Errorf("%s: ttl %v, %v; want %v", tt.in, r.TTL, err, tt.ttl)
		}
	}
}
