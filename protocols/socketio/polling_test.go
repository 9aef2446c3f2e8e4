package socketio

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/nats-io/nats.go"

	"github.com/wsgate/wsgate/bridge"
)

// poller is a raw Engine.IO long-polling client.
type poller struct {
	t   *testing.T
	e   *env
	sid string
}

func (e *env) pollURL(sid string) string {
	u := e.srv.URL + "/socket.io/?EIO=4&transport=polling"
	if sid != "" {
		u += "&sid=" + sid
	}
	return u
}

// openPolling does the handshake and returns the client and the open
// packet.
func (e *env) openPolling(t *testing.T) (*poller, string) {
	t.Helper()
	status, body := httpDo(t, http.MethodGet, e.pollURL(""), "")
	if status != http.StatusOK || !strings.HasPrefix(body, "0{") {
		t.Fatalf("handshake: %d %q", status, body)
	}
	var o struct{ SID string }
	if err := json.Unmarshal([]byte(body[1:]), &o); err != nil {
		t.Fatal(err)
	}
	return &poller{t: t, e: e, sid: o.SID}, body
}

func httpDo(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (p *poller) post(packets ...string) {
	p.t.Helper()
	status, body := httpDo(p.t, http.MethodPost, p.e.pollURL(p.sid), strings.Join(packets, "\x1e"))
	if status != http.StatusOK || body != "ok" {
		p.t.Fatalf("POST: %d %q", status, body)
	}
}

// get polls once and returns the packets, pings answered and left out.
func (p *poller) get() []string {
	p.t.Helper()
	for {
		status, body := httpDo(p.t, http.MethodGet, p.e.pollURL(p.sid), "")
		if status != http.StatusOK {
			p.t.Fatalf("GET: %d %q", status, body)
		}
		var out []string
		for pkt := range strings.SplitSeq(body, "\x1e") {
			switch pkt {
			case "2":
				p.post("3")
			case "6":
			default:
				out = append(out, pkt)
			}
		}
		if len(out) > 0 {
			return out
		}
	}
}

func TestPolling(t *testing.T) {
	e := newEnv(t, Config{}, nil)
	w := e.worker()
	p, open := e.openPolling(t)
	if !strings.Contains(open, `"upgrades":["websocket"]`) {
		t.Fatalf("open %q", open)
	}
	p.post("40")
	if got := p.get(); len(got) != 1 || !strings.HasPrefix(got[0], `40{"sid":`) {
		t.Fatalf("CONNECT answer %q", got)
	}
	// Several packets in one POST, binary data in base64 from a worker.
	ch := sub(t, w, "sio._.chat")
	p.post(`42["chat",1]`, `42["chat",2]`)
	for _, want := range []string{"1", "2"} {
		if m := recv(t, ch); string(m.Data) != want {
			t.Fatalf("emit %q, want %s", m.Data, want)
		}
	}
	var o struct{ SID string }
	_ = json.Unmarshal([]byte(open[1:]), &o)
	for _, d := range []string{`"a"`, `"b"`} {
		m := nats.NewMsg("wsgate.conn." + o.SID + ".send")
		m.Data = []byte(d)
		if err := w.PublishMsg(m); err != nil {
			t.Fatal(err)
		}
	}
	w.Flush()
	var got []string
	for len(got) < 2 {
		got = append(got, p.get()...)
	}
	if got[0] != `42["message","a"]` || got[1] != `42["message","b"]` {
		t.Fatalf("pushes %q", got)
	}

	// Refusals: an unknown sid, a JSONP request, a handshake by POST.
	for _, tc := range []struct{ method, url, body string }{
		{http.MethodGet, e.pollURL("nope"), `{"code":1,"message":"Session ID unknown"}`},
		{http.MethodGet, e.srv.URL + "/socket.io/?EIO=4&transport=polling&j=0", `{"code":3,"message":"Bad request"}`},
		{http.MethodPost, e.pollURL(""), `{"code":2,"message":"Bad handshake method"}`},
		{http.MethodGet, e.srv.URL + "/socket.io/?EIO=3&transport=polling", `{"code":5,"message":"Unsupported protocol version"}`},
	} {
		if status, body := httpDo(t, tc.method, tc.url, ""); status != http.StatusBadRequest || body != tc.body {
			t.Errorf("%s %s: %d %q", tc.method, tc.url, status, body)
		}
	}
}

func TestPollingLimits(t *testing.T) {
	e := newEnv(t, Config{MaxPayload: 100}, nil)
	p, _ := e.openPolling(t)
	// A body over max_payload: 413, and the session ends.
	status, _ := httpDo(t, http.MethodPost, e.pollURL(p.sid), `42["x","`+strings.Repeat("y", 200)+`"]`)
	if status != http.StatusRequestEntityTooLarge {
		t.Fatalf("big POST: %d", status)
	}
	// The GET that follows learns of the close.
	status, body := httpDo(t, http.MethodGet, e.pollURL(p.sid), "")
	if status == http.StatusOK && !strings.HasSuffix(body, "1") {
		t.Fatalf("after the close: %d %q", status, body)
	}
	if n := e.metric("wsgate_protocol_errors_total", `protocol="socketio"`, `kind="too_large"`); n != 1 {
		t.Errorf("too large counted %v", n)
	}
	// Two GETs at once: the second is refused, the session closed.
	q, _ := e.openPolling(t)
	first := make(chan string, 1)
	go func() {
		_, body := httpDo(t, http.MethodGet, e.pollURL(q.sid), "")
		first <- body
	}()
	time.Sleep(100 * time.Millisecond) // let the first GET wait
	if status, body := httpDo(t, http.MethodGet, e.pollURL(q.sid), ""); status != http.StatusBadRequest {
		t.Fatalf("second GET: %d %q", status, body)
	}
	if body := <-first; !strings.HasSuffix(body, "1") {
		t.Fatalf("first GET after the violation: %q", body)
	}
}

func TestPollingUpgrade(t *testing.T) {
	e := newEnv(t, Config{}, nil)
	w := e.worker()
	p, _ := e.openPolling(t)
	p.post("40")
	p.get()
	// A GET waits while the probe runs; it is answered with noop.
	pending := make(chan string, 1)
	go func() {
		_, body := httpDo(t, http.MethodGet, e.pollURL(p.sid), "")
		pending <- body
	}()
	ws, _, err := websocket.DefaultDialer.Dial(e.url("EIO=4&transport=websocket&sid="+p.sid), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	c := &client{t: t, ws: ws}
	c.send("2probe")
	if got := c.next(); got != "3probe" {
		t.Fatalf("probe answer %q", got)
	}
	if got := <-pending; got != "6" {
		t.Fatalf("pending GET %q", got)
	}
	c.send("5")
	// The session goes on over the WebSocket: same sid, same namespace.
	ch := sub(t, w, "sio._.up")
	c.send(`42["up","ws"]`)
	if m := recv(t, ch); string(m.Data) != `"ws"` {
		t.Fatalf("emit after the upgrade %q", m.Data)
	}
	m := nats.NewMsg("wsgate.conn." + p.sid + ".send")
	m.Data = []byte(`"down"`)
	w.PublishMsg(m)
	if got := c.next(); got != `42["message","down"]` {
		t.Fatalf("push after the upgrade %q", got)
	}
	// Polling is over for this session.
	if status, _ := httpDo(t, http.MethodGet, e.pollURL(p.sid), ""); status != http.StatusBadRequest {
		t.Fatalf("GET after the upgrade: %d", status)
	}
	// A WebSocket for an unknown sid is refused before its upgrade.
	if _, resp, err := websocket.DefaultDialer.Dial(e.url("EIO=4&transport=websocket&sid=nope"), nil); err == nil || resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("unknown sid: %v", err)
	}
}

// TestPollingSessionIP: with check_session_ip, a session's requests from
// another address are refused as an unknown session.
func TestPollingSessionIP(t *testing.T) {
	p := &Protocol{cfg: Config{CheckSessionIP: true}}
	pc := &pollConn{ip: "192.0.2.1"}
	r, _ := http.NewRequest(http.MethodGet, "/socket.io/", nil)
	for addr, want := range map[string]bool{"192.0.2.1:4000": true, "192.0.2.2:4000": false, "[2001:db8::1]:1": false} {
		r.RemoteAddr = addr
		if got := p.sameClient(pc, r); got != want {
			t.Errorf("%s: %v", addr, got)
		}
	}
	p.cfg.CheckSessionIP = false
	if !p.sameClient(pc, r) {
		t.Error("without check_session_ip any address is the client's")
	}
}

// TestPollingSlowConsumer: a polling client that stops polling fills its
// session's outbound queue, bounded as every session's, and is
// disconnected as a slow consumer; the room goes on for the others.
func TestPollingSlowConsumer(t *testing.T) {
	e := newEnvGateway(t, bridge.Config{MaxQueuedBytes: 16 << 10}, Config{Routes: map[string]RouteConfig{"join": {Integration: "join"}}}, nil)
	w := e.worker()
	p, _ := e.openPolling(t)
	p.post("40")
	p.get()
	p.post(`421["join","flood"]`)
	if got := p.get(); len(got) != 1 || got[0] != "431[]" {
		t.Fatalf("join %q", got)
	}
	big := `"` + strings.Repeat("x", 1024) + `"`
	for range 32 {
		w.Publish("sio-room._.flood", []byte(big))
	}
	w.Flush()
	deadline := time.Now().Add(10 * time.Second)
	for e.metric("wsgate_slow_consumer_disconnects_total", `protocol="socketio"`) != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the polling client was not disconnected as a slow consumer")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Its session is gone.
	deadline = time.Now().Add(10 * time.Second)
	for {
		status, body := httpDo(t, http.MethodGet, e.pollURL(p.sid), "")
		if status == http.StatusBadRequest && body == `{"code":1,"message":"Session ID unknown"}` {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the slow consumer: %d %.60q", status, body)
		}
	}
	// The room goes on for the others.
	ws := e.connect(t, "/", "")
	ws.send(`421["join","flood"]`)
	if got := ws.next(); got != "431[]" {
		t.Fatalf("join %q", got)
	}
	w.Publish("sio-room._.flood", []byte(`"after"`))
	if got := ws.next(); got != `42["message","after"]` {
		t.Fatalf("after %q", got)
	}
}
