package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/nats-io/nats.go"
)

// TestWAMPInChromium: a page served by the gateway (gateway.static_dir,
// Autobahn|JS from the autobahn-browser package, no CDN) in headless
// Chromium subscribes to a topic and receives what a NATS publisher
// sends, and calls a procedure a NATS worker answers.
func TestWAMPInChromium(t *testing.T) {
	long(t)
	chromium := chromiumPath(t)
	node, js := nodeModules(t, "js", "autobahn-browser")
	web := t.TempDir()
	for src, dst := range map[string]string{
		filepath.Join(js, "wamp.browser.html"):                                   "index.html",
		filepath.Join(js, "node_modules", "autobahn-browser", "autobahn.min.js"): "autobahn.min.js",
	} {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(web, dst), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	g := startGateway(t, gwOpts{Config: "gateway:\n  static_dir: " + web + "\n"})

	nc := natsConn(t, g.NATSURL)
	var calledFrom string
	called := make(chan struct{}, 1)
	if _, err := nc.Subscribe("com.example.add", func(m *nats.Msg) {
		var args []float64
		if json.Unmarshal(m.Data, &args) != nil || len(args) != 2 {
			m.Respond([]byte(`["bad arguments"]`))
			return
		}
		calledFrom = m.Header.Get("Wsgate-Protocol")
		called <- struct{}{}
		m.Respond([]byte("[" + strconv.FormatFloat(args[0]+args[1], 'f', -1, 64) + "]"))
	}); err != nil {
		t.Fatal(err)
	}
	nc.Flush()

	cmd, lines := startBrowserScript(t, node, js, "wamp.browser.mjs", chromium, "WAMP_URL="+g.HTTP("/"))
	expectLine := func(want string) {
		t.Helper()
		for lines.Scan() {
			if lines.Text() == want {
				return
			}
		}
		_ = cmd.Wait()
		t.Fatalf("the page never got to %s", want)
	}
	expectLine("SUBSCRIBED")
	expectLine("CALLED")
	select {
	case <-called:
		if calledFrom != "wamp" {
			t.Errorf("the call reached the worker with Wsgate-Protocol %q", calledFrom)
		}
	default:
		t.Error("the page has a result the worker never gave")
	}
	if err := nc.Publish("com.example.news", []byte(`["from nats"]`)); err != nil {
		t.Fatal(err)
	}
	expectLine("OK")
	if err := cmd.Wait(); err != nil {
		t.Fatalf("browser script: %v", err)
	}
}
