package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/nats-io/nats.go"
)

// routesConfig has a route of every integration kind, and no $default.
func routesConfig(httpURL string) string {
	return `
json:
  routes:
    send:
      integration: publish
      subject: "chat.rooms.{body.room}"
    join:
      integration: subscribe
      subject: "chat.rooms.{body.room}"
    leave:
      integration: unsubscribe
      subject: "chat.rooms.{body.room}"
    feed:
      integration: subscribe
      subject: "feed.{body.topic}"
      raw: true
    work:
      integration: subscribe
      subject: "jobs.{body.kind}"
      queue: workers
    ask:
      integration: request
      subject: "svc.{body.svc}"
      payload: $request.body.data
    askraw:
      integration: request
      subject: "svc.{body.svc}"
      payload: $request.body.data
      raw: true
    slow:
      integration: request
      subject: svc.slow
      timeout: 200ms
    web:
      integration: http
      url: ` + httpURL + `/ok
    webfail:
      integration: http
      url: ` + httpURL + `/fail
`
}

// httpCall is one request the test endpoint received.
type httpCall struct {
	method, path string
	header       http.Header
	body         []byte
}

// endpoint is an http integration target: /ok answers 200 {"ok":true},
// /fail answers 500. Every request is recorded.
func endpoint(t *testing.T) (*httptest.Server, <-chan httpCall) {
	calls := make(chan httpCall, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		calls <- httpCall{r.Method, r.URL.Path, r.Header.Clone(), b}
		switch r.URL.Path {
		case "/ok":
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"ok":true}`)
		default:
			http.Error(w, "boom", http.StatusInternalServerError)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, calls
}

// echoWorker answers every request on subject with its body.
func echoWorker(t *testing.T, nc *nats.Conn, subject string) *nats.Subscription {
	t.Helper()
	sub, err := nc.Subscribe(subject, func(m *nats.Msg) { m.Respond(m.Data) })
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return sub
}

// expectError reads an error frame and checks its code and echoed id.
func (c *client) expectError(code, id string) frame {
	c.t.Helper()
	f := c.expect("error")
	if f.Error != code {
		c.t.Fatalf("error %q (%s), want %q", f.Error, f.Message, code)
	}
	if id != "" && string(f.ID) != id {
		c.t.Fatalf("error frame id %s, want %s", f.ID, id)
	}
	return f
}

// askEcho checks the connection is usable: a request route round trip.
func askEcho(c *client) {
	c.t.Helper()
	c.send(`{"action":"ask","svc":"echo","data":"still here","id":"alive"}`)
	f := c.expect("reply")
	if string(f.ID) != `"alive"` || string(f.Data) != `"still here"` {
		c.t.Fatalf("reply %+v", f)
	}
}

// TestJSONRoutes drives a config with a route of each integration kind.
func TestJSONRoutes(t *testing.T) {
	srv, calls := endpoint(t)
	g := startGateway(t, gwOpts{Config: routesConfig(srv.URL)})
	nc := natsConn(t, g.NATSURL)
	echoWorker(t, nc, "svc.echo")
	c, id := dialID(t, g, nc, "/")

	t.Run("publish forwards the body untouched with headers", func(t *testing.T) {
		c := c.with(t)
		sub, _ := nc.SubscribeSync("chat.rooms.>")
		defer sub.Unsubscribe()
		nc.Flush()
		msg := `{ "action":"send",  "room":"lobby", "text":"h\u00e9llo é" , "n":[1, 2.50]}`
		c.send(msg)
		m := nextMsg(t, sub)
		if m.Subject != "chat.rooms.lobby" {
			t.Errorf("subject %q", m.Subject)
		}
		if string(m.Data) != msg {
			t.Errorf("body %q, want %q", m.Data, msg)
		}
		for h, want := range map[string]string{
			"Wsgate-Connection-Id": id,
			"Wsgate-Protocol":      "json",
			"Wsgate-Event":         "MESSAGE",
			"Wsgate-Route":         "send",
		} {
			if got := m.Header.Get(h); got != want {
				t.Errorf("header %s = %q, want %q (all: %v)", h, got, want, m.Header)
			}
		}
	})

	t.Run("template values land on exactly one token", func(t *testing.T) {
		c := c.with(t)
		sub, _ := nc.SubscribeSync("chat.rooms.>")
		defer sub.Unsubscribe()
		nc.Flush()
		for i, tc := range []struct {
			name   string
			room   string // raw JSON value of "room"; "" leaves it out
			binary bool   // send as a binary frame (for invalid UTF-8)
			want   string // the one token; "" means an error frame
		}{
			{name: "dot", room: `"a.b"`, want: "a%2Eb"},
			{name: "star", room: `"*"`, want: "%2A"},
			{name: "gt", room: `">"`, want: "%3E"},
			{name: "tail wildcard", room: `"a.>"`, want: "a%2E%3E"},
			{name: "space", room: `"a b"`, want: "a%20b"},
			{name: "tab and newline", room: `"a\tb\nc"`, want: "a%09b%0Ac"},
			{name: "NUL", room: `"\u0000"`, want: "%00"},
			{name: "DEL", room: `"\u007f"`, want: "%7F"},
			{name: "percent", room: `"100%"`, want: "100%25"},
			{name: "no-break space", room: `"a\u00a0b"`, want: "a%C2%A0b"},
			{name: "line separator", room: `"\u2028"`, want: "%E2%80%A8"},
			{name: "e acute", room: `"é"`, want: "é"},
			{name: "lone surrogate", room: `"\ud800"`, want: "\ufffd"},
			{name: "invalid UTF-8 in a binary frame", room: "\"a\xffb\"", binary: true, want: "a\ufffdb"},
			{name: "dollar", room: `"$SYS"`, want: "$SYS"},
			{name: "reserved prefix", room: `"wsgate"`, want: "wsgate"},
			{name: "number", room: `42`, want: "42"},
			{name: "bool", room: `true`, want: "true"},
			{name: "256 bytes", room: `"` + strings.Repeat("x", 256) + `"`, want: strings.Repeat("x", 256)},
			{name: "300 bytes", room: `"` + strings.Repeat("x", 300) + `"`},
			{name: "100 dots escape too long", room: `"` + strings.Repeat(".", 100) + `"`},
			{name: "empty", room: `""`},
			{name: "missing"},
			{name: "null", room: `null`},
			{name: "object", room: `{"x":"y"}`},
			{name: "array", room: `["a","b"]`},
		} {
			t.Run(tc.name, func(t *testing.T) {
				c := c.with(t)
				msgID := fmt.Sprint(i + 1)
				msg := `{"action":"send","id":` + msgID
				if tc.room != "" {
					msg += `,"room":` + tc.room
				}
				msg += "}"
				typ := websocket.TextMessage
				if tc.binary {
					typ = websocket.BinaryMessage
				}
				if err := c.Conn.WriteMessage(typ, []byte(msg)); err != nil {
					t.Fatal(err)
				}
				if tc.want == "" {
					c.expectError("bad_request", msgID)
					// Nothing was published: the next message the worker
					// sees is the marker sent after.
					c.send(`{"action":"send","room":"marker"}`)
					if m := nextMsg(t, sub); m.Subject != "chat.rooms.marker" {
						t.Fatalf("refused value published to %q", m.Subject)
					}
					return
				}
				want := "chat.rooms." + tc.want
				f := c.expect("published")
				if f.Subject != want || string(f.ID) != msgID || f.Route != "send" {
					t.Errorf("published %+v, want subject %q", f, want)
				}
				m := nextMsg(t, sub)
				if toks := strings.Split(m.Subject, "."); len(toks) != 3 {
					t.Errorf("subject %q has %d tokens", m.Subject, len(toks))
				}
				if m.Subject != want {
					t.Errorf("subject %q, want %q", m.Subject, want)
				}
				if string(m.Data) != msg {
					t.Errorf("body %q, want %q", m.Data, msg)
				}
			})
		}
	})

	t.Run("subscribe and unsubscribe routes expand templates", func(t *testing.T) {
		c := c.with(t)
		c.send(`{"action":"join","room":"lobby","id":"j1"}`)
		f := c.expect("subscribed")
		if f.Subject != "chat.rooms.lobby" || f.Route != "join" || string(f.ID) != `"j1"` {
			t.Fatalf("%+v", f)
		}
		c.send(`{"action":"join","room":"a.b"}`)
		if f := c.expect("subscribed"); f.Subject != "chat.rooms.a%2Eb" {
			t.Fatalf("%+v", f)
		}
		c.send(`{"action":"join","room":">"}`)
		if f := c.expect("subscribed"); f.Subject != "chat.rooms.%3E" {
			t.Fatalf("%+v", f)
		}
		barrier(t, nc, c, `{"action":"send","room":"barrier"}`, "chat.rooms.barrier")
		nc.Publish("chat.rooms.a.b", []byte(`"wider: must not arrive"`))
		nc.Publish("chat.rooms.other", []byte(`"not subscribed: must not arrive"`))
		nc.Publish("chat.rooms.a%2Eb", []byte(`"escaped"`))
		nc.Publish("chat.rooms.lobby", []byte(`{"t":1}`))
		got := map[string]string{}
		for range 2 {
			f := c.expect("message")
			got[f.Subject] = string(f.Data)
		}
		if got["chat.rooms.a%2Eb"] != `"escaped"` || got["chat.rooms.lobby"] != `{"t":1}` {
			t.Fatalf("deliveries %v", got)
		}

		c.send(`{"action":"leave","room":"lobby","id":"l1"}`)
		f = c.expect("unsubscribed")
		if f.Subject != "chat.rooms.lobby" || f.Route != "leave" || string(f.ID) != `"l1"` {
			t.Fatalf("%+v", f)
		}
		c.send(`{"action":"leave","room":"lobby","id":"l2"}`)
		c.expectError("not_subscribed", `"l2"`)
		barrier(t, nc, c, `{"action":"send","room":"barrier"}`, "chat.rooms.barrier")
		nc.Publish("chat.rooms.lobby", []byte(`"after leave: must not arrive"`))
		nc.Flush()
		// Joining again uses the same dispatcher: a message left over from
		// the first subscription would come before the new one's.
		c.send(`{"action":"join","room":"lobby"}`)
		c.expect("subscribed")
		barrier(t, nc, c, `{"action":"send","room":"barrier"}`, "chat.rooms.barrier")
		nc.Publish("chat.rooms.lobby", []byte(`"rejoined"`))
		if f := c.expect("message"); string(f.Data) != `"rejoined"` {
			t.Fatalf("got %+v after leave and rejoin", f)
		}
		for _, room := range []string{"lobby", "a.b", ">"} {
			c.send(map[string]any{"action": "leave", "room": room})
			c.expect("unsubscribed")
		}
	})

	t.Run("raw subscribe route delivers bare payloads", func(t *testing.T) {
		c := c.with(t)
		c.send(`{"action":"feed","topic":"news"}`)
		if f := c.expect("subscribed"); f.Subject != "feed.news" || f.Route != "feed" {
			t.Fatalf("%+v", f)
		}
		barrier(t, nc, c, `{"action":"send","room":"barrier"}`, "chat.rooms.barrier")
		nc.Publish("feed.news", []byte(`plain text`))
		nc.Publish("feed.news", []byte(`{"x":1}`))
		nc.Publish("feed.news", []byte{0, 0xff, 1})
		for _, want := range []struct {
			typ  int
			data string
		}{
			{websocket.TextMessage, "plain text"},
			{websocket.TextMessage, `{"x":1}`},
			{websocket.BinaryMessage, "\x00\xff\x01"},
		} {
			_ = c.Conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			typ, b, err := c.Conn.ReadMessage()
			if err != nil {
				t.Fatal(err)
			}
			if typ != want.typ || string(b) != want.data {
				t.Errorf("got type %d %q, want type %d %q", typ, b, want.typ, want.data)
			}
		}
	})

	t.Run("queue group route gives each message to one member", func(t *testing.T) {
		a, b := dial(t, g.WS("/"), nil), dial(t, g.WS("/"), nil)
		for _, x := range []*client{a, b} {
			x.send(`{"action":"work","kind":"build"}`)
			if f := x.expect("subscribed"); f.Subject != "jobs.build" {
				t.Fatalf("%+v", f)
			}
			barrier(t, nc, x, `{"action":"send","room":"barrier"}`, "chat.rooms.barrier")
		}
		const n = 200
		for i := range n {
			nc.Publish("jobs.build", []byte(fmt.Sprintf(`{"n":%d}`, i)))
		}
		nc.Flush()
		ra, rb := a.readAll(), b.readAll()
		seen := map[int]string{}
		perClient := map[string]int{}
		take := func(who string, r readResult) {
			if r.err != nil {
				t.Fatalf("%s: %v", who, r.err)
			}
			var f struct {
				Type, Subject string
				Data          struct{ N int }
			}
			if err := json.Unmarshal(r.data, &f); err != nil || f.Type != "message" || f.Subject != "jobs.build" {
				t.Fatalf("%s got %q", who, r.data)
			}
			if prev, dup := seen[f.Data.N]; dup {
				t.Fatalf("message %d delivered to %s and %s", f.Data.N, prev, who)
			}
			seen[f.Data.N] = who
			perClient[who]++
		}
		timeout := time.After(15 * time.Second)
		for len(seen) < n {
			select {
			case r := <-ra:
				take("a", r)
			case r := <-rb:
				take("b", r)
			case <-timeout:
				t.Fatalf("got %d of %d messages", len(seen), n)
			}
		}
		// A duplicate would come right after; give it a moment.
		quiet := time.After(300 * time.Millisecond)
		for done := false; !done; {
			select {
			case r := <-ra:
				take("a", r)
			case r := <-rb:
				take("b", r)
			case <-quiet:
				done = true
			}
		}
		if perClient["a"] == 0 || perClient["b"] == 0 {
			t.Errorf("one member got everything: %v", perClient)
		}
	})

	t.Run("request route replies with the id", func(t *testing.T) {
		c := c.with(t)
		sub, _ := nc.SubscribeSync("svc.peek")
		defer sub.Unsubscribe()
		nc.Flush()
		c.send(`{"action":"ask","svc":"peek","data":{"q":1},"id":"r1"}`)
		m := nextMsg(t, sub)
		if string(m.Data) != `{"q":1}` || m.Header.Get("Wsgate-Route") != "ask" || m.Header.Get("Wsgate-Connection-Id") != id {
			t.Fatalf("worker got %q %v", m.Data, m.Header)
		}
		m.Respond([]byte(`{"answer":42}`))
		f := c.expect("reply")
		if f.Route != "ask" || string(f.ID) != `"r1"` || string(f.Data) != `{"answer":42}` {
			t.Errorf("%+v", f)
		}
		c.send(`{"action":"ask","svc":"echo","data":"text","id":5}`)
		f = c.expect("reply")
		if string(f.ID) != "5" || string(f.Data) != `"text"` {
			t.Errorf("%+v", f)
		}
	})

	t.Run("raw request route gives the bare reply", func(t *testing.T) {
		c := c.with(t)
		c.send(`{"action":"askraw","svc":"echo","data":{"q":2},"id":"x"}`)
		if b := c.read(10 * time.Second); string(b) != `{"q":2}` {
			t.Errorf("got %q", b)
		}
		askEcho(c)
	})

	t.Run("request without responders", func(t *testing.T) {
		c := c.with(t)
		c.send(`{"action":"ask","svc":"nobody","data":1,"id":3}`)
		if f := c.expectError("no_responders", "3"); f.Route != "ask" {
			t.Errorf("%+v", f)
		}
		askEcho(c)
	})

	t.Run("request timeout", func(t *testing.T) {
		c := c.with(t)
		sub, _ := nc.SubscribeSync("svc.slow") // never answers
		defer sub.Unsubscribe()
		nc.Flush()
		start := time.Now()
		c.send(`{"action":"slow","id":4}`)
		c.expectError("timeout", "4")
		if d := time.Since(start); d < 200*time.Millisecond || d > 5*time.Second {
			t.Errorf("timed out after %s, want about 200ms", d)
		}
		askEcho(c)
	})

	t.Run("http route", func(t *testing.T) {
		c := c.with(t)
		msg := `{"action":"web","x":[1,2],"id":"w1"}`
		c.send(msg)
		f := c.expect("reply")
		if f.Route != "web" || string(f.ID) != `"w1"` || string(f.Data) != `{"ok":true}` {
			t.Errorf("%+v", f)
		}
		call := <-calls
		if call.method != "POST" || call.path != "/ok" || string(call.body) != msg {
			t.Errorf("endpoint got %s %s %q", call.method, call.path, call.body)
		}
		for h, want := range map[string]string{
			"Wsgate-Connection-Id": id,
			"Wsgate-Protocol":      "json",
			"Wsgate-Event":         "MESSAGE",
			"Wsgate-Route":         "web",
			"Content-Type":         "application/json",
		} {
			if got := call.header.Get(h); got != want {
				t.Errorf("header %s = %q, want %q", h, got, want)
			}
		}
	})

	t.Run("http route failure", func(t *testing.T) {
		c := c.with(t)
		c.send(`{"action":"webfail","id":"w2"}`)
		if f := c.expectError("integration_failed", `"w2"`); f.Route != "webfail" {
			t.Errorf("%+v", f)
		}
		<-calls
		askEcho(c)
	})

	t.Run("without $default", func(t *testing.T) {
		c := c.with(t)
		for _, tc := range []struct{ msg, code, id string }{
			{`{"action":"nope","id":9}`, "no_route", "9"},
			{`{"room":"lobby"}`, "no_route", ""},
			{`{"action":{"x":1}}`, "no_route", ""},
			{`hello`, "bad_json", ""},
			{`[1,2]`, "bad_json", ""},
			{`{"action":"send"`, "bad_json", ""},
			{``, "bad_json", ""},
		} {
			c.send(tc.msg)
			c.expectError(tc.code, tc.id)
		}
		askEcho(c)
	})
}

// TestJSONRouteSelection picks routes with a template expression over nested
// members, and sends everything else, non-JSON included, to $default.
func TestJSONRouteSelection(t *testing.T) {
	g := startGateway(t, gwOpts{Config: `
json:
  route_selection_expression: "${request.body.meta.service}/${request.body.action}"
  routes:
    users/get:
      integration: request
      subject: svc.users.get
    orders/create:
      integration: publish
      subject: orders.create
    $default:
      integration: publish
      subject: "unrouted.{connectionId}"
`})
	nc := natsConn(t, g.NATSURL)
	nc.Subscribe("svc.users.get", func(m *nats.Msg) { m.Respond([]byte(`{"name":"ann"}`)) })
	orders, _ := nc.SubscribeSync("orders.create")
	unrouted, _ := nc.SubscribeSync("unrouted.*")
	nc.Flush()
	c, id := dialID(t, g, nc, "/")

	t.Run("request route", func(t *testing.T) {
		c := c.with(t)
		c.send(`{"meta":{"service":"users"},"action":"get","id":1}`)
		f := c.expect("reply")
		if f.Route != "users/get" || string(f.Data) != `{"name":"ann"}` || string(f.ID) != "1" {
			t.Errorf("%+v", f)
		}
	})
	t.Run("publish route", func(t *testing.T) {
		c := c.with(t)
		msg := `{"meta":{"service":"orders","v":2},"action":"create","sku":7,"id":"o"}`
		c.send(msg)
		if f := c.expect("published"); f.Route != "orders/create" || f.Subject != "orders.create" {
			t.Errorf("%+v", f)
		}
		m := nextMsg(t, orders)
		if string(m.Data) != msg || m.Header.Get("Wsgate-Route") != "orders/create" {
			t.Errorf("%q %v", m.Data, m.Header)
		}
	})
	t.Run("$default", func(t *testing.T) {
		c := c.with(t)
		for _, msg := range []string{
			`{"meta":{"service":"orders"},"action":"delete"}`,
			`{"action":"get"}`,
			`{"meta":{"service":["users"]},"action":"get"}`,
			`{"meta":"users","action":"get"}`,
			`hello, not JSON`,
			`[1,2,3]`,
		} {
			c.send(msg)
			m := nextMsg(t, unrouted)
			if m.Subject != "unrouted."+id || string(m.Data) != msg || m.Header.Get("Wsgate-Route") != "$default" {
				t.Errorf("%s: got %s %q %v", msg, m.Subject, m.Data, m.Header)
			}
		}
		// Nothing else came out.
		c.send(`{"meta":{"service":"users"},"action":"get","id":2}`)
		c.expect("reply")
	})
}

// TestJSONRouteHTTP drives http integrations with methods, templated URLs,
// queries and headers, status mapping and an endpoint's error body.
func TestJSONRouteHTTP(t *testing.T) {
	calls := make(chan httpCall, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		calls <- httpCall{r.Method, r.URL.EscapedPath() + "?" + r.URL.RawQuery, r.Header.Clone(), b}
		switch {
		case strings.HasPrefix(r.URL.Path, "/missing"), r.Method == "DELETE":
			http.Error(w, `{"why":"gone"}`, http.StatusNotFound)
		default:
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"method":%q}`, r.Method)
		}
	}))
	t.Cleanup(srv.Close)
	g := startGateway(t, gwOpts{Config: `
json:
  routes:
    get:
      integration: http
      method: GET
      url: "` + srv.URL + `/orders/{body.id}?v={body.v}"
      query: {conn: "{connectionId}"}
      headers: {X-Tenant: "t-{body.tenant}"}
    put:
      integration: http
      method: PUT
      url: "` + srv.URL + `/orders/{body.id}"
      payload: $request.body.data
    del:
      integration: http
      method: DELETE
      url: "` + srv.URL + `/orders/{body.id}"
      proxy: false
      responses:
        - {status: "404", as: reply, data: '{"deleted":false}'}
    missing:
      integration: http
      method: GET
      url: "` + srv.URL + `/missing"
      error_body: true
`})
	nc := natsConn(t, g.NATSURL)
	c, id := dialID(t, g, nc, "/")

	t.Run("GET with a templated URL, query and header", func(t *testing.T) {
		c := c.with(t)
		c.send(`{"action":"get","id":1,"v":"a&b=c","tenant":"x y"}`)
		if f := c.expect("reply"); string(f.Data) != `{"method":"GET"}` || string(f.ID) != "1" {
			t.Errorf("%+v", f)
		}
		call := <-calls
		if want := "/orders/1?v=a%26b%3Dc&conn=" + id; call.path != want || len(call.body) != 0 {
			t.Errorf("endpoint got %s %s %q, want %s", call.method, call.path, call.body, want)
		}
		if call.header.Get("X-Tenant") != "t-x y" || call.header.Get("Wsgate-Connection-Id") != id || call.header.Get("Wsgate-Route") != "get" {
			t.Errorf("headers %v", call.header)
		}
	})
	t.Run("hostile ids stay in their path segment", func(t *testing.T) {
		c := c.with(t)
		for _, tc := range []struct{ id, path string }{
			{`"../admin"`, "/orders/..%2Fadmin"},
			{`"a?b#c"`, "/orders/a%3Fb%23c"},
			{`"%2F"`, "/orders/%252F"},
			{`"@evil.example"`, "/orders/%40evil.example"},
		} {
			c.send(`{"action":"get","id":` + tc.id + `,"v":1,"tenant":1}`)
			c.expect("reply")
			if call := <-calls; !strings.HasPrefix(call.path, tc.path+"?") {
				t.Errorf("id %s: endpoint got %s", tc.id, call.path)
			}
		}
		for _, bad := range []string{`".."`, `"."`, `""`} {
			c.send(`{"action":"get","id":` + bad + `,"v":1,"tenant":1}`)
			c.expectError("bad_request", bad)
		}
		c.send(`{"action":"get","id":"x","v":1,"tenant":"a\r\nX-Evil: 1"}`)
		c.expectError("bad_request", `"x"`)
		select {
		case call := <-calls:
			t.Errorf("a refused message reached the endpoint: %s %s", call.method, call.path)
		default:
		}
	})
	t.Run("PUT sends the payload", func(t *testing.T) {
		c := c.with(t)
		c.send(`{"action":"put","id":7,"data":{"qty":2}}`)
		if f := c.expect("reply"); string(f.Data) != `{"method":"PUT"}` {
			t.Errorf("%+v", f)
		}
		if call := <-calls; call.method != "PUT" || string(call.body) != `{"qty":2}` || call.header.Get("Content-Type") != "application/json" {
			t.Errorf("endpoint got %s %s %q %v", call.method, call.path, call.body, call.header)
		}
	})
	t.Run("responses map a 404 to a reply", func(t *testing.T) {
		c := c.with(t)
		c.send(`{"action":"del","id":7}`)
		if f := c.expect("reply"); string(f.Data) != `{"deleted":false}` || f.Route != "del" {
			t.Errorf("%+v", f)
		}
		<-calls
	})
	t.Run("an error status with its body", func(t *testing.T) {
		c := c.with(t)
		c.send(`{"action":"missing","id":"m"}`)
		f := c.expectError("integration_failed", `"m"`)
		if f.Status != 404 || strings.TrimSpace(string(f.Data)) != `{"why":"gone"}` {
			t.Errorf("%+v", f)
		}
		<-calls
		if n := g.metric(t, "wsgate_integration_errors_total", map[string]string{"route": "missing", "kind": "http_4xx"}); n != 1 {
			t.Errorf("wsgate_integration_errors_total{route=missing,kind=http_4xx} = %v, want 1", n)
		}
		// The execution log, at debug, has what the endpoint said.
		eventually(t, 5*time.Second, func() error {
			if !g.hasLog("integration failed", map[string]any{"route": "missing", "class": "http_4xx", "status": 404, "body": "{\"why\":\"gone\"}\n", "method": "GET"}) {
				return fmt.Errorf("no execution log line for the failed call:\n%s", g.logText())
			}
			return nil
		})
	})
}

