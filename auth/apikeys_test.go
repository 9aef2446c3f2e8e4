package auth

import (
	"context"
	"errors"
	"strings"
	"testing"
)

const (
	keySensor  = "wsk_3q2Z7f0mB9xYt8KpR4vN1cLsD6hJ5gWa"
	keyService = "wsk_Hh81kd0QmZp2LxV7cYt3RbN6sW9eJ4uF"
)

func newAPIKeysFixture(t *testing.T) *apiKeys {
	t.Helper()
	a, errs := newAPIKeys(APIKeysConfig{Keys: []APIKey{
		{ID: "sensor-42", Hash: HashKey(keySensor), Claims: map[string]any{"tenant": "acme"},
			Permissions: &Permissions{Publish: Rules{Allow: []string{"devices.{principal}.>"}}}},
		{ID: "svc", Hash: HashKey(keyService)},
	}}, "api_keys")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	return a
}

func TestHashKey(t *testing.T) {
	// echo -n abc | sha256sum
	if got, want := HashKey("abc"), "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"; got != want {
		t.Errorf("HashKey = %s, want %s", got, want)
	}
	if _, err := parseKeyHash(HashKey(keySensor)); err != nil {
		t.Errorf("HashKey result does not parse: %v", err)
	}
}

func TestAPIKeys(t *testing.T) {
	a := newAPIKeysFixture(t)
	tests := []struct {
		name string
		c    Credentials
		id   string // "": refused
		err  error
	}{
		{"token", Credentials{Token: keySensor}, "sensor-42", nil},
		{"other token", Credentials{Token: keyService}, "svc", nil},
		{"password with id", Credentials{Username: "sensor-42", Password: keySensor}, "sensor-42", nil},
		{"password without username", Credentials{Password: keyService}, "svc", nil},
		{"token wins over a wrong password", Credentials{Token: keySensor, Username: "svc", Password: "x"}, "sensor-42", nil},
		{"wrong token", Credentials{Token: keySensor + "x"}, "", ErrNoCredentials},
		{"token prefix", Credentials{Token: keySensor[:20]}, "", ErrNoCredentials},
		{"the hash as token", Credentials{Token: HashKey(keySensor)}, "", ErrNoCredentials},
		{"the hex as token", Credentials{Token: HashKey(keySensor)[7:]}, "", ErrNoCredentials},
		{"wrong password with id", Credentials{Username: "sensor-42", Password: keySensor + "x"}, "", ErrDenied},
		{"other key's password with id", Credentials{Username: "sensor-42", Password: keyService}, "", ErrDenied},
		{"empty password with id", Credentials{Username: "sensor-42"}, "", ErrDenied},
		{"unknown id", Credentials{Username: "sensor-43", Password: keySensor}, "", ErrNoCredentials},
		{"id in other case", Credentials{Username: "SENSOR-42", Password: keySensor}, "", ErrNoCredentials},
		{"wrong password without username", Credentials{Password: "nope"}, "", ErrNoCredentials},
		{"nothing", Credentials{}, "", ErrNoCredentials},
		{"NUL", Credentials{Token: keySensor + "\x00"}, "", ErrNoCredentials},
		{"huge", Credentials{Token: strings.Repeat("k", 1<<20)}, "", ErrNoCredentials},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := a.Authenticate(context.Background(), &tt.c)
			if tt.id == "" {
				if !errors.Is(err, tt.err) {
					t.Fatalf("err = %v, want %v (principal %+v)", err, tt.err, p)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.ID != tt.id {
				t.Errorf("ID = %q, want %q", p.ID, tt.id)
			}
		})
	}
}

func TestAPIKeysPrincipal(t *testing.T) {
	a := newAPIKeysFixture(t)
	p, err := a.Authenticate(context.Background(), &Credentials{Token: keySensor})
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := p.Claim("tenant"); c != "acme" {
		t.Errorf("tenant claim %q", c)
	}
	if p.Permissions == nil || p.Permissions.Publish.Allow[0] != "devices.{principal}.>" {
		t.Errorf("permissions %+v (templates are filled in by the chain)", p.Permissions)
	}
	if !p.ExpiresAt.IsZero() {
		t.Error("API keys do not expire")
	}
	// The principal is a copy: changing it changes nothing for the next.
	p.ID = "changed"
	q, _ := a.Authenticate(context.Background(), &Credentials{Token: keySensor})
	if q.ID != "sensor-42" {
		t.Errorf("second principal %q", q.ID)
	}
	// A key without permissions leaves them to the chain's defaults.
	s, _ := a.Authenticate(context.Background(), &Credentials{Token: keyService})
	if s.Permissions != nil {
		t.Errorf("svc permissions %+v, want nil", s.Permissions)
	}
}
