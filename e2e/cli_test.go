package e2e

import (
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCLI checks wsgate validate, version, and that run refuses a bad config.
func TestCLI(t *testing.T) {
	t.Run("version", func(t *testing.T) {
		out, _, code := runCLI(t, "version")
		if code != 0 || !strings.HasPrefix(out, "wsgate ") || len(strings.TrimSpace(out)) <= len("wsgate") {
			t.Errorf("exit %d, %q", code, out)
		}
	})

	t.Run("good config", func(t *testing.T) {
		f := writeFile(t, "good.yaml", routesConfig("http://127.0.0.1:1")+`
gateway:
  max_message_bytes: 1024
  ping_interval: 1s
log:
  level: debug
`)
		out, errOut, code := runCLI(t, "validate", "--config", f)
		if code != 0 || strings.TrimSpace(out) != "config ok ("+f+" and WSGATE_* environment)" {
			t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
		}
	})

	t.Run("validate without a config", func(t *testing.T) {
		out, errOut, code := runCLI(t, "validate")
		if code != 0 || strings.TrimSpace(out) != "config ok (no --config: built-in defaults and WSGATE_* environment)" {
			t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
		}
	})

	bad := []struct {
		name, config, want string
	}{
		{"unknown integration", "json:\n  routes:\n    x:\n      integration: bogus\n      subject: a\n", "json.routes.x.integration"},
		{"missing integration", "json:\n  routes:\n    x:\n      subject: a\n", "json.routes.x.integration"},
		{"unknown field", "json:\n  routez:\n    x: {}\n", "routez"},
		{"unknown route field", "json:\n  routes:\n    x:\n      integration: publish\n      subject: a\n      subjekt: b\n", "subjekt"},
		{"unclosed template", "json:\n  routes:\n    x:\n      integration: publish\n      subject: \"chat.{body.room\"\n", "json.routes.x.subject"},
		{"unknown variable", "json:\n  routes:\n    x:\n      integration: publish\n      subject: \"chat.{nope}\"\n", "json.routes.x.subject"},
		{"wildcard in publish", "json:\n  routes:\n    x:\n      integration: publish\n      subject: \"chat.*\"\n", "json.routes.x.subject"},
		{"http without url", "json:\n  routes:\n    x:\n      integration: http\n", "json.routes.x.url"},
		{"bad selection", "json:\n  route_selection_expression: \"${request.body.a\"\n", "json.route_selection_expression"},
		{"reserved route key", "json:\n  routes:\n    $x:\n      integration: publish\n      subject: a\n", "json.routes.$x.key"},
		{"negative size", "gateway:\n  max_message_bytes: -1\n", "gateway.max_message_bytes"},
		{"bad log level", "log:\n  level: loud\n", "log.level"},
		{"not YAML", "json: [\n", "config"},
		{"mqtt negative size", "mqtt:\n  max_packet_size: -1\n", "mqtt.max_packet_size: -1 must not be negative"},
		{"mqtt negative inflight", "mqtt:\n  max_inflight: -5\n", "mqtt.max_inflight: -5 must not be negative"},
		{"mqtt bucket name", "mqtt:\n  retained_bucket: bad bucket name!\n", `mqtt.retained_bucket: "bad bucket name!" is not a key-value bucket name`},
		{"typo", "listne: \":1\"\n", "line 1: listne: unknown key (did you mean listen?)"},
		{"duration without unit", "gateway:\n  ping_interval: 30\n", "line 2: gateway.ping_interval: 30 is not a duration (write 30s)"},
	}
	for _, tc := range bad {
		t.Run("validate "+tc.name, func(t *testing.T) {
			f := writeFile(t, "bad.yaml", tc.config)
			out, errOut, code := runCLI(t, "validate", "--config", f)
			if code != 1 || !strings.Contains(errOut, tc.want) || strings.Contains(errOut, "main.") {
				t.Errorf("exit %d, stdout %q, stderr %q: want a failure naming %q", code, out, errOut, tc.want)
			}
		})
	}

	t.Run("run refuses an invalid config", func(t *testing.T) {
		f := writeFile(t, "bad.yaml", bad[0].config)
		_, errOut, code := runCLI(t, "run", "--config", f, "--listen", "127.0.0.1:0", "--nats-listen", "127.0.0.1:0", "--data-dir", t.TempDir())
		if code == 0 || !strings.Contains(errOut, bad[0].want) || strings.Contains(errOut, "listening") || strings.Contains(errOut, "NATS started") {
			t.Errorf("exit %d, stderr %q", code, errOut)
		}
	})
}

// TestCLIReadHeaderTimeout checks gateway.read_header_timeout reaches the
// HTTP server: a client that never finishes its request headers is cut off
// after it, not after the old hard-coded 10s.
func TestCLIReadHeaderTimeout(t *testing.T) {
	g := startGateway(t, gwOpts{Config: "gateway:\n  read_header_timeout: 300ms\n"})
	c, err := net.Dial("tcp", g.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n")); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_ = c.SetReadDeadline(time.Now().Add(8 * time.Second))
	_, _ = io.ReadAll(c) // the server answers 408 or just closes
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("connection with unfinished headers open for %s, want about 300ms", d.Round(time.Millisecond))
	}
}

// TestCLIHelp checks that every command has its own help, listing only its
// own flags, printed on stdout with exit status 0 for -h and --help; and
// that a command line that cannot run exits 2 and says where help is.
func TestCLIHelp(t *testing.T) {
	listed := []string{"run", "validate", "asyncapi", "healthcheck", "version", "bench", "hash-key", "help"}
	for _, args := range [][]string{{"help"}, {"--help"}, {"-h"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			out, errOut, code := runCLI(t, args...)
			if code != 0 || errOut != "" {
				t.Fatalf("exit %d, stderr %q", code, errOut)
			}
			for _, name := range listed {
				n := 0
				for line := range strings.SplitSeq(out, "\n") {
					if f := strings.Fields(line); len(f) > 1 && f[0] == name && strings.HasPrefix(line, "  ") {
						n++
					}
				}
				if n != 1 {
					t.Errorf("command %s on %d lines of:\n%s", name, n, out)
				}
			}
			if strings.Contains(out, "bench-nats-server") {
				t.Errorf("the hidden command is listed:\n%s", out)
			}
		})
	}

	cases := []struct {
		cmd      string
		want     []string // in stdout
		dontWant []string
	}{
		{"run", []string{"Usage: wsgate [run] [flags]", "--config FILE", "--listen", "--nats-url", "--nats-listen", "--data-dir", "--log-level", "--log-format"}, nil},
		{"validate", []string{"Usage: wsgate validate", "--config FILE"}, []string{"--listen", "--nats-url", "--nats-listen", "--data-dir", "--log-level", "--log-format"}},
		{"asyncapi", []string{"Usage: wsgate asyncapi [--config FILE] [--out FILE]", "--config FILE", "--out FILE"}, []string{"--listen", "--nats-url"}},
		{"healthcheck", []string{"Usage: wsgate healthcheck", "--config FILE", "--listen ADDRESS", "--timeout DURATION"}, []string{"--nats-url", "--data-dir"}},
		{"version", []string{"Usage: wsgate version\n"}, []string{"Flags:"}},
		{"hash-key", []string{"Usage: wsgate hash-key [--wampcra] [KEY]", "--wampcra", "--iterations INT", "--keylen INT"}, []string{"--listen", "--nats-url"}},
		{"bench", []string{"Usage: wsgate bench"}, nil},
		{"help", []string{"Usage: wsgate help [COMMAND]"}, []string{"Flags:"}},
	}
	for _, tc := range cases {
		t.Run(tc.cmd+" --help", func(t *testing.T) {
			var outs []string
			for _, args := range [][]string{{tc.cmd, "--help"}, {tc.cmd, "-h"}, {"help", tc.cmd}} {
				out, errOut, code := runCLI(t, args...)
				if code != 0 || strings.Contains(out+errOut, "help requested") {
					t.Fatalf("wsgate %v: exit %d, stdout %q, stderr %q", args, code, out, errOut)
				}
				for _, w := range tc.want {
					if !strings.Contains(out, w) {
						t.Errorf("wsgate %v: no %q in:\n%s", args, w, out)
					}
				}
				for _, w := range tc.dontWant {
					if strings.Contains(out, w) {
						t.Errorf("wsgate %v: %q in:\n%s", args, w, out)
					}
				}
				if tc.cmd == "bench" && !strings.Contains(errOut, "-subscribers") {
					t.Errorf("wsgate %v: bench's flags not listed: stderr %q", args, errOut)
				}
				outs = append(outs, out+errOut)
			}
			if outs[0] != outs[1] || outs[0] != outs[2] {
				t.Errorf("--help, -h and help %s differ:\n%s\n---\n%s\n---\n%s", tc.cmd, outs[0], outs[1], outs[2])
			}
		})
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "--bogus"}, "Run 'wsgate help run'"},
		{[]string{"validate", "--listen", ":1"}, "Run 'wsgate help validate'"},
		{[]string{"version", "x"}, `unexpected argument "x"`},
		{[]string{"asyncapi", "x"}, `unexpected argument "x"`},
		{[]string{"nope"}, `unknown command "nope"`},
		{[]string{"help", "nope"}, `unknown command "nope"`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			out, errOut, code := runCLI(t, tc.args...)
			if code != 2 || !strings.Contains(errOut, tc.want) || out != "" {
				t.Errorf("exit %d, stdout %q, stderr %q: want exit 2 and %q", code, out, errOut, tc.want)
			}
		})
	}
}

