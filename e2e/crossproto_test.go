package e2e

import (
	"encoding/json"
	"testing"

	"github.com/eclipse/paho.golang/paho"
	"github.com/go-stomp/stomp/v3"
)

// TestCrossProtocol puts a JSON client, a STOMP client, an MQTT 5 client and
// a NATS worker on one subject: whatever one of them publishes, every other
// one receives, each in its own protocol.
func TestCrossProtocol(t *testing.T) {
	g := startGateway(t, gwOpts{})
	nc := natsConn(t, g.NATSURL)
	worker, _ := nc.SubscribeSync("chat.cross")
	nc.Flush()

	js := dial(t, g.WS("/"), nil)
	js.subscribe("chat.cross")

	sc := dialSTOMP(t, g)
	stompSub, err := sc.Subscribe("/topic/chat.cross", stomp.AckAuto)
	if err != nil {
		t.Fatal(err)
	}
	stompBarrier(t, nc, sc)

	mq := connectV5(t, g, nil)
	mq.subscribe(t, paho.SubscribeOptions{Topic: "chat/cross", QoS: 0})

	jsonData := func(t *testing.T) string {
		t.Helper()
		f := js.expect("message")
		var s string
		if json.Unmarshal(f.Data, &s) != nil || f.Subject != "chat.cross" {
			t.Fatalf("JSON client got %+v", f)
		}
		return s
	}
	check := func(t *testing.T, want string, skip string) {
		t.Helper()
		if m := nextMsg(t, worker); string(m.Data) != want {
			t.Errorf("NATS worker got %q", m.Data)
		}
		if skip != "json" {
			if got := jsonData(t); got != want {
				t.Errorf("JSON client got %q", got)
			}
		}
		if skip != "stomp" {
			m := nextSTOMP(t, stompSub)
			if string(m.Body) != want || m.Destination != "/topic/chat.cross" {
				t.Errorf("STOMP client got %q on %s", m.Body, m.Destination)
			}
		}
		if skip != "mqtt" {
			p := mq.next(t)
			if string(p.Payload) != want || p.Topic != "chat/cross" {
				t.Errorf("MQTT client got %q on %s", p.Payload, p.Topic)
			}
		}
	}

	t.Run("STOMP SEND reaches MQTT, JSON and NATS", func(t *testing.T) {
		if err := sc.Send("/topic/chat.cross", "text/plain", []byte("from stomp")); err != nil {
			t.Fatal(err)
		}
		check(t, "from stomp", "stomp")
		m := nextSTOMP(t, stompSub) // STOMP subscribers get their own SENDs too
		if string(m.Body) != "from stomp" {
			t.Errorf("STOMP echo %q", m.Body)
		}
	})
	t.Run("MQTT PUBLISH reaches STOMP, JSON and NATS", func(t *testing.T) {
		mq.publish(t, &paho.Publish{Topic: "chat/cross", QoS: 1, Payload: []byte("from mqtt")})
		check(t, "from mqtt", "mqtt")
		if p := mq.next(t); string(p.Payload) != "from mqtt" {
			t.Errorf("MQTT echo %q", p.Payload)
		}
	})
	t.Run("JSON publish reaches STOMP, MQTT and NATS", func(t *testing.T) {
		js.send(`{"action":"publish","subject":"chat.cross","data":"from json"}`)
		check(t, "from json", "")
	})
	t.Run("NATS publish reaches every client", func(t *testing.T) {
		if err := nc.Publish("chat.cross", []byte("from nats")); err != nil {
			t.Fatal(err)
		}
		check(t, "from nats", "")
	})
}
