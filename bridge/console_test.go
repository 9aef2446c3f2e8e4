package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wsgate/wsgate/auth"
)

// consoleToken is the admin token of the console tests.
const consoleToken = "s3cret-admin-token"

// consoleConfig turns the console on with consoleToken.
func consoleConfig() Config {
	return Config{Admin: AdminConfig{Console: true, TokenHash: auth.HashKey(consoleToken)}}
}

// tokenIsPrincipal admits every client as the principal its bearer token
// names, without being dev mode.
type tokenIsPrincipal struct{}

func (tokenIsPrincipal) Authenticate(_ context.Context, c *auth.Credentials) (*auth.Principal, error) {
	return &auth.Principal{ID: c.Token}, nil
}

// adminGet GETs path with token (none if "") and decodes a 200's JSON
// into out; it returns the status.
func (e *env) adminGet(path, token string, out any) int {
	e.t.Helper()
	req, err := http.NewRequest("GET", e.srv.URL+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == 200 && out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			e.t.Fatalf("GET %s: %v in %q", path, err, b)
		}
	}
	return resp.StatusCode
}

func TestConsoleNeedsAdminToken(t *testing.T) {
	e := newEnv(t, Config{})
	_, err := New(Options{Config: Config{Admin: AdminConfig{Console: true}}, NATS: e.nc, Protocols: []Protocol{newTestProto()}})
	if !errors.Is(err, errConsoleToken) {
		t.Fatalf("New with a console and no token: %v, want errConsoleToken", err)
	}
}

// TestConsoleAuth: every console endpoint wants the admin token, in dev
// mode too (newEnv has no authenticator); the page itself is served
// without it, with a policy that lets it load nothing from elsewhere.
func TestConsoleAuth(t *testing.T) {
	e := newEnv(t, consoleConfig())
	for _, path := range []string{"/admin/api/counts", "/admin/api/connections", "/admin/api/routes",
		"/admin/api/errors", "/admin/api/tap?subject=orders.x"} {
		for _, tok := range []string{"", "wrong", consoleToken + "x"} {
			if code := e.adminGet(path, tok, nil); code != http.StatusUnauthorized {
				t.Errorf("GET %s with token %q: %d, want 401", path, tok, code)
			}
		}
	}
	for _, path := range []string{"/admin/api/counts", "/admin/api/connections", "/admin/api/routes", "/admin/api/errors"} {
		if code := e.adminGet(path, consoleToken, nil); code != 200 {
			t.Errorf("GET %s with the token: %d, want 200", path, code)
		}
	}
	for path, ctype := range map[string]string{"/admin/": "text/html", "/admin/console.js": "text/javascript", "/admin/console.css": "text/css"} {
		resp, err := http.Get(e.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), ctype) || len(b) == 0 {
			t.Errorf("GET %s: %d %q, %d bytes", path, resp.StatusCode, resp.Header.Get("Content-Type"), len(b))
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
			t.Errorf("GET %s: Content-Security-Policy %q", path, csp)
		}
	}
}

// TestConsoleOnAdminAddress: with gateway.admin.listen, the console is
// served on the admin address, still behind the token.
func TestConsoleOnAdminAddress(t *testing.T) {
	cfg := consoleConfig()
	cfg.Admin.Listen = "127.0.0.1:0" // New does not listen: AdminHandler is the caller's to serve
	e := newEnv(t, cfg)
	admin := httptest.NewServer(e.gw.AdminHandler())
	defer admin.Close()
	onAdmin := &env{t: t, srv: admin}
	if code := onAdmin.adminGet("/admin/api/counts", "", nil); code != http.StatusUnauthorized {
		t.Errorf("counts on the admin address without the token: %d", code)
	}
	var c CountsReport
	if code := onAdmin.adminGet("/admin/api/counts", consoleToken, &c); code != 200 || c.Gateway != e.gw.ID() {
		t.Errorf("counts on the admin address: %d %+v", code, c)
	}
	if code := e.adminGet("/admin/api/counts", consoleToken, nil); code == 200 || code == 401 {
		t.Errorf("counts on the main port with an admin address: %d", code)
	}
}

// TestConsoleOff: without gateway.admin.console there is no page and no
// endpoint.
func TestConsoleOff(t *testing.T) {
	e := newEnv(t, Config{Admin: AdminConfig{TokenHash: auth.HashKey(consoleToken)}})
	for _, path := range []string{"/admin/api/counts", "/admin/api/tap?subject=a"} {
		if code := e.adminGet(path, consoleToken, nil); code == 200 || code == 401 {
			t.Errorf("GET %s without a console: %d", path, code)
		}
	}
}

