package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// consoleGateway starts a gateway with the admin console on, behind token;
// clients connect in dev mode.
func consoleGateway(t *testing.T, token string) *gateway {
	t.Helper()
	return startGateway(t, gwOpts{Config: "gateway:\n  admin:\n    console: true\n    token_hash: \"" + keyHash(token) + "\"\n"})
}

// artifactsDir is where a browser test leaves its screenshots:
// $WSGATE_E2E_ARTIFACTS, or a temporary directory that is removed unless
// the test fails (its path is logged then).
func artifactsDir(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("WSGATE_E2E_ARTIFACTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	d, err := os.MkdirTemp("", "wsgate-e2e-artifacts")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("screenshots, if any, are kept in %s", d)
			return
		}
		os.RemoveAll(d)
	})
	return d
}

// TestAdminConsoleInChromium drives the admin console as an operator: a
// wrong token is refused; with the right one the page counts two real
// connections, finds one by its id, shows its details and closes it (the
// Go client sees the close, the count drops to one); the tap refuses the
// reserved subjects and shows a message published on NATS.
func TestAdminConsoleInChromium(t *testing.T) {
	long(t)
	chromium := chromiumPath(t)
	node, js := nodeModules(t, "js", "playwright-core")
	const token = "console-e2e-admin-token"
	g := consoleGateway(t, token)
	nc := natsConn(t, g.NATSURL)
	victim, id := dialID(t, g, nc, "/")
	other, _ := dialID(t, g, nc, "/")
	artifacts := artifactsDir(t)

	cmd, lines := startBrowserScript(t, node, js, "console.browser.mjs", chromium,
		"CONSOLE_URL="+g.HTTP("/admin/"), "ADMIN_TOKEN="+token, "CONN_ID="+id, "ARTIFACTS="+artifacts)
	var steps []string
	for lines.Scan() {
		step := lines.Text()
		steps = append(steps, step)
		switch step {
		case "CLOSED":
			ce := victim.closeErr(10 * time.Second)
			if ce.Code != 4000 || ce.Text != "closed by an operator" {
				t.Errorf("the closed client got %d %q, want 4000 \"closed by an operator\"", ce.Code, ce.Text)
			}
		case "TAPPING":
			if err := nc.Publish("e2e.tap", []byte("hello tap")); err != nil {
				t.Fatal(err)
			}
		}
	}
	err := cmd.Wait()
	want := "WRONG_TOKEN_REFUSED,COUNT 2,FOUND,CLOSED,COUNT 1,TAP_REFUSED,TAPPING,TAPPED,OK"
	if err != nil || strings.Join(steps, ",") != want {
		t.Fatalf("browser script: %v; steps %v, want %s", err, steps, want)
	}
	// The other connection is untouched.
	other.send(`{"action":"publish","subject":"e2e.still","data":1}`)
	if status, _ := g.httpDo(t, "GET", "/@connections/"+id, ""); status != http.StatusGone {
		t.Errorf("the closed connection: HTTP %d, want 410", status)
	}
}

// TestAdminConsoleAPI checks the console's JSON endpoints on the built
// binary: the token is required, counts and search see real clients, the
// tap refuses a reserved subject, and the console's figures come from the
// JSON protocol's real routes.
func TestAdminConsoleAPI(t *testing.T) {
	long(t)
	const token = "console-e2e-admin-token"
	g := consoleGateway(t, token)
	nc := natsConn(t, g.NATSURL)
	c, id := dialID(t, g, nc, "/")
	get := func(path, tok string, out any) int {
		t.Helper()
		req, _ := http.NewRequest("GET", g.HTTP(path), nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode == 200 && out != nil {
			if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
				t.Fatalf("GET %s: %v", path, err)
			}
		}
		return resp.StatusCode
	}
	for _, path := range []string{"/admin/api/counts", "/admin/api/connections", "/admin/api/routes", "/admin/api/errors", "/admin/api/tap?subject=a"} {
		if code := get(path, "", nil); code != http.StatusUnauthorized {
			t.Errorf("GET %s without the token: %d, want 401", path, code)
		}
	}
	var counts struct {
		Total     int
		Protocols map[string]int
	}
	eventually(t, 5*time.Second, func() error {
		if get("/admin/api/counts", token, &counts); counts.Total != 1 || counts.Protocols["json"] != 1 {
			return fmt.Errorf("counts %+v", counts)
		}
		return nil
	})
	var found struct {
		Connections []struct{ ConnectionID string }
	}
	if get("/admin/api/connections?ip=127.0.0.1", token, &found); len(found.Connections) != 1 || found.Connections[0].ConnectionID != id {
		t.Errorf("search by IP: %+v, want %s", found, id)
	}
	if code := get("/admin/api/tap?subject=wsgate.events.>", token, nil); code != http.StatusBadRequest {
		t.Errorf("tap on wsgate.events.>: %d, want 400", code)
	}
	// The built-in publish route runs once: its figures show.
	c.send(`{"action":"publish","subject":"e2e.console","data":1}`)
	var routes struct {
		Routes []struct {
			Key   string
			Count int
		}
	}
	eventually(t, 5*time.Second, func() error {
		get("/admin/api/routes", token, &routes)
		for _, r := range routes.Routes {
			if r.Key == "publish" && r.Count >= 1 {
				return nil
			}
		}
		return fmt.Errorf("routes %+v", routes)
	})
}

// TestAdminConsoleTwoGateways: a console on gateway A counts and finds the
// connections of gateway B, another process on the same NATS whose own
// console is off, once A's liveness bucket lists B.
func TestAdminConsoleTwoGateways(t *testing.T) {
	long(t)
	const token = "console-e2e-admin-token"
	a := startGateway(t, gwOpts{Config: "gateway:\n  ghost_timeout: 2s\n  admin:\n    console: true\n    token_hash: \"" + keyHash(token) + "\"\n"})
	b := startGateway(t, gwOpts{Config: "gateway:\n  ghost_timeout: 2s\n", NATSURL: a.NATSURL})
	nc := natsConn(t, a.NATSURL)
	dialID(t, a, nc, "/")
	_, onB := dialID(t, b, nc, "/")
	dialID(t, b, nc, "/")
	get := func(path string, out any) {
		t.Helper()
		req, _ := http.NewRequest("GET", a.HTTP(path), nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: HTTP %d", path, resp.StatusCode)
		}
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
	}
	eventually(t, 15*time.Second, func() error {
		var c struct {
			Total    int
			Complete bool
			Gateways []struct {
				Gateway string
				Total   int
			}
		}
		get("/admin/api/counts", &c)
		by := map[string]int{}
		for _, g := range c.Gateways {
			by[g.Gateway] = g.Total
		}
		if c.Total != 3 || !c.Complete || by[a.ID] != 1 || by[b.ID] != 2 {
			return fmt.Errorf("counts on A: %+v (A %s, B %s)", c, a.ID, b.ID)
		}
		return nil
	})
	var found struct {
		Connections []struct{ ConnectionID, Gateway string }
		Gateways    int
	}
	get("/admin/api/connections?id="+onB, &found)
	if len(found.Connections) != 1 || found.Connections[0].Gateway != b.ID || found.Gateways != 2 {
		t.Errorf("search on A for B's connection %s: %+v", onB, found)
	}
}
