package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/nats-io/nats.go"
)

// binary is the wsgate binary built by TestMain.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "wsgate-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "wsgate")
	args := []string{"build", "-o", binary}
	if os.Getenv("WSGATE_E2E_NORACE") == "" {
		args = append(args, "-race")
	}
	cmd := exec.Command("go", append(args, "../cmd/wsgate")...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build wsgate:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// gateway is one running wsgate process.
type gateway struct {
	t       *testing.T
	cmd     *exec.Cmd
	Addr    string // host:port of the WebSocket/HTTP listener
	NATSURL string // client URL of its embedded NATS ("" with --nats-url)
	DataDir string
	logMu   sync.Mutex
	logs    []map[string]any
	exited  chan struct{}
	exitErr error
}

// gwOpts configure startGateway.
type gwOpts struct {
	Config  string   // YAML config text, written to a temp file
	Args    []string // extra flags
	NATSURL string   // use this NATS instead of embedding one
	DataDir string   // reuse a JetStream dir (restart tests)
}

// startGateway runs wsgate on free ports and waits until it is ready. It is
// stopped (SIGTERM) when the test ends, and must then exit 0.
func startGateway(t *testing.T, o gwOpts) *gateway {
	t.Helper()
	if o.DataDir == "" {
		o.DataDir = t.TempDir()
	}
	args := []string{"run", "--listen", "127.0.0.1:0", "--log-format", "json", "--log-level", "debug"}
	if o.NATSURL != "" {
		args = append(args, "--nats-url", o.NATSURL)
	} else {
		args = append(args, "--nats-listen", "127.0.0.1:0", "--data-dir", o.DataDir)
	}
	if o.Config != "" {
		f := filepath.Join(t.TempDir(), "wsgate.yaml")
		if err := os.WriteFile(f, []byte(o.Config), 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--config", f)
	}
	args = append(args, o.Args...)
	g := &gateway{t: t, DataDir: o.DataDir, exited: make(chan struct{})}
	g.cmd = exec.Command(binary, args...)
	stderr, err := g.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := g.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	go g.readLogs(stderr, ready)
	go func() { g.exitErr = g.cmd.Wait(); close(g.exited) }()
	select {
	case <-ready:
	case <-g.exited:
		t.Fatalf("wsgate exited during start-up: %v\n%s", g.exitErr, g.logText())
	case <-time.After(30 * time.Second):
		t.Fatalf("wsgate not listening after 30s\n%s", g.logText())
	}
	t.Cleanup(func() { g.stop() })
	g.waitReady()
	return g
}

func (g *gateway) readLogs(r io.Reader, ready chan struct{}) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	signalled := false
	for sc.Scan() {
		line := sc.Bytes()
		var m map[string]any
		if json.Unmarshal(line, &m) != nil {
			m = map[string]any{"msg": string(line)}
		}
		g.logMu.Lock()
		g.logs = append(g.logs, m)
		g.logMu.Unlock()
		switch m["msg"] {
		case "embedded NATS started":
			g.NATSURL, _ = m["url"].(string)
		case "wsgate listening":
			g.Addr, _ = m["addr"].(string)
			if !signalled {
				signalled = true
				close(ready)
			}
		}
	}
}

func (g *gateway) logText() string {
	g.logMu.Lock()
	defer g.logMu.Unlock()
	var sb strings.Builder
	for _, m := range g.logs {
		b, _ := json.Marshal(m)
		sb.Write(b)
		sb.WriteByte('\n')
	}
	return sb.String()
}

// hasLog reports whether a log line has msg and every given field.
func (g *gateway) hasLog(msg string, fields map[string]any) bool {
	g.logMu.Lock()
	defer g.logMu.Unlock()
next:
	for _, m := range g.logs {
		if m["msg"] != msg {
			continue
		}
		for k, v := range fields {
			if fmt.Sprint(m[k]) != fmt.Sprint(v) {
				continue next
			}
		}
		return true
	}
	return false
}

func (g *gateway) waitReady() {
	g.t.Helper()
	eventually(g.t, 20*time.Second, func() error {
		resp, err := http.Get(g.HTTP("/readyz"))
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("readyz: %d", resp.StatusCode)
		}
		return nil
	})
}

// HTTP is the gateway's HTTP URL for path.
func (g *gateway) HTTP(path string) string { return "http://" + g.Addr + path }

