package auth

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/wsgate/wsgate/subjects"
)

// FuzzAuthorizerReply feeds arbitrary answers to the reply parser: it must
// not panic, and what it accepts must be usable.
func FuzzAuthorizerReply(f *testing.F) {
	for _, s := range []string{
		`{"allow":true,"principal":"p","ttl":"30s"}`,
		`{"allow":false,"ttl_seconds":1e308}`,
		`{"allow":true,"principal":"p","permissions":{"publish":{"allow":[">"]}},"context":{"a":"b"}}`,
		`{"allow":true,"principal":"p","ttl":-1}`,
		`{"allow":null}`, `[]`, `null`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var r AuthorizerReply
		if err := json.Unmarshal(b, &r); err != nil {
			return
		}
		if r.TTL < 0 {
			t.Fatalf("negative TTL %v", r.TTL)
		}
		if r.Allow && r.Principal == "" {
			t.Fatal("allow without principal accepted")
		}
		if r.Permissions != nil {
			for _, l := range [][]string{r.Permissions.Publish.Allow, r.Permissions.Publish.Deny, r.Permissions.Subscribe.Allow, r.Permissions.Subscribe.Deny} {
				if len(l) > MaxRules {
					t.Fatalf("%d rules accepted", len(l))
				}
			}
		}
	})
}

// FuzzExpandClaim fills a template with arbitrary claim values: the result
// is always a valid pattern of the template's shape, inside its allow.
func FuzzExpandClaim(f *testing.F) {
	for _, s := range []string{"42", "42.>", ">", "*", "a.b", " ", "\x00", "\xff", "%2E", "{claims.sub}", strings.Repeat("x", 300)} {
		f.Add(s, "u")
	}
	perms := &Permissions{
		Subscribe: Rules{Allow: []string{"devices.{claims.sub}.>"}, Deny: []string{"devices.{principal}.secret"}},
	}
	f.Fuzz(func(t *testing.T, sub, id string) {
		x, _, err := perms.expand(&Principal{ID: id, Claims: map[string]any{"sub": sub}})
		if err != nil {
			return // the deny could not be filled in: refused
		}
		for _, a := range x.Subscribe.Allow {
			if err := subjects.ValidatePattern(a); err != nil {
				t.Fatalf("allow %q: %v", a, err)
			}
			if strings.Count(a, ".") != 2 || !subjects.Covers("devices.*.>", a) || subjects.Covers(a, "devices.*.>") {
				t.Fatalf("claim %q widened the allow to %q", sub, a)
			}
		}
		if len(x.Subscribe.Deny) != 1 || strings.Count(x.Subscribe.Deny[0], ".") != 2 {
			t.Fatalf("deny %q", x.Subscribe.Deny)
		}
	})
}