// TestJSONRouteTransforms drives jq conditions and transforms: targets
// chosen by content, request and response transforms on request and http
// routes, and a transform on a subscription's deliveries.
func TestJSONRouteTransforms(t *testing.T) {
	calls := make(chan httpCall, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		calls <- httpCall{r.Method, r.URL.Path, r.Header.Clone(), b}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, `{"ticket":"T-9","internal":"do not show"}`)
	}))
	t.Cleanup(srv.Close)
	g := startGateway(t, gwOpts{Config: `
json:
  routes:
    pay:
      integration: publish
      subject: payments.normal
      targets:
        - when: .body.amount > 1000
          integration: publish
          subject: payments.review
        - when: .body.currency != "EUR"
          integration: request
          subject: payments.fx
    quote:
      integration: request
      subject: svc.quote
      request_transform: '{sku: .body.item.sku, qty: (.body.item.qty // 1), conn: .connectionId}'
      response_transform: '{price: .body.total, sku: .request.item.sku}'
    ticket:
      integration: http
      url: "` + srv.URL + `/tickets"
      proxy: false
      request_transform: '{title: .body.text, by: .connectionId}'
      response_transform: '{id: .body.ticket, status}'
    prices:
      integration: subscribe
      subject: "prices.{body.sym}"
      transform: '{sym: (.subject | split(".") | last), p: .body.price}'
    broken:
      integration: publish
      subject: broken
      request_transform: '.body.n + "x"'
`})
	nc := natsConn(t, g.NATSURL)
	review, _ := nc.SubscribeSync("payments.review")
	normal, _ := nc.SubscribeSync("payments.normal")
	nc.Subscribe("payments.fx", func(m *nats.Msg) { m.Respond([]byte(`{"fx":true}`)) })
	var quoteReq []byte
	quoted := make(chan struct{}, 1)
	nc.Subscribe("svc.quote", func(m *nats.Msg) {
		quoteReq = m.Data
		quoted <- struct{}{}
		m.Respond([]byte(`{"total":9.5,"cost":3}`))
	})
	nc.Flush()
	c, id := dialID(t, g, nc, "/")

	t.Run("targets by content", func(t *testing.T) {
		c := c.with(t)
		big := `{"action":"pay","amount":5000,"currency":"EUR"}`
		c.send(big)
		if m := nextMsg(t, review); string(m.Data) != big || m.Header.Get("Wsgate-Route") != "pay" {
			t.Errorf("review got %q %v", m.Data, m.Header)
		}
		c.send(`{"action":"pay","amount":10,"currency":"USD","id":1}`)
		if f := c.expect("reply"); string(f.Data) != `{"fx":true}` || f.Route != "pay" {
			t.Errorf("%+v", f)
		}
		small := `{"action":"pay","amount":10,"currency":"EUR"}`
		c.send(small)
		if m := nextMsg(t, normal); string(m.Data) != small {
			t.Errorf("normal got %q", m.Data)
		}
	})
	t.Run("request and response transforms", func(t *testing.T) {
		c := c.with(t)
		c.send(`{"action":"quote","item":{"sku":"A-1"},"id":2}`)
		f := c.expect("reply")
		<-quoted
		if want := `{"conn":"` + id + `","qty":1,"sku":"A-1"}`; string(quoteReq) != want {
			t.Errorf("worker got %s, want %s", quoteReq, want)
		}
		if string(f.Data) != `{"price":9.5,"sku":"A-1"}` {
			t.Errorf("%+v", f)
		}
	})
	t.Run("http with transforms", func(t *testing.T) {
		c := c.with(t)
		c.send(`{"action":"ticket","text":"printer on fire","id":3}`)
		f := c.expect("reply")
		if string(f.Data) != `{"id":"T-9","status":202}` {
			t.Errorf("%+v", f)
		}
		call := <-calls
		if want := `{"by":"` + id + `","title":"printer on fire"}`; string(call.body) != want || call.method != "POST" {
			t.Errorf("endpoint got %s %s, want %s", call.method, call.body, want)
		}
	})
	t.Run("subscription transform", func(t *testing.T) {
		c := c.with(t)
		c.send(`{"action":"prices","sym":"ACME","id":4}`)
		c.expect("subscribed")
		nc.Publish("prices.ACME", []byte(`{"price":1.5,"volume":100}`))
		if f := c.expect("message"); f.Subject != "prices.ACME" || string(f.Data) != `{"p":1.5,"sym":"ACME"}` {
			t.Errorf("%+v", f)
		}
	})
	t.Run("a failing transform is an error frame", func(t *testing.T) {
		c := c.with(t)
		c.send(`{"action":"broken","n":1,"id":5}`)
		c.expectError("transform_failed", "5")
		askNothing := `{"action":"pay","amount":10,"currency":"EUR"}`
		c.send(askNothing)
		nextMsg(t, normal)
	})
}

