package bridge

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// virtualProto is testProto at /virtual whose plain GETs open a session
// over a net.Pipe (Opener.Virtual), and whose upgrades are the bridge's.
type virtualProto struct {
	*testProto
	client chan net.Conn
}

func (p virtualProto) ServeHTTP(w http.ResponseWriter, r *http.Request, o *Opener) {
	if r.Header.Get("Upgrade") != "" {
		o.Upgrade(w, r)
		return
	}
	server, client := net.Pipe()
	s := o.Virtual(w, r, server)
	if s == nil {
		client.Close()
		return
	}
	if !s.Virtual() {
		panic("not virtual")
	}
	p.client <- client
	_, _ = io.WriteString(w, "opened "+s.ID())
}

// clientFrame is a masked text frame with the zero key.
func clientFrame(s string) []byte {
	return append([]byte{0x81, 0x80 | byte(len(s)), 0, 0, 0, 0}, s...)
}

// TestVirtualSession: a session over a virtual connection reads the
// client's frames and writes its own as any other, and is a session of
// the gateway (subscriptions, control subjects).
func TestVirtualSession(t *testing.T) {
	tp := newTestProto()
	tp.paths = []string{"/virtual"}
	p := virtualProto{tp, make(chan net.Conn, 1)}
	e := newEnv(t, Config{}, p)
	resp, err := http.Get(e.srv.URL + "/virtual")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	id, ok := strings.CutPrefix(string(b), "opened ")
	if !ok {
		t.Fatalf("answer %q", b)
	}
	conn := <-p.client
	defer conn.Close()
	br := bufio.NewReader(conn)
	read := func() string {
		t.Helper()
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		var h [2]byte
		if _, err := io.ReadFull(br, h[:]); err != nil {
			t.Fatal(err)
		}
		data := make([]byte, h[1]&0x7f)
		if _, err := io.ReadFull(br, data); err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	if _, err := conn.Write(clientFrame("sub v.x")); err != nil {
		t.Fatal(err)
	}
	if got := read(); got != "ok sub v.x" {
		t.Fatalf("sub: %q", got)
	}
	w := e.worker()
	w.Publish("v.x", []byte("hi"))
	if got := read(); got != "msg v.x hi" {
		t.Fatalf("delivery: %q", got)
	}
	// The connection's control subscription went out on the gateway's
	// own NATS connection, unflushed: flush it, as a connect event
	// published after it would be.
	if err := e.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Request("wsgate.conn."+id+".send", []byte("p"), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if got := read(); got != "push p" {
		t.Fatalf("push: %q", got)
	}
	// An ordinary WebSocket on the same path still works.
	c := e.dial("/virtual", nil, nil)
	c.send("hello")
	if got := c.read(); !strings.HasPrefix(got, "hello test ") {
		t.Fatalf("websocket: %q", got)
	}
}
