package wamp

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/nats-io/nats.go"

	"github.com/wsgate/wsgate/auth"
	"github.com/wsgate/wsgate/bridge"
	"github.com/wsgate/wsgate/internal/gatewaytest"
)

// env is a gateway speaking WAMP on an embedded NATS server behind an
// httptest server; everything stops when the test ends.
type env struct {
	t   *testing.T
	emb *bridge.Embedded
	gw  *gatewaytest.Gateway
	srv *httptest.Server
}

func newEnv(t *testing.T, cfg Config, authn auth.Authenticator) *env {
	t.Helper()
	return newEnvOn(t, newEmbedded(t), cfg, authn)
}

// newEmbedded starts a NATS for the test's gateways.
func newEmbedded(t *testing.T) *bridge.Embedded { return gatewaytest.NATS(t) }

// newEnvOn is a second gateway on the same NATS.
func newEnvOn(t *testing.T, emb *bridge.Embedded, cfg Config, authn auth.Authenticator) *env {
	t.Helper()
	return newEnvGateway(t, emb, bridge.Config{}, cfg, authn)
}

// newEnvGateway is newEnvOn with a gateway config.
func newEnvGateway(t *testing.T, emb *bridge.Embedded, gcfg bridge.Config, cfg Config, authn auth.Authenticator) *env {
	t.Helper()
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	gw := gatewaytest.Start(t, emb, bridge.Options{Config: gcfg, Authenticator: authn, Protocols: []bridge.Protocol{p}})
	return &env{t: t, emb: emb, gw: gw, srv: gw.Server}
}

// stop shuts the gateway down, once.
func (e *env) stop() { e.gw.Stop() }

// worker is a NATS connection as a backend worker has.
func (e *env) worker() *nats.Conn { return gatewaytest.Worker(e.t, e.emb) }

// client is a raw WAMP client.
type client struct {
	t   *testing.T
	ws  *websocket.Conn
	ser Serializer
	seq uint64
}

// dial connects with a subprotocol (or none: path /wamp) and header.
func (e *env) dial(t *testing.T, ser Serializer, hdr http.Header) *client {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	path := "/"
	if ser == nil {
		path, ser = "/wamp", JSON
	} else {
		d.Subprotocols = []string{ser.Subprotocol()}
	}
	ws, resp, err := d.Dial(e.gw.URL(path), hdr)
	if err != nil {
		t.Fatalf("dial: %v (%v)", err, resp)
	}
	t.Cleanup(func() { ws.Close() })
	return &client{t: t, ws: ws, ser: ser}
}

// join dials and establishes a session in realm1.
func (e *env) join(t *testing.T, ser Serializer) (*client, *Welcome) {
	t.Helper()
	c := e.dial(t, ser, nil)
	c.send(&Hello{Realm: "realm1", Details: Dict{"roles": Dict{"subscriber": Dict{}, "publisher": Dict{}, "caller": Dict{}, "callee": Dict{}}}})
	w, ok := c.next().(*Welcome)
	if !ok {
		t.Fatal("no WELCOME")
	}
	return c, w
}

func (c *client) id() uint64 { c.seq++; return c.seq }

func (c *client) send(m Message) {
	c.t.Helper()
	b, err := Encode(c.ser, nil, m)
	if err != nil {
		c.t.Fatal(err)
	}
	c.raw(b)
}

func (c *client) raw(b []byte) {
	c.t.Helper()
	typ := websocket.BinaryMessage
	if c.ser.Text() {
		typ = websocket.TextMessage
	}
	if err := c.ws.WriteMessage(typ, b); err != nil {
		c.t.Fatal(err)
	}
}

// next reads the next message, failing after 5 s.
func (c *client) next() Message {
	c.t.Helper()
	_ = c.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	typ, b, err := c.ws.ReadMessage()
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	if (typ == websocket.TextMessage) != c.ser.Text() {
		c.t.Fatalf("frame type %d for %s", typ, c.ser.Subprotocol())
	}
	m, err := Decode(c.ser, b, Limits{MaxBytes: 1 << 20, MaxDepth: 64})
	if err != nil {
		c.t.Fatalf("decode %q: %v", b, err)
	}
	return m
}

// expect reads the next message, which must be of type T.
func expect[T Message](c *client) T {
	c.t.Helper()
	m := c.next()
	v, ok := m.(T)
	if !ok {
		c.t.Fatalf("got %#v, want a %T", m, *new(T))
	}
	return v
}

// silent checks that nothing arrives for d.
func (c *client) silent(d time.Duration) {
	c.t.Helper()
	_ = c.ws.SetReadDeadline(time.Now().Add(d))
	_, b, err := c.ws.ReadMessage()
	if err == nil {
		c.t.Fatalf("unexpected message %q", b)
	}
	// A read deadline breaks a gorilla connection: the caller is done
	// with it.
}

// closeCode reads until the connection closes and returns the close code.
func (c *client) closeCode() int {
	c.t.Helper()
	for {
		_ = c.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, _, err := c.ws.ReadMessage()
		if err == nil {
			continue
		}
		if ce, ok := err.(*websocket.CloseError); ok {
			return ce.Code
		}
		c.t.Fatalf("no close frame: %v", err)
	}
}

// metric reads a counter's value from /metrics.
func (e *env) metric(name string, labels ...string) float64 {
	e.t.Helper()
	resp, err := http.Get(e.srv.URL + "/metrics")
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	sum := 0.0
next:
	for line := range strings.SplitSeq(string(b), "\n") {
		if !strings.HasPrefix(line, name+"{") {
			continue
		}
		for _, l := range labels {
			if !strings.Contains(line, l) {
				continue next
			}
		}
		var v float64
		if _, err := fmtSscan(line[strings.LastIndexByte(line, ' ')+1:], &v); err == nil {
			sum += v
		}
	}
	return sum
}

func fmtSscan(s string, v *float64) (int, error) { return fmt.Sscan(s, v) }