// TestJSONRouteUpgradeKeys selects routes by the upgrade request's query
// string, header and path combined with the message.
func TestJSONRouteUpgradeKeys(t *testing.T) {
	g := startGateway(t, gwOpts{Config: `
json:
  route_selection_expression: "${request.querystring.v}/${request.header.X-App}/${request.body.action}"
  routes:
    2/web/send:
      integration: publish
      subject: keys.v2web
    /web/send:
      integration: publish
      subject: keys.v0web
    2//send:
      integration: publish
      subject: keys.v2noapp
`})
	nc := natsConn(t, g.NATSURL)
	sub, _ := nc.SubscribeSync("keys.*")
	nc.Flush()
	for _, tc := range []struct {
		path, app, subject string
	}{
		{"/?v=2", "web", "keys.v2web"},
		{"/ws?v=2&v=3", "web", "keys.v2web"},
		{"/", "web", "keys.v0web"},
		{"/?v=2", "", "keys.v2noapp"},
	} {
		hdr := http.Header{}
		if tc.app != "" {
			hdr.Set("X-App", tc.app)
		}
		c := dial(t, g.WS(tc.path), hdr)
		msg := `{"action":"send","n":1}`
		c.send(msg)
		if m := nextMsg(t, sub); m.Subject != tc.subject || string(m.Data) != msg {
			t.Errorf("%s with X-App %q: got %s %q, want %s", tc.path, tc.app, m.Subject, m.Data, tc.subject)
		}
		c.send(`{"action":"other","id":1}`)
		c.expectError("no_route", "1")
		c.Conn.Close()
	}
}

