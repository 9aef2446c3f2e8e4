package bridge

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func TestSessionClose(t *testing.T) {
	e := newEnv(t, Config{})
	w := e.worker()
	events, err := w.SubscribeSync("wsgate.events.disconnect")
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	c := e.dial("/", nil, nil)
	s := e.session(c)
	s.Close(4000, "bye now")
	s.Close(4001, "second close is ignored")
	code, reason := c.readClose()
	if code != 4000 || reason != "bye now" {
		t.Errorf("client got close %d %q, want 4000 %q", code, reason, "bye now")
	}
	waitDone(t, s)
	if err := s.Send(TextFrame([]byte("x"))); !errors.Is(err, ErrClosed) {
		t.Errorf("Send after close = %v, want ErrClosed", err)
	}
	if _, err := s.Subscribe("a.b", "", func(*Delivery) {}); !errors.Is(err, ErrClosed) {
		t.Errorf("Subscribe after close = %v, want ErrClosed", err)
	}
	m, err := events.NextMsg(5 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Header.Get(HeaderConnectionID); got != c.id {
		t.Errorf("disconnect event for %q, want %q", got, c.id)
	}
	if m.Header.Get(HeaderEvent) != EventDisconnect || m.Header.Get(HeaderCloseCode) != "4000" || m.Header.Get(HeaderCloseReason) != "bye now" {
		t.Errorf("disconnect event headers %v", m.Header)
	}
	var info ConnInfo
	if err := json.Unmarshal(m.Data, &info); err != nil {
		t.Fatal(err)
	}
	if info.CloseCode != 4000 || info.ClosedBy != "server" || info.ConnectionID != c.id {
		t.Errorf("disconnect event body %+v", info)
	}
	if n := e.gw.Connections(); n != 0 {
		t.Errorf("%d connections after close", n)
	}
}

// A close from the client ends the session with the client's code.
func TestClientClose(t *testing.T) {
	e := newEnv(t, Config{})
	events, err := e.worker().SubscribeSync("wsgate.events.disconnect")
	if err != nil {
		t.Fatal(err)
	}
	c := e.dial("/", nil, nil)
	s := e.session(c)
	if err := c.c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(4000, "cya"), time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	code, _ := c.readClose() // the server answers the close
	if code != 4000 {
		t.Errorf("server answered close with %d, want the client's 4000", code)
	}
	waitDone(t, s)
	m, err := events.NextMsg(5 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var info ConnInfo
	_ = json.Unmarshal(m.Data, &info)
	if info.CloseCode != 4000 || info.CloseReason != "cya" || info.ClosedBy != "client" {
		t.Errorf("disconnect event %+v", info)
	}
}

func TestShutdown(t *testing.T) {
	e := newEnv(t, Config{})
	a := e.dial("/", nil, nil)
	b := e.dial("/", nil, nil)
	e.sub(b, "sub x.y")
	sa, sb := e.session(a), e.session(b)
	type closed struct {
		code   int
		reason string
	}
	got := make(chan closed, 2)
	for _, c := range []*client{a, b} {
		go func() {
			_ = c.c.SetReadDeadline(time.Now().Add(5 * time.Second))
			for {
				_, _, err := c.c.ReadMessage()
				if err == nil {
					continue
				}
				var ce *websocket.CloseError
				if errors.As(err, &ce) {
					got <- closed{ce.Code, ce.Text}
				} else {
					got <- closed{0, err.Error()}
				}
				return
			}
		}()
	}
	start := time.Now()
	if err := e.stop(); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Shutdown took %s with reading clients", d)
	}
	for range 2 {
		c := <-got
		if c.code != CloseGoingAway || c.reason != "server shutting down" {
			t.Errorf("client got close %d %q, want 1001 server shutting down", c.code, c.reason)
		}
	}
	for _, s := range []*Session{sa, sb} {
		waitDone(t, s)
	}
	if n, h := e.gw.Connections(), e.gw.hub.size(); n != 0 || h != 0 {
		t.Errorf("after Shutdown: %d connections, hub size %d", n, h)
	}
	// A gateway that is shutting down refuses new connections.
	_, resp, err := (&websocket.Dialer{HandshakeTimeout: 5 * time.Second}).Dial(e.wsURL("/"), nil)
	if err == nil || resp == nil || resp.StatusCode != 503 {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Errorf("dial after Shutdown: %v, HTTP %d; want 503", err, status)
	}
}

// A client that has stopped reading does not hold Shutdown up for longer
// than the close grace.
func TestShutdownWithDeafClient(t *testing.T) {
	e := newEnv(t, Config{})
	c := e.dial("/", nil, nil)
	s := e.session(c)
	start := time.Now()
	if err := e.stop(); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if d := time.Since(start); d > closeGrace+2*time.Second {
		t.Errorf("Shutdown took %s", d)
	}
	waitDone(t, s)
}

// A handler's error closes the connection: a *CloseError with its code, any
// other error with 1011.
func TestHandlerErrors(t *testing.T) {
	e := newEnv(t, Config{})
	for _, tc := range []struct {
		cmd    string
		code   int
		reason string
	}{
		{"fail 4003 not allowed", 4003, "not allowed"},
		{"fail 1002 bad frame", CloseProtocolError, "bad frame"},
		{"boom internal trouble", CloseInternal, "internal trouble"},
	} {
		c := e.dial("/", nil, nil)
		s := e.session(c)
		c.send(tc.cmd)
		if code, reason := c.readClose(); code != tc.code || reason != tc.reason {
			t.Errorf("%s: close %d %q, want %d %q", tc.cmd, code, reason, tc.code, tc.reason)
		}
		waitDone(t, s)
		if s.cause.Code != tc.code || s.cause.By != "server" {
			t.Errorf("%s: cause %+v", tc.cmd, s.cause)
		}
	}
}

// The sweep pings quiet connections and closes idle, silent and old ones.
func TestSweep(t *testing.T) {
	t.Run("ping", func(t *testing.T) {
		e := newEnv(t, Config{PingInterval: 50 * time.Millisecond})
		c := e.dial("/", nil, nil)
		pinged := make(chan struct{}, 1)
		c.c.SetPingHandler(func(string) error {
			select {
			case pinged <- struct{}{}:
			default:
			}
			return nil
		})
		go func() { _, _ = c.tryRead(2 * time.Second) }()
		select {
		case <-pinged:
		case <-time.After(2 * time.Second):
			t.Error("no ping within 2s at a 50ms interval")
		}
	})
	t.Run("a listener in a steady stream is pinged, not timed out", func(t *testing.T) {
		// The gateway writes to it more often than PingInterval; it
		// sends nothing but the pongs its pings ask for.
		e := newEnv(t, Config{PingInterval: 50 * time.Millisecond, ReadTimeout: 200 * time.Millisecond})
		c := e.dial("/", nil, nil)
		e.sub(c, "sub steady")
		w := e.worker()
		const n = 80
		go func() {
			for i := range n {
				if err := w.Publish("steady", []byte(fmt.Sprint(i))); err != nil {
					return
				}
				time.Sleep(10 * time.Millisecond)
			}
		}()
		for i := range n {
			got, err := c.tryRead(5 * time.Second)
			if want := fmt.Sprintf("msg steady %d", i); got != want {
				t.Fatalf("message %d: %q, %v; want %q", i, got, err, want)
			}
		}
	})
	for _, tc := range []struct {
		name   string
		cfg    Config
		reason string
	}{
		{"idle timeout", Config{IdleTimeout: 100 * time.Millisecond}, "idle timeout"},
		{"read timeout", Config{PingInterval: -1, ReadTimeout: 100 * time.Millisecond}, "read timeout: no frames from client"},
		{"maximum duration", Config{MaxConnectionDuration: 100 * time.Millisecond}, "maximum connection duration reached"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.cfg)
			c := e.dial("/", nil, nil)
			start := time.Now()
			if code, reason := c.readClose(); code != CloseGoingAway || reason != tc.reason {
				t.Errorf("close %d %q, want 1001 %q", code, reason, tc.reason)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("closed after %s", d)
			}
		})
	}
}

// A ping from the client is answered with its application data.
func TestClientPing(t *testing.T) {
	e := newEnv(t, Config{})
	c := e.dial("/", nil, nil)
	got := make(chan string, 1)
	c.c.SetPongHandler(func(s string) error { got <- s; return nil })
	if err := c.c.WriteControl(websocket.PingMessage, []byte("are you there"), time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	c.send("hello")
	if h := c.read(); !strings.HasPrefix(h, "hello ") {
		t.Fatalf("read %q", h)
	}
	select {
	case s := <-got:
		if s != "are you there" {
			t.Errorf("pong %q", s)
		}
	default:
		t.Error("no pong before the answer to a later message")
	}
}
