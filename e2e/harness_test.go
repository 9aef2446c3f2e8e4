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
	"sync/atomic"
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

// raceEnv is the environment of the wsgate processes: the race detector
// reports as usual (a race makes the process exit 66) but does not sleep a
// second at exit, which every start and stop of a gateway would pay.
func raceEnv() []string {
	return append(os.Environ(), strings.TrimSpace("GORACE=atexit_sleep_ms=0 "+os.Getenv("GORACE")))
}

// long marks a test that needs Node, Chromium, gateway restarts or waits of
// seconds: `go test -short` skips it, for a quick run of everything else.
func long(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("long end-to-end test: skipped with -short")
	}
}

// gateway is one running wsgate process.
type gateway struct {
	t       *testing.T
	cmd     *exec.Cmd
	Addr    string // host:port of the WebSocket/HTTP listener
	ID      string // the gateway's id (Wsgate-Gateway header, info "gateway")
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
	Env     []string // extra environment (WSGATE_*), NAME=value
}

// startGateway runs wsgate on free ports and waits until it is ready. It is
// stopped (SIGTERM) when the test ends, and must then exit 0.
func startGateway(t *testing.T, o gwOpts) *gateway {
	t.Helper()
	g := launchGateway(t, o)
	g.waitReady()
	return g
}

// launchGateway is startGateway without waiting for /readyz: it returns
// once the gateway listens. A node of an embedded NATS cluster is ready
// only once enough nodes are up for JetStream, so a test starts them all
// and then waits.
func launchGateway(t *testing.T, o gwOpts) *gateway {
	t.Helper()
	g, err := tryLaunchGateway(t, o)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// tryLaunchGateway is launchGateway returning what went wrong, for a test
// that can try again (a port another process took meanwhile).
func tryLaunchGateway(t *testing.T, o gwOpts) (*gateway, error) {
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
	g.cmd.Env = append(raceEnv(), o.Env...)
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
		return nil, fmt.Errorf("wsgate exited during start-up: %v\n%s", g.exitErr, g.logText())
	case <-time.After(30 * time.Second):
		_ = g.cmd.Process.Kill()
		<-g.exited
		return nil, fmt.Errorf("wsgate not listening after 30s\n%s", g.logText())
	}
	t.Cleanup(func() { g.stop() })
	return g, nil
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
			g.ID, _ = m["gateway"].(string)
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
	return dialWith(t, websocket.DefaultDialer, url, hdr)
}

