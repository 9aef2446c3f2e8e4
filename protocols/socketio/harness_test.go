package socketio

import (
	"context"
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

// env is a gateway speaking Socket.IO on an embedded NATS server behind an
// httptest server; everything stops when the test ends.
type env struct {
	t   *testing.T
	emb *bridge.Embedded
	gw  *gatewaytest.Gateway
	srv *httptest.Server
	p   *Protocol
}

func newEnv(t *testing.T, cfg Config, authn auth.Authenticator) *env {
	t.Helper()
	return newEnvGateway(t, bridge.Config{}, cfg, authn)
}

// newEnvGateway is newEnv with a gateway config.
func newEnvGateway(t *testing.T, gcfg bridge.Config, cfg Config, authn auth.Authenticator) *env {
	t.Helper()
	return newEnvOn(t, gatewaytest.NATS(t), gcfg, cfg, authn)
}

// peer is a second gateway of the same deployment: on e's NATS, with the
// same configs.
func (e *env) peer(gcfg bridge.Config, cfg Config) *env {
	e.t.Helper()
	return newEnvOn(e.t, e.emb, gcfg, cfg, nil)
}

// newEnvOn is a gateway on emb.
func newEnvOn(t *testing.T, emb *bridge.Embedded, gcfg bridge.Config, cfg Config, authn auth.Authenticator) *env {
	t.Helper()
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	gw := gatewaytest.Start(t, emb, bridge.Options{Config: gcfg, Authenticator: authn, Protocols: []bridge.Protocol{p}})
	return &env{t: t, emb: emb, gw: gw, srv: gw.Server, p: p}
}

func (e *env) stop() { e.gw.Stop() }

// worker is a NATS connection as a backend worker has.
func (e *env) worker() *nats.Conn { return gatewaytest.Worker(e.t, e.emb) }

// client is a raw Engine.IO client over WebSocket.
type client struct {
	t    *testing.T
	ws   *websocket.Conn
	sid  string
	open string
}

func (e *env) url(query string) string {
	return e.gw.URL("/socket.io/?" + query)
}

// dial connects and reads the open packet.
func (e *env) dial(t *testing.T) *client {
	t.Helper()
	ws, resp, err := websocket.DefaultDialer.Dial(e.url("EIO=4&transport=websocket"), nil)
	if err != nil {
		t.Fatalf("dial: %v (%v)", err, resp)
	}
	t.Cleanup(func() { ws.Close() })
	c := &client{t: t, ws: ws}
	c.open = c.next()
	if !strings.HasPrefix(c.open, "0{") {
		t.Fatalf("open packet %q", c.open)
	}
	return c
}

// connect dials and connects namespace ns with auth (a JSON object or "").
func (e *env) connect(t *testing.T, ns, auth string) *client {
	t.Helper()
	c := e.dial(t)
	c.join(ns, auth)
	return c
}

// join connects namespace ns on the connection.
func (c *client) join(ns, auth string) {
	c.t.Helper()
	c.send("40" + nsp(ns) + auth)
	if got := c.next(); !strings.HasPrefix(got, "40"+nsp(ns)+`{"sid":`) {
		c.t.Fatalf("CONNECT answer %q", got)
	}
}

// nsp is how a packet names ns: nothing for "/", else "/ns,".
func nsp(ns string) string {
	if ns == "/" {
		return ""
	}
	return ns + ","
}

func (c *client) send(s string) {
	c.t.Helper()
	if err := c.ws.WriteMessage(websocket.TextMessage, []byte(s)); err != nil {
		c.t.Fatal(err)
	}
}

// next reads the next packet that is not a ping, failing after 5 s.
func (c *client) next() string {
	c.t.Helper()
	for {
		_ = c.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		typ, b, err := c.ws.ReadMessage()
		if err != nil {
			c.t.Fatalf("read: %v", err)
		}
		if typ != websocket.TextMessage {
			c.t.Fatalf("frame type %d", typ)
		}
		if string(b) == "2" {
			c.send("3")
			continue
		}
		return string(b)
	}
}

// silent checks that nothing arrives for d.
func (c *client) silent(d time.Duration) {
	c.t.Helper()
	_ = c.ws.SetReadDeadline(time.Now().Add(d))
	_, b, err := c.ws.ReadMessage()
	if err == nil {
		c.t.Fatalf("unexpected message %q", b)
	}
}

// closeCode reads until the connection closes and returns the close code.
func (c *client) closeCode() (int, string) {
	c.t.Helper()
	for {
		_ = c.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, _, err := c.ws.ReadMessage()
		if err == nil {
			continue
		}
		if ce, ok := err.(*websocket.CloseError); ok {
			return ce.Code, ce.Text
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
		if _, err := fmt.Sscan(line[strings.LastIndexByte(line, ' ')+1:], &v); err == nil {
			sum += v
		}
	}
	return sum
}

// sub subscribes a worker and returns the channel of its messages.
func sub(t *testing.T, nc *nats.Conn, subject string) chan *nats.Msg {
	t.Helper()
	ch := make(chan *nats.Msg, 16)
	s, err := nc.ChanSubscribe(subject, ch)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Unsubscribe() })
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return ch
}

func recv(t *testing.T, ch chan *nats.Msg) *nats.Msg {
	t.Helper()
	select {
	case m := <-ch:
		return m
	case <-time.After(5 * time.Second):
		t.Fatal("no NATS message")
		return nil
	}
}

// tokens admits the token "good" with every permission, "limited" with
// permissions on the sio._.ok event and room r1 of / only, and refuses
// everything else.
type tokens struct{}

func (tokens) Authenticate(_ context.Context, c *auth.Credentials) (*auth.Principal, error) {
	switch c.Token {
	case "good":
		return &auth.Principal{ID: "ada", Claims: map[string]any{"sub": "ada"}, Permissions: &auth.Permissions{
			Publish:   auth.Rules{Allow: []string{">"}},
			Subscribe: auth.Rules{Allow: []string{">"}},
		}}, nil
	case "limited":
		return &auth.Principal{ID: "bob", Permissions: &auth.Permissions{
			Publish:   auth.Rules{Allow: []string{"sio._.ok"}},
			Subscribe: auth.Rules{Allow: []string{"sio-room._.r1"}},
		}}, nil
	case "":
		return nil, auth.ErrNoCredentials
	}
	return nil, fmt.Errorf("%w: bad token", auth.ErrDenied)
}
