package e2e

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/eclipse/paho.golang/paho"
	"github.com/go-stomp/stomp/v3"
)

// TestWAMPAuth: ticket authentication (an API key, authid its id), a token
// in the upgrade request, refusals, and permissions on every SUBSCRIBE,
// PUBLISH, REGISTER and CALL; realms with a subject prefix.
func TestWAMPAuth(t *testing.T) {
	key, other := newSecret(t), newSecret(t)
	g := startGateway(t, gwOpts{Config: `
wamp:
  realms:
    - {name: app, subject_prefix: tenant1}
auth:
  authenticators:
    - type: api_keys
      api_keys:
        keys:
          - id: sensor-1
            hash: "` + keyHash(key) + `"
            permissions:
              publish: {allow: ["tenant1.sensors.{principal}.>", "tenant1.svc.>"]}
              subscribe: {allow: ["tenant1.sensors.>", "tenant1.rpc.{principal}.>"]}
          - id: sensor-2
            hash: "` + keyHash(other) + `"
`})
	nc := natsConn(t, g.NATSURL)

	ticket := func(t *testing.T, authid, secret string) *wampClient {
		c := dialWAMP(t, g, "json", nil)
		c.send(1, "app", map[string]any{"authmethods": []string{"ticket"}, "authid": authid, "roles": map[string]any{"caller": map[string]any{}}})
		ch := c.expect(4)
		if ch[1] != "ticket" {
			t.Fatalf("CHALLENGE %v", ch)
		}
		c.send(5, secret, map[string]any{})
		return c
	}

	t.Run("ticket", func(t *testing.T) {
		c := ticket(t, "sensor-1", key)
		w := c.expect(2)
		d := w[2].(map[string]any)
		if d["authid"] != "sensor-1" || d["authmethod"] != "ticket" || d["authrole"] != "user" {
			t.Errorf("WELCOME %v", d)
		}
	})
	t.Run("wrong ticket", func(t *testing.T) {
		c := ticket(t, "sensor-1", other)
		if a := c.expect(3); a[2] != "wamp.error.authentication_failed" {
			t.Errorf("ABORT %v", a)
		}
		c.closed()
	})
	t.Run("no credentials", func(t *testing.T) {
		c := dialWAMP(t, g, "msgpack", nil)
		c.send(1, "app", map[string]any{"roles": map[string]any{"caller": map[string]any{}}})
		if a := c.expect(3); a[2] != "wamp.error.authentication_failed" {
			t.Errorf("ABORT %v", a)
		}
	})
	t.Run("unknown realm", func(t *testing.T) {
		c := dialWAMP(t, g, "json", bearer(key))
		c.send(1, "realm1", map[string]any{})
		if a := c.expect(3); a[2] != "wamp.error.no_such_realm" {
			t.Errorf("ABORT %v", a)
		}
	})
	t.Run("token in the upgrade request, and permissions", func(t *testing.T) {
		c := dialWAMP(t, g, "cbor", bearer(key))
		d := c.join("app", map[string]any{})
		if d["authid"] != "sensor-1" || d["authmethod"] != "token" {
			t.Errorf("WELCOME %v", d)
		}
		sub := workerSub(t, nc, "tenant1.sensors.>")
		c.send(16, c.req(), map[string]any{"acknowledge": true}, "sensors.sensor-1.temp", []any{20})
		c.expect(17)
		if m := nextMsg(t, sub); m.Subject != "tenant1.sensors.sensor-1.temp" || string(m.Data) != "[20]" {
			t.Errorf("NATS got %s %s", m.Subject, m.Data)
		}
		for _, tc := range []struct {
			msg []any
		}{
			{[]any{16, 101, map[string]any{"acknowledge": true}, "sensors.sensor-2.temp"}},
			{[]any{32, 102, map[string]any{}, "svc"}},
			{[]any{32, 103, map[string]any{"match": "prefix"}, "sensors.sensor-1.x.y.z.>"}},
			{[]any{32, 104, map[string]any{"match": "wildcard"}, "rpc..add"}},
			{[]any{64, 105, map[string]any{}, "rpc.sensor-2.add"}},
			{[]any{48, 106, map[string]any{}, "rpc.sensor-1.add"}},
		} {
			c.send(tc.msg...)
			e := c.expect(8)
			want := "wamp.error.not_authorized"
			if tc.msg[0] == 32 && tc.msg[2].(map[string]any)["match"] == "prefix" {
				want = "wamp.error.invalid_uri" // a '>' in a URI is never a wildcard
			}
			if e[4] != want {
				t.Errorf("%v: got %v, want %s", tc.msg, e, want)
			}
		}
		c.send(64, c.req(), map[string]any{}, "rpc.sensor-1.add")
		c.expect(65)
		// A prefix subscription needs both its subjects allowed.
		c.send(32, c.req(), map[string]any{"match": "prefix"}, "sensors")
		c.expectError(32, "wamp.error.not_authorized")
		c.send(32, c.req(), map[string]any{"match": "prefix"}, "sensors.sensor-1")
		c.expect(33)
		// Allowed, but nobody serves it.
		c.send(48, c.req(), map[string]any{}, "svc.x")
		c.expectError(48, "wamp.error.no_such_procedure")
	})
}

