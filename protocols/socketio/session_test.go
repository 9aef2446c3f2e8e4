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

func TestHandshake(t *testing.T) {
	e := newEnv(t, Config{PingInterval: 2 * time.Second, PingTimeout: time.Second}, nil)
	c := e.dial(t)
	var open struct {
		SID          string   `json:"sid"`
		Upgrades     []string `json:"upgrades"`
		PingInterval int      `json:"pingInterval"`
		PingTimeout  int      `json:"pingTimeout"`
		MaxPayload   int      `json:"maxPayload"`
	}
	if err := json.Unmarshal([]byte(c.open[1:]), &open); err != nil {
		t.Fatal(err)
	}
	if open.SID == "" || open.Upgrades == nil || len(open.Upgrades) != 0 || open.PingInterval != 2000 || open.PingTimeout != 1000 || open.MaxPayload != 1000000 {
		t.Fatalf("open packet %s", c.open)
	}

	// Refusals come before the upgrade, with engine.io's error codes.
	for _, tc := range []struct{ query, body string }{
		{"EIO=3&transport=websocket", `{"code":5,"message":"Unsupported protocol version"}`},
		{"transport=websocket", `{"code":5,"message":"Unsupported protocol version"}`},
		{"EIO=4&transport=polling", `{"code":3,"message":"Bad request"}`},
		{"EIO=4&transport=carrier-pigeon", `{"code":0,"message":"Transport unknown"}`},
		{"EIO=4&transport=websocket&sid=abc", `{"code":1,"message":"Session ID unknown"}`},
	} {
		_, resp, err := websocket.DefaultDialer.Dial(e.url(tc.query), nil)
		if err == nil || resp == nil || resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("%s: %v %v", tc.query, err, resp)
		}
		b, _ := io.ReadAll(resp.Body)
		if strings.TrimSpace(string(b)) != tc.body {
			t.Errorf("%s: body %s", tc.query, b)
		}
	}
	if n := e.metric("wsgate_protocol_errors_total", `protocol="socketio"`, `kind="polling"`); n != 5 {
		t.Errorf("handshake errors counted %v", n)
	}
}

func TestEmitPublishes(t *testing.T) {
	e := newEnv(t, Config{}, nil)
	w := e.worker()
	orders := sub(t, w, "sio.shop.order.create")
	chat := sub(t, w, "sio._.chat")
	c := e.connect(t, "/shop", "")
	c.join("/", "")

	c.send(`42/shop,["order.create",{"sku":"A1"}]`)
	m := recv(t, orders)
	if string(m.Data) != `{"sku":"A1"}` || m.Header.Get(HeaderNamespace) != "/shop" || m.Header.Get(HeaderEvent) != "order.create" ||
		m.Header.Get(HeaderSpread) != "" || m.Header.Get(bridge.HeaderProtocol) != Name || m.Header.Get(bridge.HeaderConnectionID) == "" {
		t.Fatalf("message %q %v", m.Data, m.Header)
	}
	c.send(`42["chat","hi",2]`)
	if m := recv(t, chat); string(m.Data) != `["hi",2]` || m.Header.Get(HeaderSpread) != "true" {
		t.Fatalf("several arguments: %q %v", m.Data, m.Header)
	}
	c.send(`42["chat"]`)
	if m := recv(t, chat); string(m.Data) != `[]` || m.Header.Get(HeaderSpread) != "true" {
		t.Fatalf("no argument: %q %v", m.Data, m.Header)
	}
	// A hostile event name is escaped, never widened: it reaches the
	// escaped subject and no wildcard subscriber of another.
	esc := sub(t, w, "sio._.a%2A.%3E")
	c.send(`42["a*.>",1]`)
	if m := recv(t, esc); string(m.Data) != "1" {
		t.Fatalf("escaped: %q", m.Data)
	}
}

