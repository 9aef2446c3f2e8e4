package e2e

import (
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/wsgate/wsgate/protocols/mqtt"
)

// MQTT 5 session and message expiry: Clean Start 0 resumes a session
// whatever the Session Expiry Interval, a session ends when its interval
// has passed after its connection (on any gateway, with what JetStream
// kept for it), and a stored message is dropped when its Message Expiry
// Interval has passed and otherwise delivered with what is left of it.

// withExpiry is CONNECT (or DISCONNECT) properties with a Session Expiry
// Interval of s seconds.
func withExpiry(s uint32) mqtt.Properties {
	var p mqtt.Properties
	p.Has, p.SessionExpiry = mqtt.HasSessionExpiry, s
	return p
}

// persistentSub connects id with CONNECT properties props, subscribes to
// filter at QoS 1 and returns the connection.
func persistentSub(t *testing.T, g *gateway, id, filter string, props mqtt.Properties) *raw {
	t.Helper()
	r := dialRaw(t, g, mqtt.V5)
	r.connect(&mqtt.Connect{ClientID: id, CleanStart: true}, props)
	if ack := r.expect(mqtt.CONNACK); ack.Reason != 0 {
		t.Fatalf("CONNACK 0x%02x", ack.Reason)
	}
	r.send(&mqtt.Packet{Type: mqtt.SUBSCRIBE, ID: 1, Filters: []mqtt.Filter{{Filter: filter, QoS: 1}}})
	r.expect(mqtt.SUBACK)
	return r
}

// bye sends DISCONNECT (with props) and waits for the connection to end.
func (r *raw) bye(props mqtt.Properties) {
	r.t.Helper()
	r.send(&mqtt.Packet{Type: mqtt.DISCONNECT, Props: props})
	r.closed(5 * time.Second)
}

// resume connects id with Clean Start 0 and props and returns the
// connection and CONNACK's Session Present.
func resume(t *testing.T, g *gateway, id string, props mqtt.Properties) (*raw, bool) {
	t.Helper()
	r := dialRaw(t, g, mqtt.V5)
	r.connect(&mqtt.Connect{ClientID: id}, props)
	ack := r.expect(mqtt.CONNACK)
	if ack.Reason != 0 {
		t.Fatalf("CONNACK 0x%02x", ack.Reason)
	}
	return r, ack.SessionPresent
}

// expectPublish reads a PUBLISH on topic with payload and acknowledges it.
func (r *raw) expectPublish(topic, payload string) *mqtt.Packet {
	r.t.Helper()
	p := r.expect(mqtt.PUBLISH)
	if p.Topic != topic || string(p.Payload) != payload {
		r.t.Fatalf("got %s %q, want %s %q", p.Topic, p.Payload, topic, payload)
	}
	if p.QoS > 0 {
		r.send(&mqtt.Packet{Type: mqtt.PUBACK, ID: p.ID})
	}
	return p
}

// TestMQTTMessageExpiry: a message queued for an offline session is dropped
// once its Message Expiry Interval has passed [MQTT-3.3.2-5], and one
// delivered later carries what is left of its interval [MQTT-3.3.2-6].
func TestMQTTMessageExpiry(t *testing.T) {
	g := startGateway(t, gwOpts{})
	pub := connectV5(t, g, nil)
	persistentSub(t, g, "patient", "mx/#", withExpiry(60)).bye(mqtt.Properties{})
	for _, m := range []struct {
		topic  string
		expiry uint32
	}{{"mx/short", 1}, {"mx/long", 6}, {"mx/none", 0}} {
		p := &paho.Publish{Topic: m.topic, QoS: 1, Payload: []byte(m.topic)}
		if m.expiry > 0 {
			p.Properties = &paho.PublishProperties{MessageExpiry: &m.expiry}
		}
		pub.publish(t, p)
	}
	time.Sleep(3 * time.Second) // offline

	r, present := resume(t, g, "patient", withExpiry(60))
	if !present {
		t.Fatal("session not present")
	}
	long := r.expectPublish("mx/long", "mx/long") // not mx/short: expired
	if long.Props.Has&mqtt.HasMessageExpiry == 0 || long.Props.MessageExpiry == 0 || long.Props.MessageExpiry > 3 {
		t.Fatalf("mx/long: Message Expiry Interval %d (present %v), want 6 less the 3 s it waited",
			long.Props.MessageExpiry, long.Props.Has&mqtt.HasMessageExpiry != 0)
	}
	none := r.expectPublish("mx/none", "mx/none")
	if none.Props.Has&mqtt.HasMessageExpiry != 0 {
		t.Fatalf("mx/none: Message Expiry Interval %d", none.Props.MessageExpiry)
	}
	if p, err := r.read(300 * time.Millisecond); err == nil {
		t.Fatalf("unexpected packet type %d %s", p.Type, p.Topic)
	}
}