// TestCLINATSLogs checks that the embedded nats-server logs through the
// gateway's logger at nats.log_level, that a start it cannot make fails at
// once with its own error, and that a normal stop logs no disconnect.
func TestCLINATSLogs(t *testing.T) {
	t.Run("port taken", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		start := time.Now()
		_, errOut, code := runCLI(t, "run", "--listen", "127.0.0.1:0", "--nats-listen", ln.Addr().String(), "--data-dir", t.TempDir())
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("took %s to fail", d.Round(time.Millisecond))
		}
		if code != 1 || !strings.Contains(errOut, "address already in use") || !strings.Contains(errOut, ln.Addr().String()) {
			t.Errorf("exit %d, stderr %q: want nats-server's listen error", code, errOut)
		}
		for _, bad := range []string{"is the port in use", "nats disconnected", "wsgate listening"} {
			if strings.Contains(errOut, bad) {
				t.Errorf("%q in stderr %q", bad, errOut)
			}
		}
	})

	t.Run("info", func(t *testing.T) {
		g := startGateway(t, gwOpts{Config: "nats:\n  log_level: info\n"})
		if !g.hasLog("Server is ready", map[string]any{"component": "nats", "level": "INFO"}) {
			t.Errorf("no nats-server notice in the log:\n%s", g.logText())
		}
		g.stop()
		if g.hasLog("nats disconnected", nil) {
			t.Errorf("a disconnect logged at a normal stop:\n%s", g.logText())
		}
	})

	t.Run("default warn", func(t *testing.T) {
		g := startGateway(t, gwOpts{})
		g.stop()
		if g.hasLog("Server is ready", nil) || g.hasLog("nats disconnected", nil) {
			t.Errorf("a nats-server notice or a disconnect in the log:\n%s", g.logText())
		}
	})
}

