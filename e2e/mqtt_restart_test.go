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
