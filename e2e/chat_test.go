package e2e

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
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
	nc := natsConn(t, g.NATSURL)
	lobby, _ := nc.SubscribeSync("chat.rooms.lobby")
	nc.Flush()
	startChatWorker(t, nc, g.NATSURL)

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
	chatFromPage(t, lobby, "ada", "hello bob", "stomp")
	chatFromNATS(t, nc, cmd, lines)
}

// chatFromPage waits for user's message on NATS and checks that it is the
// page's JSON, sent over protocol.
func chatFromPage(t *testing.T, lobby *nats.Subscription, user, text, protocol string) {
	t.Helper()
	for {
		m := nextMsg(t, lobby)
		var msg struct{ User, Text string }
		if json.Unmarshal(m.Data, &msg) == nil && msg.User == user {
			if msg.Text != text || m.Header.Get("Wsgate-Protocol") != protocol {
				t.Errorf("NATS got %q with headers %v, want %s's %q over %s", m.Data, m.Header, user, text, protocol)
			}
			return
		}
	}
}

// chatFromNATS publishes "from nats" in the lobby and waits for the
// browser script, which ends with "OK" once every page shows it.
func chatFromNATS(t *testing.T, nc *nats.Conn, cmd *exec.Cmd, lines *bufio.Scanner) {
	t.Helper()
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

// startChatWorker builds and runs examples/chat/worker on the gateway's
// NATS, and returns once it answers a history request.
func startChatWorker(t *testing.T, nc *nats.Conn, natsURL string) {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "chat-worker")
	if out, err := exec.Command("go", "build", "-o", bin, "../examples/chat/worker").CombinedOutput(); err != nil {
		t.Fatalf("build the chat worker: %v\n%s", err, out)
	}
	worker := exec.Command(bin, "--nats", natsURL)
	worker.Stderr = os.Stderr
	if err := worker.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = worker.Process.Kill(); _ = worker.Wait() })
	eventually(t, 60*time.Second, func() error {
		_, err := nc.Request("chat.history", []byte(`{"room":"probe","user":"probe"}`), time.Second)
		return err
	})
}

// chatConfig is examples/chat/wsgate.yaml as a test runs it: the pages
// from web, the listener the harness's.
func chatConfig(t *testing.T, web string) string {
	t.Helper()
	b, err := os.ReadFile("../examples/chat/wsgate.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		switch {
		case strings.HasPrefix(line, "listen:"):
			continue
		case strings.TrimSpace(line) == "static_dir: examples/chat/web":
			line = "  static_dir: " + web
		}
		out = append(out, line)
	}
	return strings.Join(out, "\n")
}

// TestChatSocketIOAndSTOMPInChromium runs examples/chat with its own
// config and both pages at once in headless Chromium: ada on the STOMP
// page, bob on the Socket.IO page (socket.io-client's defaults: polling,
// then the upgrade). Each one's message reaches the other's page and NATS
// as the same JSON; a NATS publish appears on both pages.
func TestChatSocketIOAndSTOMPInChromium(t *testing.T) {
	long(t)
	chromium := chromiumPath(t)
	node, js := nodeModules(t, "js", "playwright-core")
	_, web := nodeModules(t, "../examples/chat/web", "socket.io-client")
	g := startGateway(t, gwOpts{Config: chatConfig(t, web)})
	nc := natsConn(t, g.NATSURL)
	lobby, _ := nc.SubscribeSync("chat.rooms.lobby")
	nc.Flush()
	startChatWorker(t, nc, g.NATSURL)

	cmd, lines := startBrowserScript(t, node, js, "chat.socketio.browser.mjs", chromium, "CHAT_URL="+g.HTTP("/"))
	for _, step := range []struct{ line, user, text, protocol string }{
		{"BOB_SENT", "bob", "hello ada", "socketio"},
		{"ADA_SENT", "ada", "hello bob", "stomp"},
	} {
		seen := false
		for lines.Scan() {
			if lines.Text() == step.line {
				seen = true
				break
			}
		}
		if !seen {
			_ = cmd.Wait()
			t.Fatalf("the pages did not exchange a message: no %s", step.line)
		}
		chatFromPage(t, lobby, step.user, step.text, step.protocol)
	}
	chatFromNATS(t, nc, cmd, lines)
}
