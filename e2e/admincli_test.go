package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// runAdminCLI runs the wsgate binary with args and WSGATE_ADMIN_TOKEN set
// to token ("" for none).
func runAdminCLI(t *testing.T, token string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = append(raceEnv(), "WSGATE_ADMIN_TOKEN="+token)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("wsgate %v did not exit within 20s\n%s", args, errb.String())
	}
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("wsgate %v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

// TestAdminCLI drives `wsgate connections` and `wsgate routes` against the
// real binary.
func TestAdminCLI(t *testing.T) {
	e := newReloadEnv(t)
	gw := "--gateway=" + e.g.HTTP("")
	cli := func(args ...string) string {
		t.Helper()
		out, errOut, code := runAdminCLI(t, e.admin, append(args, gw)...)
		if code != 0 {
			t.Fatalf("wsgate %v: exit %d: %s", args, code, errOut)
		}
		return out
	}

	if _, errOut, code := runAdminCLI(t, "", "routes", gw); code != 1 || !strings.Contains(errOut, "401") || !strings.Contains(errOut, "WSGATE_ADMIN_TOKEN") {
		t.Errorf("routes without the token: exit %d, %q", code, errOut)
	}
	out := cli("routes")
	if !strings.Contains(out, "ROUTE") || !strings.Contains(out, "join") || !strings.Contains(out, "{body.topic}.{body.room}") {
		t.Errorf("routes table:\n%s", out)
	}
	var routes struct {
		Routes []struct{ Key, Integration, Target string } `json:"routes"`
	}
	if err := json.Unmarshal([]byte(cli("routes", "--json")), &routes); err != nil || len(routes.Routes) != 2 {
		t.Errorf("routes --json: %+v, %v", routes, err)
	}

	c := dial(t, e.g.WS("/"), bearer(e.alice))
	var list struct {
		Connections []struct {
			ConnectionID string `json:"connectionId"`
			Principal    string `json:"principal"`
		} `json:"connections"`
	}
	if err := json.Unmarshal([]byte(cli("connections", "list", "--json")), &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Connections) != 1 || list.Connections[0].Principal != "alice" {
		t.Fatalf("connections list --json: %+v", list)
	}
	id := list.Connections[0].ConnectionID
	if out := cli("connections", "list", "--principal", "alice"); !strings.Contains(out, id) || !strings.Contains(out, "PRINCIPAL") {
		t.Errorf("connections list table:\n%s", out)
	}
	if out := cli("connections", "list", "--principal", "bob"); strings.Contains(out, id) {
		t.Errorf("bob's list has alice's connection:\n%s", out)
	}
	for principal, want := range map[string]bool{"alice": true, "ali": false} { // --cluster filters as the gateway's list does: whole ids
		if out := cli("connections", "list", "--cluster", "--principal", principal); strings.Contains(out, id) != want || strings.Contains(out, "not every gateway") {
			t.Errorf("connections list --cluster --principal %s:\n%s", principal, out)
		}
	}
	if out := cli("connections", "get", id); !strings.Contains(out, id) || !strings.Contains(out, "alice") {
		t.Errorf("connections get:\n%s", out)
	}
	cli("connections", "send", id, `{"hello":1}`)
	if got := string(c.read(10 * time.Second)); got != `{"hello":1}` {
		t.Errorf("client got %q", got)
	}
	cli("connections", "close", id, "--code", "4001", "--reason", "bye")
	if ce := c.closeErr(10 * time.Second); ce.Code != 4001 || ce.Text != "bye" {
		t.Errorf("closed with %d %q, want 4001 bye", ce.Code, ce.Text)
	}
	eventually(t, 10*time.Second, func() error {
		_, errOut, code := runAdminCLI(t, e.admin, "connections", "get", id, gw)
		if code != 1 || !strings.Contains(errOut, "gone") {
			return &cliErr{code, errOut}
		}
		return nil
	})
	if _, errOut, code := runAdminCLI(t, e.admin, "connections", "frobnicate", gw); code != 2 || !strings.Contains(errOut, "unknown verb") {
		t.Errorf("unknown verb: exit %d, %q", code, errOut)
	}
}

// cliErr is an unexpected CLI outcome, for eventually.
type cliErr struct {
	code   int
	stderr string
}

func (e *cliErr) Error() string { return fmt.Sprintf("exit %d: %s", e.code, e.stderr) }
