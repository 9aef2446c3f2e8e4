package auth

import (
	"context"
	"errors"
	"testing"
)

func TestReauthorize(t *testing.T) {
	const keyA, keyB = "0123456789abcdef0123456789abcdef-a", "0123456789abcdef0123456789abcdef-b"
	perms := func(sub ...string) *Permissions {
		return &Permissions{Publish: Rules{Allow: sub}, Subscribe: Rules{Allow: sub}}
	}
	keys := func(ks ...APIKey) AuthenticatorConfig {
		return AuthenticatorConfig{Type: TypeAPIKeys, APIKeys: &APIKeysConfig{Keys: ks}}
	}
	before := Config{
		Authenticators: []AuthenticatorConfig{keys(
			APIKey{ID: "a", Hash: HashKey(keyA), Permissions: perms("a.>", "shared.>")},
			APIKey{ID: "b", Hash: HashKey(keyB)},
		)},
		DefaultPermissions: perms("d.{principal}.>"),
		Anonymous:          perms("public.>"),
	}
	tests := []struct {
		name  string
		creds Credentials
		after Config
		err   error
		sub   string // the reauthorized principal may subscribe to it
		nosub string // and not to this
	}{
		{"key narrowed", Credentials{Token: keyA}, Config{Authenticators: []AuthenticatorConfig{keys(
			APIKey{ID: "a", Hash: HashKey(keyA), Permissions: perms("a.>")})}}, nil, "a.x", "shared.x"},
		{"key removed", Credentials{Token: keyA}, Config{Authenticators: []AuthenticatorConfig{keys(
			APIKey{ID: "b", Hash: HashKey(keyB)})}}, ErrRevoked, "", ""},
		{"key replaced", Credentials{Token: keyA}, Config{Authenticators: []AuthenticatorConfig{keys(
			APIKey{ID: "a", Hash: HashKey(keyB)})}}, ErrRevoked, "", ""},
		{"new defaults", Credentials{Token: keyB}, Config{Authenticators: []AuthenticatorConfig{keys(
			APIKey{ID: "b", Hash: HashKey(keyB)})}, DefaultPermissions: perms("e.{principal}")}, nil, "e.b", "d.b.x"},
		{"anonymous narrowed", Credentials{}, Config{Anonymous: perms("public.news")}, nil, "public.news", "public.other"},
		{"anonymous revoked", Credentials{}, Config{Authenticators: before.Authenticators}, ErrRevoked, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old, err := New(before, testDeps(t))
			if err != nil {
				t.Fatal(err)
			}
			p, err := old.Authenticate(context.Background(), &tt.creds)
			if err != nil {
				t.Fatal(err)
			}
			now, err := New(tt.after, testDeps(t))
			if err != nil {
				t.Fatal(err)
			}
			np, err := Reauthorize(now, p)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("err = %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if np.ID != p.ID {
				t.Errorf("id = %q, want %q", np.ID, p.ID)
			}
			if !np.Permissions.CanSubscribe(tt.sub) {
				t.Errorf("may not subscribe to %s", tt.sub)
			}
			if np.Permissions.CanSubscribe(tt.nosub) {
				t.Errorf("may still subscribe to %s", tt.nosub)
			}
		})
	}
	t.Run("not from a chain", func(t *testing.T) {
		p, err := Reauthorize(None{}, Anonymous)
		if err != nil || p != Anonymous {
			t.Fatalf("got %v, %v; want Anonymous unchanged", p, err)
		}
	})
}