// TestWAMPBadInput: malformed and illegal messages end only their own
// session, with ABORT or GOODBYE wamp.error.protocol_violation, and are
// counted.
func TestWAMPBadInput(t *testing.T) {
	g := startGateway(t, gwOpts{Config: "wamp:\n  max_message_bytes: 4096\n  max_depth: 8\n"})
	bystander := joinWAMP(t, g, "json")
	for _, tc := range []struct {
		name, in    string
		established bool
		kind        string
	}{
		{"garbage", `{not json`, false, "malformed_message"},
		{"call before HELLO", `[48,1,{},"a"]`, false, "protocol"},
		{"unknown type", `[777,1]`, true, "malformed_message"},
		{"wrong-typed field", `[16,1,"options","a"]`, true, "malformed_message"},
		{"id out of range", `[48,9007199254740993,{},"a"]`, true, "malformed_message"},
		{"second HELLO", `[1,"realm1",{}]`, true, "protocol"},
		{"too deep", `[16,1,{},"a",[[[[[[[[[[1]]]]]]]]]]]`, true, "too_deep"},
		{"too large", `[16,1,{},"a",["` + strings.Repeat("x", 5000) + `"]]`, true, "message_too_large"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			labels := map[string]string{"protocol": "wamp", "kind": tc.kind}
			before := g.metric(t, "wsgate_protocol_errors_total", labels)
			c := dialWAMP(t, g, "json", nil)
			if tc.established {
				c.join("realm1", map[string]any{})
			}
			c.ws.WriteMessage(1, []byte(tc.in))
			want := int64(3)
			if tc.established {
				want = 6
			}
			if m := c.expect(want); m[2] != "wamp.error.protocol_violation" {
				t.Errorf("got %v", m)
			}
			if code := c.closed(); code != 1002 {
				t.Errorf("close code %d", code)
			}
			if after := g.metric(t, "wsgate_protocol_errors_total", labels); after != before+1 {
				t.Errorf("wsgate_protocol_errors_total%v: %v -> %v", labels, before, after)
			}
		})
	}
	bystander.send(32, bystander.req(), map[string]any{}, "still.here")
	bystander.expect(33)
}

// TestWAMPCrossProtocol: a WAMP publication reaches MQTT, STOMP, JSON and
// NATS subscribers, and each of those reaches a WAMP subscriber.
func TestWAMPCrossProtocol(t *testing.T) {
	g := startGateway(t, gwOpts{})
	nc := natsConn(t, g.NATSURL)
	worker := workerSub(t, nc, "chat.wamp")

	w := joinWAMP(t, g, "msgpack")
	subID := w.subscribe("chat.wamp", map[string]any{})
	js := dial(t, g.WS("/"), nil)
	js.subscribe("chat.wamp")
	sc := dialSTOMP(t, g)
	stompSub, err := sc.Subscribe("/topic/chat.wamp", stomp.AckAuto)
	if err != nil {
		t.Fatal(err)
	}
	stompBarrier(t, nc, sc)
	mq := connectV5(t, g, nil)
	mq.subscribe(t, paho.SubscribeOptions{Topic: "chat/wamp", QoS: 0})

	t.Run("WAMP to every other protocol", func(t *testing.T) {
		w.send(16, w.req(), map[string]any{"acknowledge": true}, "chat.wamp", []any{"from wamp"})
		w.expect(17)
		const want = `["from wamp"]`
		if m := nextMsg(t, worker); string(m.Data) != want {
			t.Errorf("NATS got %s", m.Data)
		}
		if f := js.expect("message"); string(f.Data) != want {
			t.Errorf("JSON got %s", f.Data)
		}
		if m := nextSTOMP(t, stompSub); string(m.Body) != want {
			t.Errorf("STOMP got %s", m.Body)
		}
		if p := mq.next(t); string(p.Payload) != want {
			t.Errorf("MQTT got %s", p.Payload)
		}
	})
	wampGets := func(t *testing.T, want any) {
		t.Helper()
		ev := w.expect(36)
		if num(ev[1]) != subID {
			t.Errorf("EVENT %v", ev)
		}
		if args, _ := payload(ev, 4); !jsonEqual(args, want) {
			t.Errorf("WAMP got %v, want %v", args, want)
		}
	}
	t.Run("MQTT to WAMP", func(t *testing.T) {
		mq.publish(t, &paho.Publish{Topic: "chat/wamp", QoS: 1, Payload: []byte(`["from mqtt",1]`)})
		wampGets(t, []any{"from mqtt", int64(1)})
	})
	t.Run("STOMP to WAMP", func(t *testing.T) {
		if err := sc.Send("/topic/chat.wamp", "text/plain", []byte("from stomp")); err != nil {
			t.Fatal(err)
		}
		wampGets(t, []any{"from stomp"})
	})
	t.Run("JSON to WAMP", func(t *testing.T) {
		js.send(`{"action":"publish","subject":"chat.wamp","data":{"from":"json"}}`)
		wampGets(t, []any{map[string]any{"from": "json"}})
	})
	t.Run("NATS to WAMP", func(t *testing.T) {
		nc.Publish("chat.wamp", []byte(`{"args":["from nats"],"kwargs":{"k":1}}`))
		ev := w.expect(36)
		if args, kwargs := payload(ev, 4); !jsonEqual(args, []any{"from nats"}) || !jsonEqual(kwargs, map[string]any{"k": int64(1)}) {
			t.Errorf("EVENT %v", ev)
		}
	})
}

// jsonEqual compares two values by their JSON encodings.
func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}
