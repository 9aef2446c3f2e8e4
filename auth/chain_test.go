package auth

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// stubAuth answers with a fixed principal or error and counts calls.
type stubAuth struct {
	p     *Principal
	err   error
	calls int
}

func (s *stubAuth) Authenticate(context.Context, *Credentials) (*Principal, error) {
	s.calls++
	return s.p, s.err
}

func TestChainOrder(t *testing.T) {
	alice := &Principal{ID: "alice"}
	bob := &Principal{ID: "bob"}
	pass := func() *stubAuth { return &stubAuth{err: ErrNoCredentials} }
	tests := []struct {
		name  string
		links []*stubAuth
		anon  *Permissions
		c     Credentials
		id    string
		err   error
		calls []int
	}{
		{"first decides", []*stubAuth{{p: alice}, {p: bob}}, nil, Credentials{Token: "t"}, "alice", nil, []int{1, 0}},
		{"pass to next", []*stubAuth{pass(), {p: bob}}, nil, Credentials{Token: "t"}, "bob", nil, []int{1, 1}},
		{"refusal stops", []*stubAuth{{err: denied("bad")}, {p: bob}}, nil, Credentials{Token: "t"}, "", ErrDenied, []int{1, 0}},
		{"wrapped no-credentials passes", []*stubAuth{{err: errors.Join(errors.New("x"), ErrNoCredentials)}, {p: bob}}, nil, Credentials{Token: "t"}, "bob", nil, []int{1, 1}},
		{"other error stops", []*stubAuth{{err: errors.New("boom")}, {p: bob}}, nil, Credentials{Token: "t"}, "", nil, []int{1, 0}},
		{"nil principal refused", []*stubAuth{{}}, nil, Credentials{Token: "t"}, "", ErrDenied, []int{1}},
		{"nobody, credentials presented", []*stubAuth{pass(), pass()}, nil, Credentials{Token: "t"}, "", ErrDenied, []int{1, 1}},
		{"nobody, nothing presented", []*stubAuth{pass()}, nil, Credentials{}, "", ErrNoCredentials, []int{1}},
		{"anonymous", []*stubAuth{pass()}, &Permissions{Subscribe: Rules{Allow: []string{"public.>"}}}, Credentials{Headers: map[string][]string{"X": {"y"}}}, "", nil, []int{1}},
		{"anonymous not for bad token", []*stubAuth{pass()}, &Permissions{}, Credentials{Token: "wrong"}, "", ErrDenied, []int{1}},
		{"anonymous not for bad password", []*stubAuth{pass()}, &Permissions{}, Credentials{Password: "wrong"}, "", ErrDenied, []int{1}},
		{"anonymous not for username", []*stubAuth{pass()}, &Permissions{}, Credentials{Username: "x"}, "", ErrDenied, []int{1}},
		{"anonymous only, no authenticators", nil, &Permissions{}, Credentials{}, "", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ch := &chain{anonymous: tt.anon, log: testLogger(t)}
			for _, l := range tt.links {
				ch.links = append(ch.links, link{typ: "stub", a: l})
			}
			p, err := ch.Authenticate(context.Background(), &tt.c)
			switch {
			case tt.err != nil && !errors.Is(err, tt.err):
				t.Fatalf("err = %v, want %v", err, tt.err)
			case tt.err == nil && tt.id == "" && tt.anon == nil && err == nil:
				t.Fatalf("accepted %+v", p)
			case tt.err == nil && (tt.id != "" || tt.anon != nil) && err != nil:
				t.Fatal(err)
			}
			if err == nil {
				if p.ID != tt.id {
					t.Errorf("ID = %q, want %q", p.ID, tt.id)
				}
				if p.Permissions == nil {
					t.Error("nil permissions: would allow everything")
				}
			}
			for i, l := range tt.links {
				if l.calls != tt.calls[i] {
					t.Errorf("authenticator %d called %d times, want %d", i, l.calls, tt.calls[i])
				}
			}
		})
	}
}

