package auth

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/wsgate/wsgate/subjects"
)

func TestPermissionsNilAllowsEverything(t *testing.T) {
	var p *Permissions
	if !p.CanPublish("a.b") || !p.CanSubscribe(">") {
		t.Fatal("nil permissions must allow everything (dev mode)")
	}
}

// TestPermissionsBypass tries to get past allow and deny lists with wider
// patterns than the lists allow.
func TestPermissionsBypass(t *testing.T) {
	p := &Permissions{
		Publish: Rules{Allow: []string{"devices.42.>", "chat.*"}, Deny: []string{"devices.42.admin"}},
		Subscribe: Rules{
			Allow: []string{"devices.42.>", ">"},
			Deny:  []string{"secret.>", "devices.42.private"},
		},
	}
	tests := []struct {
		name    string
		pub     bool // CanPublish, else CanSubscribe
		subject string
		want    bool
	}{
		{"publish inside allow", true, "devices.42.temp", true},
		{"publish deep inside allow", true, "devices.42.a.b.c", true},
		{"publish denied literal", true, "devices.42.admin", false},
		{"publish next to allow", true, "devices.43.temp", false},
		{"publish prefix only", true, "devices.42", false},
		{"publish chat one token", true, "chat.room", true},
		{"publish chat two tokens", true, "chat.room.x", false},
		{"publish wildcard is not a subject", true, "devices.42.*", false},
		{"publish full wildcard", true, ">", false},
		{"publish empty", true, "", false},
		{"publish empty token", true, "devices.42..x", false},
		{"publish space", true, "devices.42.a b", false},

		{"subscribe > vs deny secret.>", false, ">", false},
		{"subscribe secret.> denied", false, "secret.>", false},
		{"subscribe secret.x denied", false, "secret.x", false},
		{"subscribe *.x touches secret.x", false, "*.x", false},
		{"subscribe devices.42.> touches private", false, "devices.42.>", false},
		{"subscribe devices.42.temp", false, "devices.42.temp", true},
		{"subscribe other allowed by >", false, "news.today", true},
		{"subscribe invalid pattern", false, "a.>.b", false},
		{"subscribe partial wildcard", false, "a*", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got bool
			if tt.pub {
				got = p.CanPublish(tt.subject)
			} else {
				got = p.CanSubscribe(tt.subject)
			}
			if got != tt.want {
				t.Errorf("%q: got %v, want %v", tt.subject, got, tt.want)
			}
		})
	}
}

// TestPermissionsNarrowAllow checks that a wide subscription cannot slip
// past a narrow allow.
func TestPermissionsNarrowAllow(t *testing.T) {
	p := &Permissions{Subscribe: Rules{Allow: []string{"devices.42.>"}}}
	tests := []struct {
		pattern string
		want    bool
	}{
		{">", false},
		{"devices.>", false},
		{"devices.*.>", false},
		{"devices.*.temp", false},
		{"*.42.temp", false},
		{"devices.42.>", true},
		{"devices.42.*", true},
		{"devices.42.temp", true},
		{"devices.42", false},
	}
	for _, tt := range tests {
		t.Run(tt.pattern, func(t *testing.T) {
			if got := p.CanSubscribe(tt.pattern); got != tt.want {
				t.Errorf("CanSubscribe(%q) = %v, want %v", tt.pattern, got, tt.want)
			}
		})
	}
}