// dialWith is dial with a dialer of the test's own.
func dialWith(t *testing.T, d *websocket.Dialer, url string, hdr http.Header) *client {
	t.Helper()
	c, resp, err := d.Dial(url, hdr)
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

// with returns c reporting to t: a subtest uses its parent's clients
// through it, so that a failure stops the subtest, not the parent.
func (c *client) with(t *testing.T) *client {
	cc := *c
	cc.t = t
	return &cc
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
	Status   int             `json:"status"`
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

// freeAddrs finds n distinct free loopback ports: each is held until all
// are found, so none is found twice.
func freeAddrs(t *testing.T, n int) []string {
	t.Helper()
	var addrs []string
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		addrs = append(addrs, ln.Addr().String())
	}
	return addrs
}

// uaSeq makes User-Agent values unique within the test binary.
var uaSeq atomic.Int64

// uniqueUA returns a User-Agent no other client of this run sends.
func uniqueUA(t *testing.T) string {
	return fmt.Sprintf("e2e/%s/%d", strings.ReplaceAll(t.Name(), " ", "_"), uaSeq.Add(1))
}

// connInfo is the JSON a gateway gives about a connection: info replies,
// GET /@connections/{id} and lifecycle events.
type connInfo struct {
	ConnectionID string    `json:"connectionId"`
	Protocol     string    `json:"protocol"`
	Subprotocol  string    `json:"subprotocol"`
	ConnectedAt  time.Time `json:"connectedAt"`
	LastActiveAt time.Time `json:"lastActiveAt"`
	Identity     struct {
		SourceIP  string `json:"sourceIp"`
		UserAgent string `json:"userAgent"`
	} `json:"identity"`
	Context     map[string]string `json:"context"`
	Gateway     string            `json:"gateway"`
	Subs        int               `json:"subscriptions"`
	MessagesIn  uint64            `json:"messagesIn"`
	MessagesOut uint64            `json:"messagesOut"`
	CloseCode   int               `json:"closeCode"`
	CloseReason string            `json:"closeReason"`
	ClosedBy    string            `json:"closedBy"`
}

// dialID dials path with a unique User-Agent and learns the connection's id
// from the wsgate.events.connect event the gateway publishes for it.
func dialID(t *testing.T, g *gateway, nc *nats.Conn, path string) (*client, string) {
	t.Helper()
	return dialIDWith(t, websocket.DefaultDialer, g, nc, path)
}

// dialIDWith is dialID with a dialer of the test's own.
func dialIDWith(t *testing.T, d *websocket.Dialer, g *gateway, nc *nats.Conn, path string) (*client, string) {
	t.Helper()
	return dialIDAfter(t, d, g, nc, path, nil)
}

// dialIDAfter is dialIDWith that calls ready, if not nil, once the connect
// events are subscribed to and before it dials: on a NATS cluster, to wait
// until the subscription has reached the gateway's own server.
func dialIDAfter(t *testing.T, d *websocket.Dialer, g *gateway, nc *nats.Conn, path string, ready func()) (*client, string) {
	t.Helper()
	sub, err := nc.SubscribeSync("wsgate.events.connect")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	if ready != nil {
		ready()
	}
	ua := uniqueUA(t)
	c := dialWith(t, d, g.WS(path), http.Header{"User-Agent": {ua}})
	for {
		m := nextMsg(t, sub)
		var ev connInfo
		if err := json.Unmarshal(m.Data, &ev); err != nil {
			t.Fatalf("connect event %q: %v", m.Data, err)
		}
		if ev.Identity.UserAgent == ua {
			if ev.ConnectionID == "" || m.Header.Get("Wsgate-Connection-Id") != ev.ConnectionID {
				t.Fatalf("connect event without a consistent id: %q %v", m.Data, m.Header)
			}
			return c, ev.ConnectionID
		}
	}
}

// nextEvent waits for the lifecycle event of connection id on sub, skipping
// other connections' events.
func nextEvent(t *testing.T, sub *nats.Subscription, id string) (*nats.Msg, connInfo) {
	t.Helper()
	for {
		m := nextMsg(t, sub)
		var info connInfo
		if err := json.Unmarshal(m.Data, &info); err != nil {
			t.Fatalf("event %q: %v", m.Data, err)
		}
		if info.ConnectionID == id {
			return m, info
		}
	}
}

// barrier makes every subscription c has asked for so far live in NATS, so
// that a worker's later publish reaches it. The gateway sends all of a
// connection's NATS traffic on one NATS connection, in order: once msg (a
// client message that a route publishes to subject) reaches the worker, the
// SUBs before it have been processed by the server.
func barrier(t *testing.T, nc *nats.Conn, c *client, msg any, subject string) {
	t.Helper()
	sub, err := nc.SubscribeSync(subject)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	c.send(msg)
	nextMsg(t, sub)
}

// builtinBarrier is barrier for a gateway with the built-in routes.
func builtinBarrier(t *testing.T, nc *nats.Conn, c *client) {
	t.Helper()
	barrier(t, nc, c, `{"action":"publish","subject":"e2e.barrier","data":1}`, "e2e.barrier")
}

// metric sums the samples of the Prometheus series name whose labels
// include every one in labels, as /metrics shows them now.
func (g *gateway) metric(t *testing.T, name string, labels map[string]string) float64 {
	t.Helper()
	resp, err := http.Get(g.HTTP("/metrics"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("/metrics: HTTP %d", resp.StatusCode)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for line := range strings.SplitSeq(string(b), "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		sp := strings.LastIndexByte(line, ' ')
		if sp < 0 {
			continue
		}
		series, val := line[:sp], line[sp+1:]
		n, lbls := series, ""
		if i := strings.IndexByte(series, '{'); i >= 0 {
			n, lbls = series[:i], strings.TrimSuffix(series[i+1:], "}")
		}
		if n != name {
			continue
		}
		have := map[string]string{}
		for kv := range strings.SplitSeq(lbls, ",") {
			if k, v, ok := strings.Cut(kv, "="); ok {
				have[k] = strings.Trim(v, `"`)
			}
		}
		match := true
		for k, v := range labels {
			if have[k] != v {
				match = false
			}
		}
		if !match {
			continue
		}
		var f float64
		if _, err := fmt.Sscan(val, &f); err != nil {
			t.Fatalf("metric line %q: %v", line, err)
		}
		sum += f
	}
	return sum
}

// httpDo makes a request to the gateway and returns the status and body.
func (g *gateway) httpDo(t *testing.T, method, path string, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, g.HTTP(path), strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// runCLI runs the wsgate binary with args and returns its output and exit
// code; it fails the test if it runs longer than 20s.
func runCLI(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = raceEnv()
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("wsgate %v did not exit within 20s\n%s", args, errb.String())
	}
	code = 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("wsgate %v: %v", args, err)
		}
		code = ee.ExitCode()
	}
	return out.String(), errb.String(), code
}

// writeFile writes text to a new file in a temporary directory.
func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(f, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// readResult is one message (or the error) a background reader got.
type readResult struct {
	typ  int
	data []byte
	err  error
}

// readAll reads c in the background until it fails; every message and then
// the final error go to the returned channel. Use it when a test must keep
// reading (pings, fan-in from several clients) without t.Fatal off the
// test goroutine.
func (c *client) readAll() <-chan readResult {
	ch := make(chan readResult, 1024)
	go func() {
		defer close(ch)
		for {
			_ = c.Conn.SetReadDeadline(time.Now().Add(30 * time.Second))
			typ, b, err := c.Conn.ReadMessage()
			ch <- readResult{typ, b, err}
			if err != nil {
				return
			}
		}
	}()
	return ch
}