func TestEmitWithAck(t *testing.T) {
	e := newEnv(t, Config{RequestTimeout: 300 * time.Millisecond}, nil)
	w := e.worker()
	s, _ := w.Subscribe("sio._.add", func(m *nats.Msg) {
		var args []int
		_ = json.Unmarshal(m.Data, &args)
		r := nats.NewMsg(m.Reply)
		r.Data = []byte(`{"sum":` + itoa(args[0]+args[1]) + `}`)
		m.RespondMsg(r)
	})
	defer s.Unsubscribe()
	s2, _ := w.Subscribe("sio._.spread", func(m *nats.Msg) {
		r := nats.NewMsg(m.Reply)
		r.Header.Set(HeaderSpread, "true")
		r.Data = []byte(`[1,"two"]`)
		m.RespondMsg(r)
	})
	defer s2.Unsubscribe()
	s3, _ := w.Subscribe("sio._.fail", func(m *nats.Msg) {
		r := nats.NewMsg(m.Reply)
		r.Header.Set(HeaderError, "out of stock")
		m.RespondMsg(r)
	})
	defer s3.Unsubscribe()
	s4, _ := w.Subscribe("sio._.slow", func(*nats.Msg) {})
	defer s4.Unsubscribe()
	w.Flush()
	c := e.connect(t, "/", "")

	c.send(`421["add",2,3]`)
	if got := c.next(); got != `431[{"sum":5}]` {
		t.Fatalf("ack %q", got)
	}
	c.send(`422["spread"]`)
	if got := c.next(); got != `432[1,"two"]` {
		t.Fatalf("spread ack %q", got)
	}
	c.send(`423["fail"]`)
	if got := c.next(); got != `433[{"error":"worker","message":"out of stock"}]` {
		t.Fatalf("worker error ack %q", got)
	}
	c.send(`424["nobody"]`)
	if got := c.next(); !strings.HasPrefix(got, `434[{"error":"no_responders",`) {
		t.Fatalf("no responders ack %q", got)
	}
	c.send(`425["slow"]`)
	if got := c.next(); !strings.HasPrefix(got, `435[{"error":"timeout",`) {
		t.Fatalf("timeout ack %q", got)
	}
	c.send(`426["a..b"]`)
	if got := c.next(); !strings.HasPrefix(got, `436[{"error":"invalid_name",`) {
		t.Fatalf("invalid name ack %q", got)
	}
	// Without an acknowledgement, a refusal is a wsgate:error event.
	c.send(`42["a..b"]`)
	if got := c.next(); !strings.HasPrefix(got, `42["wsgate:error",{"event":"a..b","error":"invalid_name",`) {
		t.Fatalf("refusal %q", got)
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestRooms(t *testing.T) {
	e := newEnv(t, Config{Routes: map[string]RouteConfig{
		"join":   {Integration: "join"},
		"leave":  {Integration: "leave"},
		"say":    {Subject: "sio-room.{namespace}.{arg0}"},
		"secret": {Subject: "wsgate.conn.x.send"},
	}}, nil)
	w := e.worker()
	a := e.connect(t, "/chat", "")
	b := e.connect(t, "/chat", "")
	a.send(`42/chat,1["join","r.1"]`)
	if got := a.next(); got != `43/chat,1[]` {
		t.Fatalf("join ack %q", got)
	}
	b.send(`42/chat,1["join","r.1"]`)
	b.next()

	// A worker's message on the room's subject is an EVENT named by its
	// header.
	msg := nats.NewMsg("sio-room.chat.r%2E1")
	msg.Header.Set(HeaderEvent, "news")
	msg.Data = []byte(`{"text":"hello"}`)
	if err := w.PublishMsg(msg); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*client{a, b} {
		if got := c.next(); got != `42/chat,["news",{"text":"hello"}]` {
			t.Fatalf("room event %q", got)
		}
	}
	// Everyone in the namespace, but the excepted connection.
	ids := map[*client]string{}
	for _, c := range []*client{a, b} {
		var o struct{ SID string }
		_ = json.Unmarshal([]byte(c.open[1:]), &o)
		ids[c] = o.SID
	}
	msg = nats.NewMsg("sio-room.chat")
	msg.Header.Set(HeaderExcept, ids[b])
	msg.Data = []byte(`plain`)
	w.PublishMsg(msg)
	if got := a.next(); got != `42/chat,["message","plain"]` {
		t.Fatalf("namespace event %q", got)
	}
	// A client's emit into the room reaches every other member, not
	// itself (all in room except the sender).
	a.send(`42/chat,["say","r.1","hi"]`)
	if got := b.next(); got != `42/chat,["say","r.1","hi"]` {
		t.Fatalf("say %q", got)
	}
	// Reserved subjects stay out of reach of a route.
	a.send(`42/chat,7["secret"]`)
	if got := a.next(); !strings.HasPrefix(got, `43/chat,7[{"error":"forbidden",`) {
		t.Fatalf("reserved %q", got)
	}
	a.send(`42/chat,2["leave","r.1"]`)
	if got := a.next(); got != `43/chat,2[]` {
		t.Fatalf("leave ack %q", got)
	}
	w.Publish("sio-room.chat.r%2E1", []byte(`"again"`))
	if got := b.next(); got != `42/chat,["message","again"]` {
		t.Fatalf("b %q", got)
	}
	a.silent(200 * time.Millisecond)
}

func TestConnectionAPI(t *testing.T) {
	e := newEnv(t, Config{}, nil)
	w := e.worker()
	c := e.connect(t, "/", "")
	c.join("/shop", "")
	var o struct{ SID string }
	_ = json.Unmarshal([]byte(c.open[1:]), &o)
	api := "wsgate.conn." + o.SID + "."

	r, err := w.Request(api+"join", []byte(`{"room":"vip","namespace":"/shop"}`), 5*time.Second)
	if err != nil || string(r.Data) != `{"ok":true}` {
		t.Fatalf("join: %v %s", err, r.Data)
	}
	w.Publish("sio-room.shop.vip", []byte(`1`))
	if got := c.next(); got != `42/shop,["message",1]` {
		t.Fatalf("room event %q", got)
	}
	r, _ = w.Request(api+"join", []byte(`{"room":"vip","namespace":"/nope"}`), 5*time.Second)
	if !strings.Contains(string(r.Data), `"error"`) {
		t.Fatalf("join of another namespace: %s", r.Data)
	}
	r, _ = w.Request(api+"leave", []byte(`{"room":"vip","namespace":"/shop"}`), 5*time.Second)
	if string(r.Data) != `{"ok":true}` {
		t.Fatalf("leave: %s", r.Data)
	}

	// A worker's emit with a request: the client's ACK is the reply.
	done := make(chan *nats.Msg, 1)
	go func() {
		m := nats.NewMsg(api + "emit")
		m.Header.Set(HeaderEvent, "question")
		m.Header.Set(HeaderNamespace, "/shop")
		m.Data = []byte(`{"q":"?"}`)
		r, err := w.RequestMsg(m, 5*time.Second)
		if err != nil {
			t.Error(err)
		}
		done <- r
	}()
	got := c.next()
	if got != `42/shop,1["question",{"q":"?"}]` {
		t.Fatalf("emit %q", got)
	}
	c.send(`43/shop,1[{"a":42}]`)
	if r := <-done; r == nil || string(r.Data) != `{"a":42}` {
		t.Fatalf("ack reply %v", r)
	}
	// A push (send) is an event too.
	m := nats.NewMsg(api + "send")
	m.Header.Set(HeaderEvent, "push")
	m.Data = []byte(`"p"`)
	w.PublishMsg(m)
	if got := c.next(); got != `42["push","p"]` {
		t.Fatalf("push %q", got)
	}
	// A worker's close: every namespace is told DISCONNECT (socket.io's
	// "io server disconnect": the client does not come back), then the
	// WebSocket closes.
	w.Publish(api+"close", []byte(`{"code":4001,"reason":"bye"}`))
	got1, got2 := c.next(), c.next()
	if !(got1 == "41" && got2 == "41/shop," || got1 == "41/shop," && got2 == "41") {
		t.Fatalf("goodbye %q %q", got1, got2)
	}
	if code, reason := c.closeCode(); code != 4001 || reason != "bye" {
		t.Fatalf("close %d %q", code, reason)
	}
}

func TestAuth(t *testing.T) {
	e := newEnv(t, Config{Routes: map[string]RouteConfig{"join": {Integration: "join"}}}, tokens{})
	// No credentials, wrong ones: CONNECT_ERROR, the connection stays.
	c := e.dial(t)
	c.send(`40`)
	if got := c.next(); got != `44{"message":"unauthorized"}` {
		t.Fatalf("no token: %q", got)
	}
	c.send(`40{"token":"bad"}`)
	if got := c.next(); got != `44{"message":"unauthorized"}` {
		t.Fatalf("bad token: %q", got)
	}
	c.send(`40{"token":"limited"}`)
	if got := c.next(); !strings.HasPrefix(got, `40{"sid":`) {
		t.Fatalf("limited: %q", got)
	}
	// Another token on the same connection is refused.
	c.send(`40/x,{"token":"good"}`)
	if got := c.next(); !strings.HasPrefix(got, `44/x,{"message":`) {
		t.Fatalf("second token: %q", got)
	}
	// Permissions: publish sio._.ok only, subscribe room r1 only.
	w := e.worker()
	ok := sub(t, w, "sio._.ok")
	c.send(`42["ok",1]`)
	recv(t, ok)
	c.send(`421["other"]`)
	if got := c.next(); !strings.HasPrefix(got, `431[{"error":"forbidden",`) {
		t.Fatalf("forbidden emit %q", got)
	}
	c.send(`422["join","r2"]`)
	if got := c.next(); !strings.HasPrefix(got, `432[{"error":"forbidden",`) {
		t.Fatalf("forbidden join %q", got)
	}
	c.send(`423["join","r1"]`)
	if got := c.next(); got != `433[]` {
		t.Fatalf("join %q", got)
	}
}

func TestBadInput(t *testing.T) {
	e := newEnv(t, Config{MaxPayload: 1000}, nil)
	for _, tc := range []struct {
		in   string
		code int
	}{
		{`4`, bridge.CloseProtocolError},
		{`42["unterminated"`, bridge.CloseProtocolError},
		{`49`, bridge.CloseProtocolError},
		{`44{"message":"x"}`, bridge.CloseProtocolError},
		{`9`, bridge.CloseProtocolError},
		{`3probe`, bridge.CloseProtocolError},
		{`451-["x",{"_placeholder":true,"num":0}]` + "\x00" + `42["text instead of the attachment"]`, bridge.CloseProtocolError},
		{`4511-["x",{"_placeholder":true,"num":0}]`, bridge.CloseTooBig},
		{`42["big","` + strings.Repeat("x", 1000) + `"]`, bridge.CloseTooBig},
	} {
		c := e.dial(t)
		other := e.connect(t, "/", "")
		for part := range strings.SplitSeq(tc.in, "\x00") {
			c.send(part)
		}
		if code, reason := c.closeCode(); code != tc.code || reason == "" {
			t.Errorf("%.20q: close %d %q", tc.in, code, reason)
		}
		// Only that connection is affected.
		other.send("42x")
		other.closeCode()
	}
	if n := e.metric("wsgate_protocol_errors_total", `protocol="socketio"`); n < 16 {
		t.Errorf("protocol errors counted %v", n)
	}
	// A bad namespace is a CONNECT_ERROR, as socket.io answers it.
	c := e.dial(t)
	c.send(`40/_,`)
	if got := c.next(); got != `44/_,{"message":"Invalid namespace"}` {
		t.Fatalf("bad namespace: %q", got)
	}
	if n := e.metric("wsgate_protocol_errors_total", `protocol="socketio"`, `kind="connect_invalid_name"`); n != 1 {
		t.Errorf("bad namespace counted %v", n)
	}
}

func TestHeartbeat(t *testing.T) {
	e := newEnv(t, Config{PingInterval: 50 * time.Millisecond, PingTimeout: 50 * time.Millisecond}, nil)
	// A client that answers pings stays: after three pings answered it
	// ends itself with a violation, and is closed for that.
	good := e.connect(t, "/", "")
	res := make(chan string, 1)
	go func() {
		for pings := 0; ; {
			_ = good.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, b, err := good.ws.ReadMessage()
			if err != nil {
				res <- err.Error()
				return
			}
			if string(b) != "2" {
				res <- "unexpected " + string(b)
				return
			}
			if pings++; pings == 3 {
				_ = good.ws.WriteMessage(websocket.TextMessage, []byte("42x"))
			} else {
				_ = good.ws.WriteMessage(websocket.TextMessage, []byte("3"))
			}
		}
	}()
	// One that does not is closed after one ping.
	bad, _, err := websocket.DefaultDialer.Dial(e.url("EIO=4&transport=websocket"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	pings := 0
	for {
		_ = bad.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, b, err := bad.ReadMessage()
		if err != nil {
			ce, ok := err.(*websocket.CloseError)
			if !ok || ce.Code != bridge.ClosePolicy || !strings.Contains(ce.Text, "ping timeout") {
				t.Fatalf("close: %v", err)
			}
			break
		}
		if string(b) == "2" {
			pings++
		}
	}
	if pings != 1 {
		t.Errorf("%d pings before the close", pings)
	}
	if got := <-res; !strings.Contains(got, "1002") {
		t.Errorf("good client: %s", got)
	}
}

// TestReservedEvents: an EVENT with a name Socket.IO keeps for itself is
// malformed from a client, and never delivered to one (its decoder would
// drop the connection).
func TestReservedEvents(t *testing.T) {
	e := newEnv(t, Config{}, nil)
	w := e.worker()
	c := e.connect(t, "/", "")
	var o struct{ SID string }
	_ = json.Unmarshal([]byte(c.open[1:]), &o)
	for _, name := range []string{"connect", "disconnect", "connect_error"} {
		m := nats.NewMsg("sio-room._")
		m.Header.Set(HeaderEvent, name)
		m.Data = []byte(`1`)
		w.PublishMsg(m)
		m = nats.NewMsg("wsgate.conn." + o.SID + ".send")
		m.Header.Set(HeaderEvent, name)
		w.PublishMsg(m)
		m = nats.NewMsg("wsgate.conn." + o.SID + ".emit")
		m.Header.Set(HeaderEvent, name)
		r, err := w.RequestMsg(m, 5*time.Second)
		if err != nil || r.Header.Get(HeaderError) == "" {
			t.Fatalf("emit %s: %v %v", name, err, r)
		}
	}
	w.Publish("sio-room._", []byte(`"after"`))
	if got := c.next(); got != `42["message","after"]` {
		t.Fatalf("got %q", got)
	}
	c.send(`42["disconnect"]`)
	if code, _ := c.closeCode(); code != bridge.CloseProtocolError {
		t.Fatalf("reserved from the client: %d", code)
	}
}

// TestConnectRoute: the $connect route admits or refuses each namespace
// CONNECT with the worker's words, and fails closed.
func TestConnectRoute(t *testing.T) {
	e := newEnv(t, Config{Routes: map[string]RouteConfig{
		"$connect": {Integration: "request", Subject: "app.connect.{namespace}", Timeout: time.Second},
	}}, tokens{})
	w := e.worker()
	events := make(chan ConnectEvent, 4)
	s, _ := w.Subscribe("app.connect.*", func(m *nats.Msg) {
		var ev ConnectEvent
		_ = json.Unmarshal(m.Data, &ev)
		events <- ev
		switch ev.Namespace {
		case "/":
			m.Respond(nil)
		case "/banned":
			m.Respond([]byte(`{"statusCode":403,"body":"banned"}`))
		case "/ok":
			m.Respond([]byte(`{"statusCode":200}`))
		}
	})
	defer s.Unsubscribe()
	w.Flush()
	c := e.connect(t, "/", `{"token":"good","room":"r1"}`)
	if ev := <-events; ev.Principal != "ada" || string(ev.Auth["room"]) != `"r1"` || ev.Auth["token"] != nil || ev.ConnectionID == "" {
		t.Fatalf("event %+v", ev)
	}
	c.send(`40/banned,`)
	if got := c.next(); got != `44/banned,{"message":"banned"}` {
		t.Fatalf("banned: %q", got)
	}
	<-events
	c.join("/ok", "")
	<-events
	// No answer: refused, the connection goes on.
	c.send(`40/silent,`)
	if got := c.next(); got != `44/silent,{"message":"connect integration failed"}` {
		t.Fatalf("silent: %q", got)
	}
	// An event named $connect is an event.
	ch := sub(t, w, "sio._.$connect")
	c.send(`42["$connect",1]`)
	if m := recv(t, ch); string(m.Data) != "1" {
		t.Fatalf("$connect event %q", m.Data)
	}
}
