package bridge

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/nats-io/nats.go"

	"github.com/wsgate/wsgate/auth"
)

// testProto is a line protocol for exercising the Session API. The client
// sends text commands; the server answers "ok ..." or "err ...":
//
//	hello               answered with "hello PROTO CONNID"
//	sub SUBJ            subscribe; messages arrive as "msg SUBJ DATA"
//	qsub SUBJ QUEUE     subscribe in a queue group
//	unsub SUBJ          unsubscribe
//	pub SUBJ DATA       publish
//	close CODE REASON   Session.Close
//	fail CODE REASON    HandleMessage returns a *CloseError
//	boom TEXT           HandleMessage returns another error
//
// Worker pushes arrive as "push DATA".
type testProto struct {
	name    string
	tokens  []string
	paths   []string
	encodes atomic.Int64 // calls of the delivery encoder
	ghosts  chan *Ghost  // connections of dead gateways, when set
}

var _ Protocol = (*testProto)(nil)

func newTestProto() *testProto {
	return &testProto{name: "test", tokens: []string{"test.v1"}, paths: []string{"/", "/ws"}}
}

func (p *testProto) Name() string           { return p.name }
func (p *testProto) Subprotocols() []string { return p.tokens }
func (p *testProto) Paths() []string        { return p.paths }
func (p *testProto) Open(s *Session) Handler {
	return &testHandler{p: p, s: s, subs: map[string]*Subscription{}}
}

// testFrameKey names testProto's one encoding of a delivery.
var testFrameKey = new(int)

func (p *testProto) encode(m *Message) (*Frame, error) {
	p.encodes.Add(1)
	return TextFrame([]byte("msg " + m.Subject + " " + string(m.Data))), nil
}

type testHandler struct {
	p    *testProto
	s    *Session
	subs map[string]*Subscription // used by HandleMessage only, whose calls never overlap
}

func (h *testHandler) HandleMessage(_ bool, data []byte) error {
	return h.handle(string(data))
}

func (h *testHandler) say(s string) { _ = h.s.Send(TextFrame([]byte(s))) }

func (h *testHandler) handle(line string) error {
	verb, rest, _ := strings.Cut(line, " ")
	switch verb {
	case "hello":
		h.say("hello " + h.p.name + " " + h.s.ID())
	case "sub", "qsub":
		subj, queue, _ := strings.Cut(rest, " ")
		sub, err := h.s.Subscribe(subj, queue, h.deliver)
		if err != nil {
			h.say("err " + err.Error())
			return nil
		}
		h.subs[subj] = sub
		h.say("ok " + line)
	case "unsub":
		if sub := h.subs[rest]; sub != nil {
			sub.Unsubscribe()
			delete(h.subs, rest)
		}
		h.say("ok " + line)
	case "pub":
		subj, data, _ := strings.Cut(rest, " ")
		if err := h.s.Publish(subj, "", nil, []byte(data)); err != nil {
			h.say("err " + err.Error())
			return nil
		}
		h.say("ok pub " + subj)
	case "tpub": // tpub <subject> <traceparent> <data>: as a STOMP SEND with a traceparent header
		subj, rest, _ := strings.Cut(rest, " ")
		tp, data, _ := strings.Cut(rest, " ")
		if err := h.s.Publish(subj, "", Header{"Traceparent": {tp}}, []byte(data)); err != nil {
			h.say("err " + err.Error())
			return nil
		}
		h.say("ok pub " + subj)
	case "close":
		code, reason, _ := strings.Cut(rest, " ")
		n, _ := strconv.Atoi(code)
		h.s.Close(n, reason)
	case "fail":
		code, reason, _ := strings.Cut(rest, " ")
		n, _ := strconv.Atoi(code)
		return &CloseError{Code: n, Reason: reason}
	case "boom":
		return errors.New(rest)
	case "words":
		h.s.SetLastWords([]byte(rest))
		h.say("ok words")
	default:
		h.say("err unknown command")
	}
	return nil
}