func TestChainNilCredentials(t *testing.T) {
	ch := &chain{anonymous: &Permissions{}, log: testLogger(t)}
	if _, err := ch.Authenticate(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
}

// TestChainPermissions checks the one place where defaults and templates
// are applied, for every kind of principal.
func TestChainPermissions(t *testing.T) {
	defaults := &Permissions{
		Publish:   Rules{Allow: []string{"users.{principal}.>", "t.{claims.tenant}.>"}},
		Subscribe: Rules{Allow: []string{"users.{principal}.>"}, Deny: []string{"users.{principal}.secret"}},
	}
	tests := []struct {
		name     string
		defaults *Permissions
		p        *Principal
		err      bool
		pub      map[string]bool
	}{
		{"defaults filled in", defaults, &Principal{ID: "u1", Claims: map[string]any{"tenant": "acme"}}, false,
			map[string]bool{"users.u1.x": true, "users.u2.x": false, "t.acme.x": true}},
		{"missing claim drops its allow", defaults, &Principal{ID: "u1"}, false,
			map[string]bool{"users.u1.x": true, "t.x": false}},
		{"hostile id", defaults, &Principal{ID: "u1.>", Claims: map[string]any{"tenant": "*"}}, false,
			map[string]bool{"users.u1.x": false, "users.u1%2E%3E.x": true, "t.acme.x": false, "t.%2A.x": true}},
		{"deny template needs the id", defaults, &Principal{}, true, nil},
		{"no defaults: nothing", nil, &Principal{ID: "u1"}, false, map[string]bool{"users.u1.x": false}},
		{"own permissions beat defaults", defaults, &Principal{ID: "u1", Permissions: &Permissions{Publish: Rules{Allow: []string{"own.{principal}"}}}}, false,
			map[string]bool{"own.u1": true, "users.u1.x": false}},
		{"own deny template fails closed", defaults, &Principal{ID: "u1", Permissions: &Permissions{Publish: Rules{Allow: []string{">"}, Deny: []string{"x.{claims.missing}"}}}}, true, nil},
		{"own invalid deny fails closed", defaults, &Principal{ID: "u1", Permissions: &Permissions{Publish: Rules{Allow: []string{">"}, Deny: []string{"x y"}}}}, true, nil},
		{"own empty permissions", defaults, &Principal{ID: "u1", Permissions: &Permissions{}}, false, map[string]bool{"users.u1.x": false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs logBuffer
			ch := &chain{defaults: tt.defaults, log: logs.logger(), links: []link{{typ: "stub", a: &stubAuth{p: tt.p}}}}
			p, err := ch.Authenticate(context.Background(), &Credentials{Token: "t"})
			if tt.err {
				if !errors.Is(err, ErrDenied) {
					t.Fatalf("err = %v, want ErrDenied", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for s, want := range tt.pub {
				if got := p.Permissions.CanPublish(s); got != want {
					t.Errorf("CanPublish(%q) = %v, want %v", s, got, want)
				}
			}
			if tt.p.Permissions == p.Permissions {
				t.Error("the authenticator's permissions were returned, not a filled-in copy")
			}
		})
	}
	// The authenticator's principal is not modified.
	src := &Principal{ID: "u1"}
	ch := &chain{defaults: defaults, log: testLogger(t), links: []link{{typ: "stub", a: &stubAuth{p: src}}}}
	if _, err := ch.Authenticate(context.Background(), &Credentials{Token: "t"}); err != nil {
		t.Fatal(err)
	}
	if src.Permissions != nil {
		t.Error("chain modified the authenticator's principal")
	}
}

// TestChainEndToEnd builds a chain from config: a JWT whose claims carry
// hostile values, API keys after it, and anonymous clients.
func TestChainEndToEnd(t *testing.T) {
	c := Config{
		Authenticators: []AuthenticatorConfig{
			{Type: TypeJWT, JWT: &JWTConfig{JWTIssuer: JWTIssuer{Issuer: issHMAC, HMACSecret: hmacSecret}}},
			{Type: TypeAPIKeys, APIKeys: &APIKeysConfig{Keys: []APIKey{{ID: "sensor-42", Hash: HashKey(keySensor)}}}},
		},
		DefaultPermissions: &Permissions{
			Publish:   Rules{Allow: []string{"devices.{principal}.>"}},
			Subscribe: Rules{Allow: []string{"devices.{claims.sub}.>", "broadcast.>"}, Deny: []string{"broadcast.{principal}.muted"}},
		},
		Anonymous: &Permissions{Subscribe: Rules{Allow: []string{"public.>"}}},
	}
	d := testDeps(t)
	a, err := New(c, d)
	if err != nil {
		t.Fatal(err)
	}
	defer a.(interface{ Close() error }).Close()
	ctx := context.Background()

	tok := sign(t, jwt.SigningMethodHS256, []byte(hmacSecret), "", claims(issHMAC, "sub", "42.>"))
	p, err := a.Authenticate(ctx, &Credentials{Token: tok})
	if err != nil {
		t.Fatal(err)
	}
	for pattern, want := range map[string]bool{
		"devices.42.>": false, "devices.*.>": false, ">": false, "devices.>": false,
		"devices.42%2E%3E.>": true, "broadcast.x": true, "broadcast.42%2E%3E.muted": false,
	} {
		if got := p.Permissions.CanSubscribe(pattern); got != want {
			t.Errorf("JWT principal: CanSubscribe(%q) = %v, want %v", pattern, got, want)
		}
	}

	p, err = a.Authenticate(ctx, &Credentials{Username: "sensor-42", Password: keySensor})
	if err != nil {
		t.Fatal(err)
	}
	if !p.Permissions.CanPublish("devices.sensor-42.temp") || p.Permissions.CanSubscribe("devices.sensor-42.>") {
		t.Errorf("API key principal: %+v", p.Permissions)
	}

	p, err = a.Authenticate(ctx, &Credentials{})
	if err != nil {
		t.Fatal(err)
	}
	if p.ID != "" || !p.Permissions.CanSubscribe("public.news") || p.Permissions.CanSubscribe(">") || p.Permissions.CanPublish("public.news") {
		t.Errorf("anonymous: %+v %+v", p, p.Permissions)
	}

	for name, cr := range map[string]Credentials{
		"wrong API key":          {Token: keySensor + "x"},
		"wrong password":         {Username: "sensor-42", Password: "x"},
		"expired JWT":            {Token: sign(t, jwt.SigningMethodHS256, []byte(hmacSecret), "", claims(issHMAC, "exp", testNow.Add(-time.Hour).Unix()))},
		"JWT of unknown issuer":  {Token: sign(t, jwt.SigningMethodHS256, []byte(hmacSecret), "", claims("other"))},
		"garbage password":       {Password: "garbage"},
		"JWT shaped garbage":     {Token: "x.y.z"},
		"JWT as MQTT user other": {Username: "bob", Password: tok},
	} {
		if _, err := a.Authenticate(ctx, &cr); !errors.Is(err, ErrDenied) {
			t.Errorf("%s: err = %v, want ErrDenied", name, err)
		}
	}
	// A deny template the principal cannot fill refuses it.
	noSub := sign(t, jwt.SigningMethodHS256, []byte(hmacSecret), "", claims(issHMAC))
	c.DefaultPermissions.Subscribe.Deny = []string{"x.{claims.missing}"}
	b, err := New(c, d)
	if err != nil {
		t.Fatal(err)
	}
	defer b.(interface{ Close() error }).Close()
	if _, err := b.Authenticate(ctx, &Credentials{Token: noSub}); !errors.Is(err, ErrDenied) || !strings.Contains(err.Error(), "subscribe.deny[0]") {
		t.Errorf("unfillable deny: %v", err)
	}
}

func TestNone(t *testing.T) {
	p, err := None{}.Authenticate(context.Background(), nil)
	if err != nil || p != Anonymous || !p.Permissions.CanSubscribe(">") {
		t.Fatalf("None = %+v, %v", p, err)
	}
}
