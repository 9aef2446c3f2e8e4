package e2e

import (
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
)

const schemaRoutesConfig = `
json:
  routes:
    say:
      integration: publish
      subject: chat.{body.room}
      schema:
        type: object
        required: [action, room, text]
        properties:
          action: {const: say}
          room: {type: string, minLength: 1, pattern: "^[a-z]+$"}
          text: {type: string, maxLength: 20}
          id: {}
        additionalProperties: false
    ask:
      integration: request
      subject: svc.ask
      payload: $request.body.q
      schema:
        type: object
        required: [q]
        properties:
          q: {type: string}
    free:
      integration: publish
      subject: chat.free
    $default:
      integration: publish
      subject: chat.default
      schema: {type: object}
`

// TestJSONRouteSchema: a message that matches its route's schema reaches
// a real NATS worker; one that does not gets a bad_request error frame
// naming the JSON pointer and the keyword, reaches no worker, and leaves
// the connection open.
func TestJSONRouteSchema(t *testing.T) {
	g := startGateway(t, gwOpts{Config: schemaRoutesConfig})
	nc := natsConn(t, g.NATSURL)
	chat, err := nc.SubscribeSync("chat.>")
	if err != nil {
		t.Fatal(err)
	}
	asked, err := nc.SubscribeSync("svc.ask")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nc.Subscribe("svc.ask", func(m *nats.Msg) { m.Respond(append([]byte("re: "), m.Data...)) }); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	c := dial(t, g.WS("/ws"), nil)

	// expectChat reads the next message on chat.> and checks it: what a
	// refused message would have published would come first.
	expectChat := func(t *testing.T, subject, data string) {
		t.Helper()
		m := nextMsg(t, chat)
		if m.Subject != subject || string(m.Data) != data {
			t.Fatalf("worker got %s %q, want %s %q", m.Subject, m.Data, subject, data)
		}
	}
	good := `{"action":"say","room":"lobby","text":"hi","id":1}`
	c.send(good)
	if f := c.expect("published"); f.Subject != "chat.lobby" {
		t.Fatalf("published %+v", f)
	}
	expectChat(t, "chat.lobby", good)

	for _, tc := range []struct {
		name, msg string
		says      []string
	}{
		{"too short", `{"action":"say","room":"","text":"hi","id":2}`, []string{`at "/room"`, `#/properties/room/minLength`}},
		{"wildcard smuggled in the room", `{"action":"say","room":"a.>","text":"hi","id":2}`, []string{`at "/room"`, `#/properties/room/pattern`}},
		{"wrong type", `{"action":"say","room":"lobby","text":5,"id":2}`, []string{`at "/text"`, `#/properties/text/type`}},
		{"too long", `{"action":"say","room":"lobby","text":"` + strings.Repeat("x", 21) + `","id":2}`, []string{`at "/text"`, `maxLength`}},
		{"missing", `{"action":"say","room":"lobby","id":2}`, []string{`at ""`, `#/required`, `text`}},
		{"extra member", `{"action":"say","room":"lobby","text":"hi","admin":true,"id":2}`, []string{`#/additionalProperties`, `admin`}},
		{"duplicate member: the last counts", `{"action":"say","room":"lobby","room":"","text":"hi","id":2}`, []string{`at "/room"`}},
		{"not an object, to $default", `[1,2,3]`, []string{`at ""`, `#/type`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := c.with(t)
			c.send(tc.msg)
			f := c.expect("error")
			if f.Error != "bad_request" {
				t.Fatalf("error %q (%s), want bad_request", f.Error, f.Message)
			}
			if tc.msg[0] == '{' && (f.Route != "say" || string(f.ID) != "2") {
				t.Errorf("error frame route %q id %s, want say and 2", f.Route, f.ID)
			}
			rest := f.Message
			for _, s := range tc.says {
				i := strings.Index(rest, s)
				if i < 0 {
					t.Fatalf("error message %q does not say %q", f.Message, s)
				}
				rest = rest[i+len(s):]
			}
			// The connection is open and the worker saw nothing: the
			// next good message is the next one it gets.
			next := `{"action":"say","room":"after","text":"` + tc.name[:3] + `"}`
			c.send(next)
			expectChat(t, "chat.after", next)
		})
	}

	// A route without a schema takes anything routed to it.
	free := `{"action":"free","anything":[1,{"goes":true}]}`
	c.send(free)
	expectChat(t, "chat.free", free)

	// A two-way route: the refused request never reaches the worker.
	c.send(`{"action":"ask","q":7,"id":"a1"}`)
	if f := c.expectError("bad_request", `"a1"`); !strings.Contains(f.Message, `at "/q"`) {
		t.Fatalf("error message %q", f.Message)
	}
	c.send(`{"action":"ask","q":"ping","id":"a2"}`)
	if f := c.expect("reply"); string(f.ID) != `"a2"` || string(f.Data) != `"re: ping"` {
		t.Fatalf("reply %+v", f)
	}
	if m := nextMsg(t, asked); string(m.Data) != "ping" {
		t.Fatalf("the ask worker's first request is %q, want ping (the refused one must not arrive)", m.Data)
	}
	if n := g.metric(t, "wsgate_protocol_errors_total", map[string]string{"protocol": "json", "kind": "bad_request"}); n < 9 {
		t.Errorf("wsgate_protocol_errors_total{kind=bad_request} = %v, want at least 9", n)
	}
}
