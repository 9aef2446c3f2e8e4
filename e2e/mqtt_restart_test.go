package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/wsgate/wsgate/protocols/mqtt"
)

// TestMQTTSessionSurvivesRestart: QoS 1 and 2 messages published for an
// offline persistent session are delivered after the gateway process is
// stopped and started again on the same JetStream data, in order, and a
// QoS 2 message that was delivered and completed is not delivered again.
func TestMQTTSessionSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	g := startGateway(t, gwOpts{DataDir: dir})
	var expiry mqtt.Properties
	expiry.Has = mqtt.HasSessionExpiry
	expiry.SessionExpiry = 600

	r := dialRaw(t, g, mqtt.V5)
	r.connect(&mqtt.Connect{ClientID: "survivor"}, expiry)
	r.expect(mqtt.CONNACK)
	r.send(&mqtt.Packet{Type: mqtt.SUBSCRIBE, ID: 1, Filters: []mqtt.Filter{{Filter: "rs/#", QoS: 2}}})
	r.expect(mqtt.SUBACK)

	pub := connectV5(t, g, nil)
	// One QoS 2 message delivered and completed while connected.
	pub.publish(t, &paho.Publish{Topic: "rs/done", QoS: 2, Payload: []byte("done")})
	p := r.expect(mqtt.PUBLISH)
	if p.Topic != "rs/done" || p.QoS != 2 {
		t.Fatalf("got %s QoS %d", p.Topic, p.QoS)
	}
	r.send(&mqtt.Packet{Type: mqtt.PUBREC, ID: p.ID})
	r.expect(mqtt.PUBREL)
	r.send(&mqtt.Packet{Type: mqtt.PUBCOMP, ID: p.ID})
	r.send(&mqtt.Packet{Type: mqtt.DISCONNECT})
	r.closed(5 * time.Second)

	// Offline: QoS 1 and 2 messages wait in JetStream.
	want := []string{}
	for i, qos := range []byte{1, 2, 1, 2} {
		payload := fmt.Sprintf("m%d", i)
		pub.publish(t, &paho.Publish{Topic: "rs/off", QoS: qos, Payload: []byte(payload)})
		want = append(want, payload)
	}
	g.stop()

	g2 := startGateway(t, gwOpts{DataDir: dir})
	r = dialRaw(t, g2, mqtt.V5)
	r.connect(&mqtt.Connect{ClientID: "survivor"}, expiry)
	if ack := r.expect(mqtt.CONNACK); !ack.SessionPresent {
		t.Fatal("session not present after the restart")
	}
	// Several messages may be in flight at once (Receive Maximum), so
	// PUBLISH and PUBREL packets interleave.
	var got []string
	pending := 0 // QoS 2 handshakes not completed
	for len(got) < len(want) || pending > 0 {
		p, err := r.read(10 * time.Second)
		if err != nil {
			t.Fatalf("after %v: %v", got, err)
		}
		switch p.Type {
		case mqtt.PUBLISH:
			if p.Topic != "rs/off" {
				t.Fatalf("after the restart got %s:%s (a completed QoS 2 message again?)", p.Topic, p.Payload)
			}
			got = append(got, string(p.Payload))
			if p.QoS == 1 {
				r.send(&mqtt.Packet{Type: mqtt.PUBACK, ID: p.ID})
			} else {
				pending++
				r.send(&mqtt.Packet{Type: mqtt.PUBREC, ID: p.ID})
			}
		case mqtt.PUBREL:
			pending--
			r.send(&mqtt.Packet{Type: mqtt.PUBCOMP, ID: p.ID})
		default:
			t.Fatalf("unexpected packet type %d", p.Type)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if extra, err := r.read(500 * time.Millisecond); err == nil {
		t.Fatalf("delivered twice: %s:%s", extra.Topic, extra.Payload)
	}
}

// TestMQTTPubrelSurvivesRestart: a 3.1.1 persistent session that received a
// QoS 2 message (PUBREC sent) and went before PUBCOMP gets the PUBREL
// again after a gateway restart [MQTT-4.4.0-1], the message is not
// delivered again, and its packet id is not reused while unreleased.
func TestMQTTPubrelSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	g := startGateway(t, gwOpts{DataDir: dir})
	r := dialRaw(t, g, mqtt.V311)
	r.connect(&mqtt.Connect{ClientID: "half-done"}, mqtt.Properties{}) // Clean Session 0
	r.expect(mqtt.CONNACK)
	r.send(&mqtt.Packet{Type: mqtt.SUBSCRIBE, ID: 1, Filters: []mqtt.Filter{{Filter: "rel/#", QoS: 2}}})
	r.expect(mqtt.SUBACK)

	pub := connectV5(t, g, nil)
	pub.publish(t, &paho.Publish{Topic: "rel/a", QoS: 2, Payload: []byte("once")})
	p := r.expect(mqtt.PUBLISH)
	held := p.ID
	r.send(&mqtt.Packet{Type: mqtt.PUBREC, ID: held})
	r.expect(mqtt.PUBREL)
	// Gone without PUBCOMP.
	_ = r.ws.Close()
	time.Sleep(300 * time.Millisecond) // the asynchronous session save
	g.stop()

	g2 := startGateway(t, gwOpts{DataDir: dir})
	r = dialRaw(t, g2, mqtt.V311)
	r.connect(&mqtt.Connect{ClientID: "half-done"}, mqtt.Properties{})
	if ack := r.expect(mqtt.CONNACK); !ack.SessionPresent {
		t.Fatal("session not present after the restart")
	}
	if rel := r.expect(mqtt.PUBREL); rel.ID != held {
		t.Fatalf("PUBREL %d, want %d", rel.ID, held)
	}
	// While the id is unreleased, a new message takes another one.
	pub2 := connectV5(t, g2, nil)
	pub2.publish(t, &paho.Publish{Topic: "rel/b", QoS: 2, Payload: []byte("next")})
	n := r.expect(mqtt.PUBLISH)
	if n.Topic != "rel/b" || n.ID == held {
		t.Fatalf("got %s with id %d (held %d)", n.Topic, n.ID, held)
	}
	r.send(&mqtt.Packet{Type: mqtt.PUBCOMP, ID: held})
	r.send(&mqtt.Packet{Type: mqtt.PUBREC, ID: n.ID})
	r.expect(mqtt.PUBREL)
	r.send(&mqtt.Packet{Type: mqtt.PUBCOMP, ID: n.ID})
	if extra, err := r.read(500 * time.Millisecond); err == nil {
		t.Fatalf("unexpected packet type %d %s:%s", extra.Type, extra.Topic, extra.Payload)
	}

	// Completed: a later resume has nothing to release.
	time.Sleep(300 * time.Millisecond)
	_ = r.ws.Close()
	r = dialRaw(t, g2, mqtt.V311)
	r.connect(&mqtt.Connect{ClientID: "half-done"}, mqtt.Properties{})
	r.expect(mqtt.CONNACK)
	if extra, err := r.read(500 * time.Millisecond); err == nil {
		t.Fatalf("after completion: packet type %d id %d", extra.Type, extra.ID)
	}
}
