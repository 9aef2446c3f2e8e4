package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// asyncAPIConfig has a route of each kind, a schema with a $ref within it,
// template variables and client-named subjects, and API-key auth (so the
// document has security schemes). extra is more YAML under json.routes.
func asyncAPIConfig(extra string) string {
	return `
asyncapi:
  serve: true
  title: E2E chat
  version: 0.9.1
auth:
  authenticators:
    - type: api_keys
      api_keys:
        keys: [{id: k1, hash: "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"}]
gateway:
  credentials: {cookie: wsgate_token}
json:
  routes:
    say:
      integration: publish
      subject: chat.rooms.{body.room}.{connectionId}
      schema:
        $schema: https://json-schema.org/draft/2020-12/schema
        type: object
        required: [action, room, text]
        properties:
          action: {const: say}
          room: {$ref: "#/$defs/room"}
          text: {type: string, maxLength: 200}
        additionalProperties: false
        $defs:
          room: {type: string, pattern: "^[a-z0-9-]+$"}
    ask:
      integration: request
      subject: svc.ask.{principal}
      raw: true
    join:
      integration: subscribe
      subject: $request.body.subject
    leave:
      integration: unsubscribe
      subject: $request.body.subject
    web:
      integration: http
      url: http://127.0.0.1:9/never
    pick:
      targets:
        - {integration: publish, subject: picked.a, when: ".body.a"}
        - {integration: request, subject: picked.b}
    get-profile:
      integration: request
      subject: profiles.{claims.sub}
    $disconnect:
      integration: publish
      subject: gone.{connectionId}
    $default:
      integration: publish
      subject: fallback
      schema: {type: object}
` + extra
}

// parsed is asyncapi.parse.mjs's summary of a valid document.
type parsed struct {
	Version    string             `json:"version"`
	Channels   map[string]*string `json:"channels"`
	Operations []string           `json:"operations"`
	Servers    []string           `json:"servers"`
	Warnings   int                `json:"warnings"`
}

// parseAsyncAPI runs the official parser on file; it fails the test on any
// error diagnostic.
func parseAsyncAPI(t *testing.T, node, js, file string) parsed {
	t.Helper()
	cmd := exec.Command(node, "asyncapi.parse.mjs", file)
	cmd.Dir = js
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("@asyncapi/parser refused the document: %v\n%s", err, stderr.String())
	}
	t.Logf("@asyncapi/parser diagnostics:\n%s", stderr.String())
	var p parsed
	if err := json.Unmarshal(out, &p); err != nil {
		t.Fatalf("parser summary %q: %v", out, err)
	}
	return p
}

// docPart decodes b and returns its member name (channels, operations).
func docPart(t *testing.T, b []byte, name string) any {
	t.Helper()
	var d map[string]any
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("document is not JSON: %v\n%s", err, b)
	}
	return d[name]
}