func (h *testHandler) deliver(d *Delivery) {
	f, err := d.Frame(testFrameKey, h.p.encode)
	if err == nil {
		_ = h.s.Send(f)
	}
}

func (h *testHandler) Push(m *Message) { h.say("push " + string(m.Data)) }

// Ghost implements GhostHandler: it passes the ghost on to ghosts, if set.
func (p *testProto) Ghost(g *Ghost) {
	if p.ghosts != nil {
		p.ghosts <- g
	}
}

// env is a gateway on an embedded NATS server behind an httptest server.
// Everything is shut down when the test ends.
type env struct {
	t     *testing.T
	emb   *Embedded
	nc    *nats.Conn // the gateway's connection
	gw    *Gateway
	srv   *httptest.Server
	proto *testProto // the first protocol, when it is a *testProto

	stopOnce sync.Once
	stopErr  error
}

func newEnv(t *testing.T, cfg Config, protos ...Protocol) *env {
	t.Helper()
	return newEnvAuth(t, cfg, nil, protos...)
}

// allowAll admits everyone with every permission, without being dev mode.
type allowAll struct{}

func (allowAll) Authenticate(context.Context, *auth.Credentials) (*auth.Principal, error) {
	return &auth.Principal{ID: "someone"}, nil
}

// newEnvAuth is newEnv with an authenticator (nil: dev mode).
func newEnvAuth(t *testing.T, cfg Config, authn auth.Authenticator, protos ...Protocol) *env {
	t.Helper()
	if len(protos) == 0 {
		protos = []Protocol{newTestProto()}
	}
	emb, err := StartEmbedded(EmbeddedConfig{Listen: "-", DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emb.Shutdown)
	return newEnvOn(t, emb, cfg, authn, protos...)
}

// newEnvOn is a gateway on an embedded NATS that another env may share:
// two gateways of one deployment.
func newEnvOn(t *testing.T, emb *Embedded, cfg Config, authn auth.Authenticator, protos ...Protocol) *env {
	t.Helper()
	return newEnvOpts(t, emb, Options{Config: cfg, Authenticator: authn, Protocols: protos})
}

// newEnvOpts is newEnvOn with more of the gateway's options (its NATS
// connections and logger are the env's).
func newEnvOpts(t *testing.T, emb *Embedded, o Options) *env {
	t.Helper()
	cfg, protos := o.Config, o.Protocols
	if cfg.GhostTimeout == 0 {
		// Liveness off unless the test is about it (peers_test.go), as
		// for a standalone gateway (cmd's default).
		cfg.GhostTimeout = -1
	}
	if len(protos) == 0 {
		protos = []Protocol{newTestProto()}
	}
	nc, err := emb.Connect()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	hubNC, err := emb.Connect(nats.NoEcho())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(hubNC.Close)
	o.Config, o.Protocols, o.NATS, o.HubNATS = cfg, protos, nc, hubNC
	o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	gw, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, emb: emb, nc: nc, gw: gw}
	e.proto, _ = protos[0].(*testProto)
	e.srv = httptest.NewServer(gw.Handler())
	t.Cleanup(e.srv.Close)
	t.Cleanup(func() {
		if err := e.stop(); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return e
}

// stop shuts the gateway down, once.
func (e *env) stop() error {
	e.stopOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		e.stopErr = e.gw.Shutdown(ctx)
	})
	return e.stopErr
}

// worker is a second NATS connection, as a backend worker has.
func (e *env) worker() *nats.Conn {
	e.t.Helper()
	nc, err := e.emb.Connect()
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(nc.Close)
	return nc
}

func (e *env) wsURL(path string) string {
	return "ws" + strings.TrimPrefix(e.srv.URL, "http") + path
}

// client is a gorilla client connected to the gateway.
type client struct {
	t  *testing.T
	c  *websocket.Conn
	id string // connection id from the hello
}