// TestJSONRouteCache serves replies of request and http routes from the
// cache: per connection for anonymous clients unless shared, successes only.
func TestJSONRouteCache(t *testing.T) {
	var hits int
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits++
		n := hits
		mu.Unlock()
		if r.URL.Query().Get("sym") == "FAIL" {
			http.Error(w, "no", http.StatusBadGateway)
			return
		}
		fmt.Fprintf(w, `{"sym":%q,"n":%d}`, r.URL.Query().Get("sym"), n)
	}))
	t.Cleanup(srv.Close)
	g := startGateway(t, gwOpts{Config: `
json:
  routes:
    quote:
      integration: request
      subject: "svc.quote"
      cache: {ttl: 1h, key: "{body.sym}"}
    sharedquote:
      integration: http
      method: GET
      url: "` + srv.URL + `/q?sym={body.sym}"
      cache: {ttl: 1h, key: "{body.sym}", shared: true}
`})
	nc := natsConn(t, g.NATSURL)
	var asked int
	nc.Subscribe("svc.quote", func(m *nats.Msg) {
		mu.Lock()
		asked++
		n := asked
		mu.Unlock()
		m.Respond([]byte(fmt.Sprintf(`{"n":%d}`, n)))
	})
	nc.Flush()
	a := dial(t, g.WS("/"), nil)
	b := dial(t, g.WS("/"), nil)
	ask := func(c *client, msg, want string) {
		t.Helper()
		c.send(msg)
		if f := c.expect("reply"); string(f.Data) != want {
			t.Errorf("%s: reply %s, want %s", msg, f.Data, want)
		}
	}
	ask(a, `{"action":"quote","sym":"ACME"}`, `{"n":1}`)
	ask(a, `{"action":"quote","sym":"ACME","id":2}`, `{"n":1}`) // a hit
	ask(a, `{"action":"quote","sym":"INIT"}`, `{"n":2}`)
	ask(b, `{"action":"quote","sym":"ACME"}`, `{"n":3}`) // another (anonymous) connection: its own entries
	ask(a, `{"action":"sharedquote","sym":"ACME"}`, `{"sym":"ACME","n":1}`)
	ask(b, `{"action":"sharedquote","sym":"ACME"}`, `{"sym":"ACME","n":1}`) // shared
	a.send(`{"action":"sharedquote","sym":"FAIL","id":1}`)
	a.expectError("integration_failed", "1")
	a.send(`{"action":"sharedquote","sym":"FAIL","id":2}`)
	if f := a.expectError("integration_failed", "2"); f.Status != 502 {
		t.Errorf("%+v", f)
	}
	mu.Lock()
	if hits != 3 {
		t.Errorf("endpoint called %d times, want 3 (ACME once, FAIL twice: failures are not cached)", hits)
	}
	mu.Unlock()
	for _, m := range []struct {
		route, result string
		want          float64
	}{
		{"quote", "hit", 1}, {"quote", "miss", 3}, {"sharedquote", "hit", 1}, {"sharedquote", "miss", 3},
	} {
		if n := g.metric(t, "wsgate_route_cache_total", map[string]string{"route": m.route, "result": m.result}); n != m.want {
			t.Errorf("wsgate_route_cache_total{route=%s,result=%s} = %v, want %v", m.route, m.result, n, m.want)
		}
	}
}