// TestCLIDataDir checks that gateways without --data-dir each get a
// JetStream store of their own, named in the log, and that a second
// gateway on a store in use is refused at once.
func TestCLIDataDir(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp) // the default data dirs go here, not in /tmp
	dataDir := func(g *gateway) string {
		g.logMu.Lock()
		defer g.logMu.Unlock()
		for _, m := range g.logs {
			if m["msg"] == "embedded NATS started" {
				s, _ := m["data_dir"].(string)
				return s
			}
		}
		return ""
	}
	// The harness passes --data-dir; an empty one after it is the default.
	g1 := startGateway(t, gwOpts{Args: []string{"--data-dir", ""}})
	g2 := startGateway(t, gwOpts{Args: []string{"--data-dir", ""}})
	d1, d2 := dataDir(g1), dataDir(g2)
	if d1 == d2 || filepath.Dir(d1) != tmp || filepath.Dir(d2) != tmp {
		t.Fatalf("data dirs %q and %q, want two in %s", d1, d2, tmp)
	}
	_, port, _ := net.SplitHostPort(g1.Addr)
	if !strings.HasPrefix(filepath.Base(d1), "wsgate-data-"+port+"-") {
		t.Errorf("data dir %q is not named after the gateway's port %s", d1, port)
	}
	for _, d := range []string{d1, d2} {
		if _, err := os.Stat(filepath.Join(d, "jetstream")); err != nil {
			t.Errorf("no JetStream store in %s: %v", d, err)
		}
	}

	t.Run("in use", func(t *testing.T) {
		start := time.Now()
		_, errOut, code := runCLI(t, "run", "--listen", "127.0.0.1:0", "--nats-listen", "127.0.0.1:0", "--data-dir", d1)
		if time.Since(start) > 5*time.Second {
			t.Errorf("took %s to refuse", time.Since(start).Round(time.Millisecond))
		}
		if code != 1 || !strings.Contains(errOut, d1) || !strings.Contains(errOut, "data dir in use") || !strings.Contains(errOut, "--data-dir") {
			t.Errorf("exit %d, stderr %q: want a refusal naming %s and --data-dir", code, errOut, d1)
		}
		if strings.Contains(errOut, "NATS started") {
			t.Errorf("a server started on a store in use: %q", errOut)
		}
	})

	t.Run("free again after a stop", func(t *testing.T) {
		g1.stop()
		startGateway(t, gwOpts{DataDir: d1})
	})
}