// dial connects to path with d (nil for a default dialer) and says hello:
// the answer comes from the reader, which starts only once the session is
// registered and reachable on its control subjects.
func (e *env) dial(path string, d *websocket.Dialer, hdr http.Header) *client {
	e.t.Helper()
	if d == nil {
		d = &websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	}
	c, resp, err := d.Dial(e.wsURL(path), hdr)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		e.t.Fatalf("dial %s: %v (HTTP %d)", path, err, status)
	}
	e.t.Cleanup(func() { c.Close() })
	cl := &client{t: e.t, c: c}
	cl.send("hello")
	hello := cl.read()
	f := strings.Fields(hello)
	if len(f) != 3 || f[0] != "hello" {
		e.t.Fatalf("first message %q, want a hello", hello)
	}
	cl.id = f[2]
	// Make sure the NATS server has the control subscription before a
	// worker asks.
	if err := e.nc.Flush(); err != nil {
		e.t.Fatal(err)
	}
	return cl
}

// read returns the next text message, failing the test after 5s.
func (c *client) read() string {
	c.t.Helper()
	s, err := c.tryRead(5 * time.Second)
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return s
}

func (c *client) tryRead(timeout time.Duration) (string, error) {
	_ = c.c.SetReadDeadline(time.Now().Add(timeout))
	typ, p, err := c.c.ReadMessage()
	if err != nil {
		return "", err
	}
	if typ != websocket.TextMessage {
		return "", errors.New("binary message")
	}
	return string(p), nil
}

func (c *client) send(s string) {
	c.t.Helper()
	if err := c.c.WriteMessage(websocket.TextMessage, []byte(s)); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// do sends a command and expects an "ok" answer.
func (c *client) do(cmd string) {
	c.t.Helper()
	c.send(cmd)
	if got := c.read(); !strings.HasPrefix(got, "ok ") {
		c.t.Fatalf("%s: answer %q", cmd, got)
	}
}

// readClose reads until the connection closes and returns the close frame's
// code and reason.
func (c *client) readClose() (int, string) {
	c.t.Helper()
	_ = c.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		_, _, err := c.c.ReadMessage()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if !errors.As(err, &ce) {
			c.t.Fatalf("read: %v, want a close frame", err)
		}
		return ce.Code, ce.Text
	}
}

// sub subscribes the client and waits until NATS has the subscription.
func (e *env) sub(c *client, cmd string) {
	e.t.Helper()
	c.do(cmd)
	// The hub subscribes on its own connection (Options.HubNATS), as
	// Session.FlushSubscriptions knows.
	if err := e.gw.hub.nc.Flush(); err != nil {
		e.t.Fatal(err)
	}
}

// session returns the gateway's session of a client.
func (e *env) session(c *client) *Session {
	e.t.Helper()
	s := e.gw.session(c.id)
	if s == nil {
		e.t.Fatalf("no session %s", c.id)
	}
	return s
}

// waitDone waits for a session to end.
func waitDone(t *testing.T, s *Session) {
	t.Helper()
	select {
	case <-s.Done():
	case <-time.After(5 * time.Second):
		t.Fatalf("session %s did not end", s.ID())
	}
}

// checkFor polls f until it returns nil or timeout passes.
func checkFor(t *testing.T, timeout time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// smallReadBuffer makes a dialer whose socket buffers little, so a client
// that stops reading pushes back on the server quickly.
func smallReadBuffer() *websocket.Dialer {
	return &websocket.Dialer{
		HandshakeTimeout: 5 * time.Second,
		NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if tc, ok := c.(*net.TCPConn); ok {
				_ = tc.SetReadBuffer(4 << 10)
			}
			return c, err
		},
	}
}

// SubscriptionRevoked tells the client which subscription a reload took.
func (h *testHandler) SubscriptionRevoked(sub *Subscription) { h.say("revoked " + sub.Pattern()) }
