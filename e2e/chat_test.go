package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestChatExampleInChromium runs examples/chat as a user would: the gateway
// serving the page, the Go worker, and two people in headless Chromium. A
// message typed in one browser reaches the other and a NATS subscriber; a
// NATS publish appears on both pages.
func TestChatExampleInChromium(t *testing.T) {
	long(t)
	chromium := chromiumPath(t)
	node, js := nodeModules(t, "js", "playwright-core")
	_, web := nodeModules(t, "../examples/chat/web", "@stomp/stompjs")
	g := startGateway(t, gwOpts{Config: "gateway:\n  static_dir: " + web + "\n"})

	bin := filepath.Join(t.TempDir(), "chat-worker")
	if out, err := exec.Command("go", "build", "-o", bin, "../examples/chat/worker").CombinedOutput(); err != nil {
		t.Fatalf("build the chat worker: %v\n%s", err, out)
	}
	worker := exec.Command(bin, "--nats", g.NATSURL)
	worker.Stderr = os.Stderr
	if err := worker.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = worker.Process.Kill(); _ = worker.Wait() })

	nc := natsConn(t, g.NATSURL)
	lobby, _ := nc.SubscribeSync("chat.rooms.lobby")
	nc.Flush()
	// The worker is up once it answers a history request.
	eventually(t, 60*time.Second, func() error {
		_, err := nc.Request("chat.history", []byte(`{"room":"probe","user":"probe"}`), time.Second)
		return err
	})

	cmd, lines := startBrowserScript(t, node, js, "chat.browser.mjs", chromium,
		"CHAT_URL="+g.HTTP("/"), "SCREENSHOT="+os.Getenv("CHAT_SCREENSHOT"))
	sent := false
	for lines.Scan() {
		if lines.Text() == "ADA_SENT" {
			sent = true
			break
		}
	}
	if !sent {
		_ = cmd.Wait()
		t.Fatal("the browsers did not exchange a message")
	}
	// ada's message went through NATS, as JSON from the page.
	for {
		m := nextMsg(t, lobby)
		var msg struct{ User, Text string }
		if json.Unmarshal(m.Data, &msg) == nil && msg.User == "ada" {
			if msg.Text != "hello bob" || m.Header.Get("Wsgate-Protocol") != "stomp" {
				t.Errorf("NATS got %q with headers %v", m.Data, m.Header)
			}
			break
		}
	}
	if err := nc.Publish("chat.rooms.lobby", []byte(`{"user":"ops","text":"from nats"}`)); err != nil {
		t.Fatal(err)
	}
	rest := ""
	for lines.Scan() {
		rest += lines.Text() + "\n"
	}
	if err := cmd.Wait(); err != nil || !strings.Contains(rest, "OK") {
		t.Fatalf("browser script: %v, output %q", err, rest)
	}
}