// TestExpandHostileClaims fills templates with claim values that try to
// widen or escape the pattern.
func TestExpandHostileClaims(t *testing.T) {
	perms := &Permissions{
		Publish:   Rules{Allow: []string{"devices.{claims.sub}.>"}},
		Subscribe: Rules{Allow: []string{"devices.{claims.sub}.>", "users.{principal}.inbox"}},
	}
	tests := []struct {
		name string
		id   string
		sub  any
		// wantAllow are the expanded subscribe allows; nil: all dropped.
		wantAllow []string
		// mayPub and mayNotSub probe the result.
		mayPub    string
		mayNotSub []string
	}{
		{name: "plain", id: "u1", sub: "42", wantAllow: []string{"devices.42.>", "users.u1.inbox"},
			mayPub: "devices.42.temp", mayNotSub: []string{"devices.43.>", ">"}},
		{name: "claim with >", id: "u1", sub: "42.>", wantAllow: []string{"devices.42%2E%3E.>", "users.u1.inbox"},
			mayPub: "devices.42%2E%3E.x", mayNotSub: []string{"devices.42.>", "devices.>", "devices.*.>"}},
		{name: "claim is >", id: "u1", sub: ">", wantAllow: []string{"devices.%3E.>", "users.u1.inbox"},
			mayNotSub: []string{"devices.>", "devices.x.y"}},
		{name: "claim is *", id: "u1", sub: "*", wantAllow: []string{"devices.%2A.>", "users.u1.inbox"},
			mayNotSub: []string{"devices.*.>", "devices.9.x"}},
		{name: "claim with dots", id: "u1", sub: "a.b.c", wantAllow: []string{"devices.a%2Eb%2Ec.>", "users.u1.inbox"},
			mayNotSub: []string{"devices.a.b.c", "devices.a.>"}},
		{name: "claim with space and NUL", id: "u1", sub: "a b\x00", wantAllow: []string{"devices.a%20b%00.>", "users.u1.inbox"}},
		{name: "principal with wildcard", id: "*", sub: "42", wantAllow: []string{"devices.42.>", "users.%2A.inbox"},
			mayNotSub: []string{"users.*.inbox", "users.bob.inbox"}},
		{name: "number claim", id: "u1", sub: float64(42), wantAllow: []string{"devices.42.>", "users.u1.inbox"}},
		{name: "missing claim is dropped", id: "u1", sub: nil, wantAllow: []string{"users.u1.inbox"},
			mayNotSub: []string{"devices.>", "devices.42.x"}},
		{name: "empty claim is dropped", id: "u1", sub: "", wantAllow: []string{"users.u1.inbox"}},
		{name: "object claim is dropped", id: "u1", sub: map[string]any{"a": "b"}, wantAllow: []string{"users.u1.inbox"}},
		{name: "array claim is dropped", id: "u1", sub: []any{"42"}, wantAllow: []string{"users.u1.inbox"}},
		{name: "too long claim is dropped", id: "u1", sub: strings.Repeat("x", 300), wantAllow: []string{"users.u1.inbox"}},
		{name: "no id: all dropped", id: "", sub: nil, wantAllow: nil, mayNotSub: []string{">"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pr := &Principal{ID: tt.id, Claims: map[string]any{}}
			if tt.sub != nil {
				pr.Claims["sub"] = tt.sub
			}
			got, _, err := perms.expand(pr)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(got.Subscribe.Allow, " ") != strings.Join(tt.wantAllow, " ") {
				t.Errorf("subscribe allow = %q, want %q", got.Subscribe.Allow, tt.wantAllow)
			}
			for _, a := range got.Subscribe.Allow {
				if err := subjects.ValidatePattern(a); err != nil {
					t.Errorf("expanded %q: %v", a, err)
				}
			}
			if tt.mayPub != "" && !got.CanPublish(tt.mayPub) {
				t.Errorf("CanPublish(%q) = false", tt.mayPub)
			}
			for _, s := range tt.mayNotSub {
				if got.CanSubscribe(s) {
					t.Errorf("CanSubscribe(%q) = true", s)
				}
			}
			if perms.Subscribe.Allow[0] != "devices.{claims.sub}.>" {
				t.Error("expand modified its input")
			}
		})
	}
}

// TestExpandDenyFailsClosed checks that a deny template that cannot be
// filled in refuses the principal rather than denying nothing.
func TestExpandDenyFailsClosed(t *testing.T) {
	perms := &Permissions{Subscribe: Rules{Allow: []string{">"}, Deny: []string{"tenants.{claims.other}.>"}}}
	tests := []struct {
		name    string
		claims  map[string]any
		wantErr bool
		deny    string
	}{
		{"present", map[string]any{"other": "t2"}, false, "tenants.t2.>"},
		{"hostile value", map[string]any{"other": "t2.>"}, false, "tenants.t2%2E%3E.>"},
		{"missing", map[string]any{}, true, ""},
		{"empty", map[string]any{"other": ""}, true, ""},
		{"not scalar", map[string]any{"other": []any{}}, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := perms.expand(&Principal{ID: "u", Claims: tt.claims})
			if tt.wantErr {
				if err == nil {
					t.Fatalf("no error; deny = %q", got.Subscribe.Deny)
				}
				if !strings.Contains(err.Error(), "subscribe.deny[0]") {
					t.Errorf("error %q does not name the entry", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Subscribe.Deny) != 1 || got.Subscribe.Deny[0] != tt.deny {
				t.Errorf("deny = %q, want %q", got.Subscribe.Deny, tt.deny)
			}
		})
	}
}

// TestExpandInvalidEntries checks entries that come from tokens or
// authorizers, which no config validation has seen.
func TestExpandInvalidEntries(t *testing.T) {
	pr := &Principal{ID: "u"}
	tests := []struct {
		name    string
		rules   Rules
		wantErr bool
		allow   []string
	}{
		{"invalid allow dropped", Rules{Allow: []string{"a.>.b", "ok.>", "a*", "", "x..y", "{body.x}"}}, false, []string{"ok.>"}},
		{"invalid deny refuses", Rules{Allow: []string{">"}, Deny: []string{"a.>.b"}}, true, nil},
		{"unknown placeholder in deny refuses", Rules{Deny: []string{"a.{connectionId}"}}, true, nil},
		{"unbalanced brace in deny refuses", Rules{Deny: []string{"a.}"}}, true, nil},
		{"too many entries", Rules{Allow: make([]string, MaxRules+1)}, true, nil},
		{"context placeholder", Rules{Allow: []string{"t.{context.tenant}.>"}}, false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := (&Permissions{Publish: tt.rules}).expand(pr)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if err == nil && strings.Join(got.Publish.Allow, " ") != strings.Join(tt.allow, " ") {
				t.Errorf("allow = %q, want %q", got.Publish.Allow, tt.allow)
			}
		})
	}
	got, _, err := (&Permissions{Publish: Rules{Allow: []string{"t.{context.tenant}.>"}}}).expand(
		&Principal{ID: "u", Context: map[string]string{"tenant": "acme.x"}})
	if err != nil || len(got.Publish.Allow) != 1 || got.Publish.Allow[0] != "t.acme%2Ex.>" {
		t.Errorf("context expansion = %v, %v", got, err)
	}
}