func TestConsoleCountsAndSearch(t *testing.T) {
	e := newEnvAuth(t, consoleConfig(), tokenIsPrincipal{})
	bearer := func(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }
	alice := e.dial("/", nil, bearer("alice"))
	e.dial("/", nil, bearer("bob"))
	e.dial("/", nil, bearer("Alicia"))

	var c CountsReport
	if code := e.adminGet("/admin/api/counts", consoleToken, &c); code != 200 {
		t.Fatalf("counts: %d", code)
	}
	if c.Total != 3 || c.Protocols["test"] != 3 || !c.Complete || len(c.Gateways) != 1 ||
		c.Gateways[0].Gateway != e.gw.ID() || c.Gateways[0].Total != 3 || c.Gateway != e.gw.ID() {
		t.Errorf("counts: %+v", c)
	}

	for _, tc := range []struct {
		query string
		want  []string // principals, oldest first
		trunc bool
	}{
		{"", []string{"alice", "bob", "Alicia"}, false},
		{"?id=" + alice.id, []string{"alice"}, false},
		{"?id=" + alice.id[:4], []string{"alice"}, false},
		{"?principal=ALI", []string{"alice", "Alicia"}, false},
		{"?principal=bob&protocol=test", []string{"bob"}, false},
		{"?principal=bob&protocol=mqtt", nil, false},
		{"?ip=127.0.0.1", []string{"alice", "bob", "Alicia"}, false},
		{"?ip=127.0.", []string{"alice", "bob", "Alicia"}, false},
		{"?ip=10.", nil, false},
		{"?limit=2", []string{"alice", "bob"}, true},
	} {
		var r SearchReport
		if code := e.adminGet("/admin/api/connections"+tc.query, consoleToken, &r); code != 200 {
			t.Errorf("search %s: %d", tc.query, code)
			continue
		}
		var got []string
		for _, ci := range r.Connections {
			got = append(got, ci.Principal)
		}
		if strings.Join(got, ",") != strings.Join(tc.want, ",") || r.Truncated != tc.trunc || !r.Complete || r.Gateways != 1 {
			t.Errorf("search %s: %v truncated %v complete %v, want %v truncated %v", tc.query, got, r.Truncated, r.Complete, tc.want, tc.trunc)
		}
	}
	for _, q := range []string{"?id=a.b", "?id=*", "?limit=0", "?limit=x", "?limit=201"} {
		if code := e.adminGet("/admin/api/connections"+q, consoleToken, nil); code != http.StatusBadRequest {
			t.Errorf("search %s: %d, want 400", q, code)
		}
	}
}

// TestConsoleClusterWide: a console on gateway A counts and finds the
// connections of gateway B, on the same NATS, once A knows B is alive.
func TestConsoleClusterWide(t *testing.T) {
	cfg := consoleConfig()
	cfg.GhostTimeout = time.Second
	a := newEnv(t, cfg)
	b := newEnvOn(t, a.emb, Config{GhostTimeout: time.Second}, nil) // its own console off
	if !eventually(10*time.Second, func() bool { return len(a.gw.Peers()) == 2 }) {
		t.Fatalf("gateway A sees peers %v", a.gw.Peers())
	}
	a.dial("/", nil, nil)
	onB := b.dial("/", nil, nil)
	b.dial("/", nil, nil)

	var c CountsReport
	if code := a.adminGet("/admin/api/counts", consoleToken, &c); code != 200 {
		t.Fatalf("counts: %d", code)
	}
	byGW := map[string]int{}
	for _, g := range c.Gateways {
		byGW[g.Gateway] = g.Total
	}
	if c.Total != 3 || !c.Complete || byGW[a.gw.ID()] != 1 || byGW[b.gw.ID()] != 2 {
		t.Errorf("counts on A: %+v", c)
	}
	var r SearchReport
	if code := a.adminGet("/admin/api/connections?id="+onB.id, consoleToken, &r); code != 200 {
		t.Fatalf("search: %d", code)
	}
	if len(r.Connections) != 1 || r.Connections[0].Gateway != b.gw.ID() || r.Gateways != 2 {
		t.Errorf("search on A for B's connection: %+v", r)
	}

	// GET /@connections?scope=cluster lists both gateways' (wsgate
	// connections list --cluster); without it, A's own.
	var all SearchReport
	if code := a.adminGet("/@connections?scope=cluster", consoleToken, &all); code != 200 {
		t.Fatalf("cluster list: %d", code)
	}
	byGW = map[string]int{}
	for _, ci := range all.Connections {
		byGW[ci.Gateway]++
	}
	if len(all.Connections) != 3 || !all.Complete || byGW[a.gw.ID()] != 1 || byGW[b.gw.ID()] != 2 {
		t.Errorf("cluster list on A: %+v", all)
	}
	var own ConnList
	if code := a.adminGet("/@connections", consoleToken, &own); code != 200 || len(own.Connections) != 1 {
		t.Errorf("A's own list: %d %+v", code, own)
	}
	if code := a.adminGet("/@connections?scope=everywhere", consoleToken, nil); code != http.StatusBadRequest {
		t.Errorf("scope=everywhere: %d, want 400", code)
	}
}