// TestJSONRouteStages runs one API in two stages: each on its own path,
// with variables that reach different subjects and endpoints, its own
// limits, and Wsgate-Stage on its messages.
func TestJSONRouteStages(t *testing.T) {
	calls := make(chan httpCall, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls <- httpCall{r.Method, r.URL.Path, r.Header.Clone(), nil}
		io.WriteString(w, `{}`)
	}))
	t.Cleanup(srv.Close)
	g := startGateway(t, gwOpts{Config: `
stages:
  test:
    path: /test
    variables: {tenant: t1, token: test-token}
  prod:
    path: /prod
    variables: {tenant: p1, token: prod-token}
    log_level: warn
    limits: {max_subscriptions: 1}
  local:
    host: localhost
    variables: {tenant: l1, token: local-token}
json:
  routes:
    send:
      integration: publish
      subject: "orders.{stage.tenant}"
    info:
      integration: http
      method: GET
      url: "` + srv.URL + `/{stage.tenant}/info"
      headers: {Authorization: "Bearer {stage.token}"}
    join:
      integration: subscribe
      subject: "room.{body.room}"
    which:
      integration: request
      subject: svc.which
      request_transform: '.stage.tenant'
    cached:
      integration: request
      subject: svc.stage
      cache: {ttl: 1h, shared: true}
  stages:
    prod:
      routes:
        only: {integration: publish, subject: orders.prodonly}
`})
	nc := natsConn(t, g.NATSURL)
	orders, _ := nc.SubscribeSync("orders.*")
	nc.Subscribe("svc.which", func(m *nats.Msg) { m.Respond(m.Data) })
	nc.Subscribe("svc.stage", func(m *nats.Msg) { m.Respond([]byte(`"` + m.Header.Get("Wsgate-Stage") + `"`)) })
	nc.Flush()
	for _, st := range []struct{ name, tenant, token string }{{"test", "t1", "test-token"}, {"prod", "p1", "prod-token"}} {
		t.Run(st.name, func(t *testing.T) {
			events, _ := nc.SubscribeSync("wsgate.events.connect")
			defer events.Unsubscribe()
			nc.Flush()
			c := dial(t, g.WS("/"+st.name+"/ws"), nil)
			ev := nextMsg(t, events)
			var info struct{ Stage string }
			if json.Unmarshal(ev.Data, &info); info.Stage != st.name || ev.Header.Get("Wsgate-Stage") != st.name {
				t.Errorf("connect event %s %v", ev.Data, ev.Header)
			}
			c.send(`{"action":"send"}`)
			m := nextMsg(t, orders)
			if m.Subject != "orders."+st.tenant || m.Header.Get("Wsgate-Stage") != st.name {
				t.Errorf("got %s, Wsgate-Stage %q", m.Subject, m.Header.Get("Wsgate-Stage"))
			}
			c.send(`{"action":"info","id":1}`)
			c.expect("reply")
			call := <-calls
			if call.path != "/"+st.tenant+"/info" || call.header.Get("Authorization") != "Bearer "+st.token || call.header.Get("Wsgate-Stage") != st.name {
				t.Errorf("endpoint got %s %v", call.path, call.header)
			}
			c.send(`{"action":"which","id":2}`)
			if f := c.expect("reply"); string(f.Data) != `"`+st.tenant+`"` {
				t.Errorf("%+v", f)
			}
			for range 2 { // the second from the cache, which stages do not share
				c.send(`{"action":"cached","id":5}`)
				if f := c.expect("reply"); string(f.Data) != `"`+st.name+`"` {
					t.Errorf("cached reply %s in stage %s", f.Data, st.name)
				}
			}
			c.send(`{"action":"only","id":6}`)
			if st.name == "prod" {
				c.expect("published")
				if m := nextMsg(t, orders); m.Subject != "orders.prodonly" {
					t.Errorf("prod's own route published to %s", m.Subject)
				}
			} else {
				c.expectError("no_route", "6")
			}
			c.send(`{"action":"join","room":"a","id":3}`)
			c.expect("subscribed")
			c.send(`{"action":"join","room":"b","id":4}`)
			if st.name == "prod" {
				c.expectError("limit_exceeded", "4")
			} else {
				c.expect("subscribed")
			}
		})
	}
	t.Run("a stage of its own host", func(t *testing.T) {
		c := dial(t, "ws://"+strings.Replace(g.Addr, "127.0.0.1", "localhost", 1)+"/ws", nil)
		c.send(`{"action":"send"}`)
		if m := nextMsg(t, orders); m.Subject != "orders.l1" || m.Header.Get("Wsgate-Stage") != "local" {
			t.Errorf("got %s, Wsgate-Stage %q", m.Subject, m.Header.Get("Wsgate-Stage"))
		}
	})
	t.Run("no stage", func(t *testing.T) {
		_, resp, err := websocket.DefaultDialer.Dial(g.WS("/ws"), nil)
		if err == nil || resp == nil || resp.StatusCode != http.StatusNotFound {
			t.Errorf("upgrade outside every stage: %v %v", resp, err)
		}
	})
}