func TestPermissionsValidate(t *testing.T) {
	tests := []struct {
		name string
		p    *Permissions
		ph   placeholders
		want []string // substrings, one per error
	}{
		{"nil", nil, principalPlaceholders, nil},
		{"good", &Permissions{
			Publish:   Rules{Allow: []string{"a.b", "devices.{claims.sub}.>", "u.{principal}", "t.{context.x}"}},
			Subscribe: Rules{Deny: []string{"secret.>"}},
		}, principalPlaceholders, nil},
		{"bad pattern", &Permissions{Publish: Rules{Allow: []string{"a.>.b"}}}, principalPlaceholders,
			[]string{"p.publish.allow[0]: subjects: invalid pattern"}},
		{"empty", &Permissions{Subscribe: Rules{Deny: []string{"ok", ""}}}, principalPlaceholders,
			[]string{"p.subscribe.deny[1]:"}},
		{"unknown placeholder", &Permissions{Publish: Rules{Deny: []string{"{body.room}"}}}, principalPlaceholders,
			[]string{"p.publish.deny[0]: placeholder {body.room}"}},
		{"broken template", &Permissions{Publish: Rules{Allow: []string{"a.{claims.sub"}}}, principalPlaceholders,
			[]string{"p.publish.allow[0]: subjects: invalid template"}},
		{"wildcard next to placeholder", &Permissions{Publish: Rules{Allow: []string{"a.{principal}*"}}}, principalPlaceholders,
			[]string{"p.publish.allow[0]:"}},
		{"anonymous template", &Permissions{Subscribe: Rules{Allow: []string{"u.{principal}"}}}, noPlaceholders,
			[]string{"p.subscribe.allow[0]: placeholder {principal}: an anonymous principal"}},
		{"two errors", &Permissions{Publish: Rules{Allow: []string{"a b"}}, Subscribe: Rules{Allow: []string{"*x"}}}, principalPlaceholders,
			[]string{"p.publish.allow[0]", "p.subscribe.allow[0]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := tt.p.validate("p", tt.ph)
			if len(errs) != len(tt.want) {
				t.Fatalf("errors %v, want %d", errs, len(tt.want))
			}
			for i, e := range errs {
				if !strings.Contains(e.Error(), tt.want[i]) {
					t.Errorf("error %q does not contain %q", e, tt.want[i])
				}
			}
		})
	}
}

func TestPermissionsUnmarshalJSON(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantErr bool
	}{
		{"good", `{"publish":{"allow":["a"],"deny":["b"]},"subscribe":{"allow":[">"]}}`, false},
		{"empty", `{}`, false},
		{"misspelt deny", `{"publish":{"allow":[">"],"dney":["secret.>"]}}`, true},
		{"unknown top", `{"pub":{}}`, true},
		{"wrong type", `{"publish":{"allow":"a"}}`, true},
		{"too many", `{"publish":{"allow":[` + strings.Repeat(`"a",`, MaxRules) + `"a"]}}`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p Permissions
			err := json.Unmarshal([]byte(tt.in), &p)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
		})
	}
}

func TestClaim(t *testing.T) {
	p := &Principal{Claims: map[string]any{
		"sub": "u1", "n": float64(7), "b": true, "i": 3, "i64": int64(-5), "u64": uint64(6), "num": json.Number("1e3"),
		"org":     map[string]any{"id": "acme", "deep": map[string]any{"x": "y"}},
		"a.b":     "dotted",
		"list":    []any{"x"},
		"nothing": nil,
	}}
	tests := []struct {
		name string
		want string
		ok   bool
	}{
		{"sub", "u1", true}, {"n", "7", true}, {"b", "true", true}, {"i", "3", true},
		{"i64", "-5", true}, {"u64", "6", true}, {"num", "1e3", true},
		{"org.id", "acme", true}, {"org.deep.x", "y", true}, {"a.b", "dotted", true},
		{"org", "", false}, {"list", "", false}, {"nothing", "", false}, {"missing", "", false},
		{"org.missing", "", false}, {"sub.x", "", false}, {"org..id", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := p.Claim(tt.name)
			if got != tt.want || ok != tt.ok {
				t.Errorf("Claim(%q) = %q, %v; want %q, %v", tt.name, got, ok, tt.want, tt.ok)
			}
		})
	}
	if _, ok := (*Principal)(nil).Claim("sub"); ok {
		t.Error("nil principal has a claim")
	}
}

// errorsIs is errors.Is, shortened for tables.
func errorsIs(err, target error) bool { return errors.Is(err, target) }