// WS is the gateway's WebSocket URL for path.
func (g *gateway) WS(path string) string { return "ws://" + g.Addr + path }

// stop sends SIGTERM and checks the process exits 0 within 20s.
func (g *gateway) stop() {
	g.t.Helper()
	select {
	case <-g.exited:
		return
	default:
	}
	_ = g.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-g.exited:
		if g.exitErr != nil {
			g.t.Errorf("wsgate exited with %v\n%s", g.exitErr, g.logText())
		}
	case <-time.After(20 * time.Second):
		_ = g.cmd.Process.Kill()
		g.t.Errorf("wsgate did not stop within 20s of SIGTERM\n%s", g.logText())
	}
	if g.t.Failed() && os.Getenv("WSGATE_E2E_LOGS") != "" {
		g.t.Logf("gateway logs:\n%s", g.logText())
	}
}

// natsConn connects a worker to the gateway's NATS.
func natsConn(t *testing.T, url string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url, nats.Name("e2e-worker"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// client is a JSON protocol client.
type client struct {
	t    *testing.T
	Conn *websocket.Conn
	Resp *http.Response
}

// dial opens a WebSocket to the gateway; it fails the test on error.
func dial(t *testing.T, url string, hdr http.Header) *client {
	t.Helper()
	c, resp, err := websocket.DefaultDialer.Dial(url, hdr)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial %s: %v (HTTP %d)", url, err, status)
	}
	t.Cleanup(func() { c.Close() })
	return &client{t: t, Conn: c, Resp: resp}
}

// send writes v as a JSON text message.
func (c *client) send(v any) {
	c.t.Helper()
	var b []byte
	switch x := v.(type) {
	case string:
		b = []byte(x)
	case []byte:
		b = x
	default:
		var err error
		if b, err = json.Marshal(v); err != nil {
			c.t.Fatal(err)
		}
	}
	if err := c.Conn.WriteMessage(websocket.TextMessage, b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// frame is a decoded gateway envelope.
type frame struct {
	Type     string          `json:"type"`
	Route    string          `json:"route"`
	ID       json.RawMessage `json:"id"`
	Subject  string          `json:"subject"`
	Data     json.RawMessage `json:"data"`
	Encoding string          `json:"encoding"`
	Error    string          `json:"error"`
	Message  string          `json:"message"`
}

// read returns the next message's raw bytes, failing after timeout.
func (c *client) read(timeout time.Duration) []byte {
	c.t.Helper()
	_ = c.Conn.SetReadDeadline(time.Now().Add(timeout))
	_, b, err := c.Conn.ReadMessage()
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return b
}

// next decodes the next message as an envelope.
func (c *client) next() frame {
	c.t.Helper()
	b := c.read(10 * time.Second)
	var f frame
	if err := json.Unmarshal(b, &f); err != nil {
		c.t.Fatalf("not an envelope: %q: %v", b, err)
	}
	return f
}

// expect reads the next envelope and checks its type.
func (c *client) expect(typ string) frame {
	c.t.Helper()
	f := c.next()
	if f.Type != typ {
		c.t.Fatalf("got %s frame %+v, want %s", f.Type, f, typ)
	}
	return f
}

// subscribe uses the built-in subscribe route and waits for the answer.
func (c *client) subscribe(subject string) {
	c.t.Helper()
	c.send(map[string]any{"action": "subscribe", "subject": subject})
	f := c.expect("subscribed")
	if f.Subject != subject {
		c.t.Fatalf("subscribed to %q, want %q", f.Subject, subject)
	}
}

// closeErr reads until the connection closes and returns the close error.
func (c *client) closeErr(timeout time.Duration) *websocket.CloseError {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		_ = c.Conn.SetReadDeadline(deadline)
		_, _, err := c.Conn.ReadMessage()
		if err == nil {
			continue
		}
		ce, ok := err.(*websocket.CloseError)
		if !ok {
			c.t.Fatalf("connection ended without a close frame: %v", err)
		}
		return ce
	}
}

// eventually retries f until it succeeds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %v", timeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// nextMsg waits for a message on a sync subscription.
func nextMsg(t *testing.T, sub *nats.Subscription) *nats.Msg {
	t.Helper()
	m, err := sub.NextMsg(10 * time.Second)
	if err != nil {
		t.Fatalf("no message on %s: %v", sub.Subject, err)
	}
	return m
}

// freeAddr finds a free loopback port.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

var _ = context.Background