// TestAsyncAPI writes the document with `wsgate asyncapi`, has the official
// parser (@asyncapi/parser) validate it, and checks that a running gateway
// serves the same channels and operations at GET /asyncapi.json, before and
// after a reload that adds a route.
func TestAsyncAPI(t *testing.T) {
	node, js := nodeModules(t, "js", "@asyncapi/parser")
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "wsgate.yaml")
	if err := os.WriteFile(cfgFile, []byte(asyncAPIConfig("")), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "asyncapi.json")
	if _, stderr, code := runCLI(t, "asyncapi", "--config", cfgFile, "--out", out); code != 0 {
		t.Fatalf("wsgate asyncapi: exit %d\n%s", code, stderr)
	}
	cli, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if stdout, _, code := runCLI(t, "asyncapi", "--config", cfgFile); code != 0 || stdout != string(cli) {
		t.Fatalf("wsgate asyncapi to stdout: exit %d, same as --out: %v", code, stdout == string(cli))
	}

	p := parseAsyncAPI(t, node, js, out)
	str := func(s string) *string { return &s }
	wantChannels := map[string]*string{
		"say":           str("chat.rooms.{room}.{connectionId}"),
		"ask":           str("svc.ask.{principal}"),
		"join":          str("{subject}"),
		"leave":         str("{subject}"),
		"web":           nil,
		"pick":          nil,
		"get_2Dprofile": str("profiles.{claims_sub}"),
		"_disconnect":   str("gone.{connectionId}"),
		"_default":      str("fallback"),
	}
	if !reflect.DeepEqual(p.Channels, wantChannels) {
		got, _ := json.Marshal(p.Channels)
		want, _ := json.Marshal(wantChannels)
		t.Errorf("channels (id: address)\n got %s\nwant %s", got, want)
	}
	if p.Version != "3.0.0" || strings.Join(p.Servers, ",") != "json,mqtt,socketio,stomp,wamp" {
		t.Errorf("version %s, servers %v", p.Version, p.Servers)
	}
	for _, op := range []string{"say-send:send", "ask-send:send", "join-send:send", "join-receive:receive", "_default-send:send", "get_2Dprofile-send:send"} {
		if !strings.Contains(strings.Join(p.Operations, " "), op) {
			t.Errorf("no operation %s in %v", op, p.Operations)
		}
	}

	// The same document, served by a gateway running that config.
	g := startGateway(t, gwOpts{Args: []string{"--config", cfgFile}})
	get := func() []byte {
		t.Helper()
		resp, err := http.Get(g.HTTP("/asyncapi.json"))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
			t.Fatalf("GET /asyncapi.json: %s, %s", resp.Status, resp.Header.Get("Content-Type"))
		}
		return b
	}
	served := get()
	for _, part := range []string{"channels", "operations", "components", "info"} {
		if !reflect.DeepEqual(docPart(t, served, part), docPart(t, cli, part)) {
			t.Errorf("GET /asyncapi.json: %s differ from wsgate asyncapi's", part)
		}
	}
	servedFile := filepath.Join(dir, "served.json")
	if err := os.WriteFile(servedFile, served, 0o600); err != nil {
		t.Fatal(err)
	}
	parseAsyncAPI(t, node, js, servedFile)

	// A reload that adds a route: the served document has its channel.
	shout := "    shout: {integration: publish, subject: shouts}\n"
	if err := os.WriteFile(cfgFile, []byte(strings.Replace(asyncAPIConfig(""), "  routes:\n", "  routes:\n"+shout, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := g.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() error {
		ch, _ := docPart(t, get(), "channels").(map[string]any)
		if ch["shout"] == nil {
			return fmt.Errorf("no channel shout in %d channels", len(ch))
		}
		return nil
	})
	cliAfter, stderr, code := runCLI(t, "asyncapi", "--config", cfgFile)
	if code != 0 {
		t.Fatalf("wsgate asyncapi: exit %d\n%s", code, stderr)
	}
	if !reflect.DeepEqual(docPart(t, get(), "channels"), docPart(t, []byte(cliAfter), "channels")) {
		t.Error("after the reload, GET /asyncapi.json's channels differ from wsgate asyncapi's")
	}
}

// TestAsyncAPIBadSchema: a schema that does not compile fails `wsgate
// validate` and `wsgate asyncapi`, naming the route.
func TestAsyncAPIBadSchema(t *testing.T) {
	bad := writeFile(t, "bad.yaml", `
json:
  routes:
    say:
      integration: publish
      subject: chat
      schema: {type: object, properties: {room: {pattern: "(("}}}
`)
	for _, cmd := range []string{"validate", "asyncapi"} {
		_, stderr, code := runCLI(t, cmd, "--config", bad)
		if code != 1 || !strings.Contains(stderr, "json.routes.say.schema: ") {
			t.Errorf("wsgate %s: exit %d, want 1 naming json.routes.say.schema\n%s", cmd, code, stderr)
		}
	}
}

// TestAsyncAPIVariants: the documents of the built-in routes (no config)
// and of stages with routes of their own, TLS and JWT auth pass the
// official parser too.
func TestAsyncAPIVariants(t *testing.T) {
	node, js := nodeModules(t, "js", "@asyncapi/parser")
	stages := writeFile(t, "stages.yaml", `
stages:
  beta: {path: /beta, variables: {env: b}}
  prod: {host: api.example.com, variables: {env: p}}
asyncapi: {host: "api.example.com:443"}
auth:
  authenticators:
    - type: jwt
      jwt: {issuer: "https://id.example.com/", jwks_url: "https://id.example.com/jwks.json"}
    - type: mtls
json:
  routes:
    say: {integration: publish, subject: "chat.{stage.env}.{body.room}"}
  stages:
    beta:
      routes:
        say:
          integration: request
          subject: beta.say
          schema: {type: object, required: [x], properties: {x: {$ref: "#/$defs/x"}}, $defs: {x: {type: integer}}}
`)
	for _, tc := range []struct {
		name     string
		args     []string
		channels []string
	}{
		{"built-in routes", nil, []string{"publish", "request", "subscribe", "unsubscribe"}},
		{"stages", []string{"--config", stages}, []string{"beta-say", "say"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "asyncapi.json")
			if _, stderr, code := runCLI(t, append([]string{"asyncapi", "--out", out}, tc.args...)...); code != 0 {
				t.Fatalf("wsgate asyncapi: exit %d\n%s", code, stderr)
			}
			p := parseAsyncAPI(t, node, js, out)
			var got []string
			for id := range p.Channels {
				got = append(got, id)
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.channels) {
				t.Errorf("channels %v, want %v", got, tc.channels)
			}
		})
	}
}
