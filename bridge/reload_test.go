package bridge

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/wsgate/wsgate/auth"
)

func TestReload(t *testing.T) {
	const keyA, keyB = "0123456789abcdef0123456789abcdef-a", "0123456789abcdef0123456789abcdef-b"
	rules := func(p ...string) *auth.Permissions {
		return &auth.Permissions{Publish: auth.Rules{Allow: p}, Subscribe: auth.Rules{Allow: p}}
	}
	chain := func(keys ...auth.APIKey) auth.Authenticator {
		a, err := auth.New(auth.Config{Authenticators: []auth.AuthenticatorConfig{{
			Type: auth.TypeAPIKeys, APIKeys: &auth.APIKeysConfig{Keys: keys}}}}, auth.Deps{})
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	e := newEnvAuth(t, Config{}, chain(
		auth.APIKey{ID: "a", Hash: auth.HashKey(keyA), Permissions: rules("a.>", "shared.>")},
		auth.APIKey{ID: "b", Hash: auth.HashKey(keyB), Permissions: rules(">")},
	))
	bearer := func(k string) http.Header { return http.Header{"Authorization": {"Bearer " + k}} }
	a := e.dial("/", nil, bearer(keyA))
	e.sub(a, "sub a.x")
	e.sub(a, "sub shared.x")
	b := e.dial("/", nil, bearer(keyB))

	res, err := e.gw.Reload(Live{Authenticator: chain(
		auth.APIKey{ID: "a", Hash: auth.HashKey(keyA), Permissions: rules("a.>")},
	), Limits: Limits{MaxSubscriptions: 2}})
	if err != nil {
		t.Fatal(err)
	}
	want := ReloadResult{Revoked: 1, Closed: 1, Narrowed: 1, Dropped: 1}
	if res != want {
		t.Errorf("result %+v, want %+v", res, want)
	}
	if got := a.read(); got != "revoked shared.x" {
		t.Fatalf("a read %q, want the revoked notice", got)
	}
	if code, reason := b.readClose(); code != ClosePolicy || reason != "credentials revoked" {
		t.Errorf("b closed with %d %q, want %d credentials revoked", code, reason, ClosePolicy)
	}
	// The dropped subscription gets nothing; the kept one goes on.
	w := e.worker()
	for _, subj := range []string{"shared.x", "a.x"} {
		if err := w.Publish(subj, []byte("hi")); err != nil {
			t.Fatal(err)
		}
	}
	if got := a.read(); got != "msg a.x hi" {
		t.Errorf("a read %q, want msg a.x hi", got)
	}
	a.send("sub shared.y")
	if got := a.read(); !strings.HasPrefix(got, "err ") {
		t.Errorf("subscribe after narrowing: %q, want an error", got)
	}
	// The new limits hold for the open connection.
	e.sub(a, "sub a.y")
	a.send("sub a.z")
	if got := a.read(); !strings.HasPrefix(got, "err ") {
		t.Errorf("third subscription: %q, want the max_subscriptions error", got)
	}
	// A key the new config does not hold is refused at the upgrade.
	if _, resp, err := websocket.DefaultDialer.Dial(e.wsURL("/"), bearer(keyB)); err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("revoked key dialled: err %v, want 401", err)
	}
	if _, err := e.gw.Reload(Live{}); !errors.Is(err, ErrDevModeSwitch) {
		t.Errorf("reload to dev mode: %v, want ErrDevModeSwitch", err)
	}
}

func TestReloadOnRevokeKeep(t *testing.T) {
	const key = "0123456789abcdef0123456789abcdef-k"
	a1, err := auth.New(auth.Config{Authenticators: []auth.AuthenticatorConfig{{Type: auth.TypeAPIKeys,
		APIKeys: &auth.APIKeysConfig{Keys: []auth.APIKey{{ID: "k", Hash: auth.HashKey(key), Permissions: &auth.Permissions{Subscribe: auth.Rules{Allow: []string{">"}}}}}}}}}, auth.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnvAuth(t, Config{}, a1)
	c := e.dial("/", nil, http.Header{"Authorization": {"Bearer " + key}})
	e.sub(c, "sub x")
	res, err := e.gw.Reload(Live{Authenticator: allowAll{}, OnRevoke: "keep"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Revoked != 0 {
		// allowAll is no chain: principals are kept as they are.
		t.Errorf("result %+v, want nothing revoked", res)
	}
	a2, err := auth.New(auth.Config{Anonymous: &auth.Permissions{}}, auth.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	if res, err = e.gw.Reload(Live{Authenticator: a2, OnRevoke: "keep"}); err != nil || res.Revoked != 1 || res.Closed != 0 {
		t.Fatalf("reload: %+v, %v; want one revoked, none closed", res, err)
	}
	if err := e.worker().Publish("x", []byte("still")); err != nil {
		t.Fatal(err)
	}
	if got := c.read(); got != "msg x still" {
		t.Errorf("read %q, want msg x still", got)
	}
}
