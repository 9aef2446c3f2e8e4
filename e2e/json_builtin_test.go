package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// TestBuiltinRoutes drives the dev-mode routes: subscribe, publish, request,
// unsubscribe, with a NATS worker on the other side.
func TestBuiltinRoutes(t *testing.T) {
	g := startGateway(t, gwOpts{})
	nc := natsConn(t, g.NATSURL)
	c := dial(t, g.WS("/"), nil)

	t.Run("publish reaches a NATS worker with headers", func(t *testing.T) {
		sub, _ := nc.SubscribeSync("orders.new")
		nc.Flush()
		c.send(`{"action":"publish","subject":"orders.new","data":{"sku":42}}`)
		m := nextMsg(t, sub)
		if string(m.Data) != `{"sku":42}` {
			t.Errorf("data %q", m.Data)
		}
		for _, h := range []string{"Wsgate-Connection-Id", "Wsgate-Protocol", "Wsgate-Event", "Wsgate-Route"} {
			if m.Header.Get(h) == "" {
				t.Errorf("header %s missing: %v", h, m.Header)
			}
		}
		if m.Header.Get("Wsgate-Protocol") != "json" || m.Header.Get("Wsgate-Event") != "MESSAGE" || m.Header.Get("Wsgate-Route") != "publish" {
			t.Errorf("headers %v", m.Header)
		}
	})

	t.Run("subscribe delivers NATS messages in an envelope", func(t *testing.T) {
		c.subscribe("chat.>")
		nc.Publish("chat.lobby", []byte(`{"text":"hi"}`))
		nc.Publish("chat.room.7", []byte(`plain text`))
		f := c.expect("message")
		if f.Subject != "chat.lobby" || string(f.Data) != `{"text":"hi"}` {
			t.Errorf("got %+v", f)
		}
		f = c.expect("message")
		var s string
		json.Unmarshal(f.Data, &s)
		if f.Subject != "chat.room.7" || s != "plain text" {
			t.Errorf("got %+v", f)
		}
	})

	t.Run("request gets the worker's reply", func(t *testing.T) {
		nc.Subscribe("svc.echo", func(m *nats.Msg) { m.Respond(append([]byte("echo:"), m.Data...)) })
		nc.Flush()
		c.send(`{"action":"request","subject":"svc.echo","data":"ping","id":7}`)
		f := c.expect("reply")
		var s string
		json.Unmarshal(f.Data, &s)
		if s != "echo:ping" || string(f.ID) != "7" {
			t.Errorf("got %+v", f)
		}
	})

	t.Run("unsubscribe stops deliveries", func(t *testing.T) {
		c.send(`{"action":"unsubscribe","subject":"chat.>"}`)
		c.expect("unsubscribed")
		nc.Publish("chat.lobby", []byte(`1`))
		c.send(`{"action":"request","subject":"svc.echo","data":"x"}`)
		if f := c.next(); f.Type != "reply" {
			t.Errorf("got %+v after unsubscribe", f)
		}
	})

	t.Run("a subject that is not a JSON string is refused", func(t *testing.T) {
		sub, _ := nc.SubscribeSync("42")
		nc.Flush()
		for _, subj := range []string{`42`, `true`, `{"a":1}`, `["a"]`, `null`} {
			c.send(`{"action":"publish","subject":` + subj + `,"data":1,"id":1}`)
			if f := c.expect("error"); f.Error != "bad_request" || !strings.Contains(f.Message, "string") {
				t.Errorf("subject %s: %+v", subj, f)
			}
			c.send(`{"action":"subscribe","subject":"x","queue":` + subj + `}`)
			if f := c.expect("error"); f.Error != "bad_request" || !strings.Contains(f.Message, "string") {
				t.Errorf("queue %s: %+v", subj, f)
			}
		}
		if m, err := sub.NextMsg(200 * time.Millisecond); err == nil {
			t.Errorf("published to %q: %q", m.Subject, m.Data)
		}
	})

	t.Run("reserved subjects are refused", func(t *testing.T) {
		for _, subj := range []string{"wsgate.>", "wsgate.conn.x.send", "$JS.API.>", "_INBOX.>"} {
			c.send(map[string]any{"action": "subscribe", "subject": subj})
			if f := c.expect("error"); f.Error != "forbidden" {
				t.Errorf("%s: %+v", subj, f)
			}
		}
		c.send(`{"action":"publish","subject":"$JS.API.STREAM.LIST","data":1}`)
		if f := c.expect("error"); f.Error != "forbidden" {
			t.Errorf("%+v", f)
		}
	})

	t.Run("a wide subscription never sees reserved subjects", func(t *testing.T) {
		w := dial(t, g.WS("/ws"), nil)
		w.subscribe(">")
		// Connecting another client publishes wsgate.events.connect.
		dial(t, g.WS("/"), nil)
		nc.Publish("after.events", []byte(`"marker"`))
		for {
			f := w.expect("message")
			if f.Subject == "after.events" {
				break
			}
			if len(f.Subject) >= 7 && f.Subject[:7] == "wsgate." {
				t.Fatalf("reserved subject delivered: %+v", f)
			}
		}
	})

	t.Run("bad JSON gets an error frame and the connection stays usable", func(t *testing.T) {
		c.send(`{not json`)
		if f := c.expect("error"); f.Error != "bad_json" {
			t.Errorf("%+v", f)
		}
		c.send(`{"action":"nope"}`)
		if f := c.expect("error"); f.Error != "no_route" {
			t.Errorf("%+v", f)
		}
		c.send(`{"action":"request","subject":"svc.echo","data":"still here"}`)
		c.expect("reply")
	})

	_ = time.Second
}
