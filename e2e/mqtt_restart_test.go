package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wsgate/wsgate/protocols/mqtt"
)

// TestMQTTSessionSurvivesRestart: QoS 1 and 2 messages published for an
// offline persistent session are delivered after the gateway process is
// stopped and started again on the same JetStream data, in order, and a
// QoS 2 message that was delivered and completed is not delivered again.
func TestMQTTSessionSurvivesRestart(t *testing.T) {
	long(t)
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
	long(t)
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

// TestMQTTWorkerMessageForOfflineSession follows the README's recipe for
// a NATS service whose message must reach a persistent session that is
// offline: store it in the session stream through JetStream, and publish it
// live marked as stored. An offline session gets it on return; connected
// clients get it once, a clean session live, a persistent one from its
// consumer.
func TestMQTTWorkerMessageForOfflineSession(t *testing.T) {
	long(t)
	g := startGateway(t, gwOpts{})
	nc := natsConn(t, g.NATSURL)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	var expiry mqtt.Properties
	expiry.Has, expiry.SessionExpiry = mqtt.HasSessionExpiry, 300
	persistent := func(id string) *raw {
		r := dialRaw(t, g, mqtt.V5)
		r.connect(&mqtt.Connect{ClientID: id}, expiry)
		r.expect(mqtt.CONNACK)
		return r
	}
	away := persistent("away")
	away.send(&mqtt.Packet{Type: mqtt.SUBSCRIBE, ID: 1, Filters: []mqtt.Filter{{Filter: "cmd/+", QoS: 1}}})
	away.expect(mqtt.SUBACK)
	away.send(&mqtt.Packet{Type: mqtt.DISCONNECT})
	away.closed(5 * time.Second)
	here := persistent("here")
	here.send(&mqtt.Packet{Type: mqtt.SUBSCRIBE, ID: 1, Filters: []mqtt.Filter{{Filter: "cmd/+", QoS: 1}}})
	here.expect(mqtt.SUBACK)
	clean := dialRaw(t, g, mqtt.V5)
	clean.connect(&mqtt.Connect{ClientID: "clean", CleanStart: true}, mqtt.Properties{})
	clean.expect(mqtt.CONNACK)
	clean.send(&mqtt.Packet{Type: mqtt.SUBSCRIBE, ID: 1, Filters: []mqtt.Filter{{Filter: "cmd/+", QoS: 1}}})
	clean.expect(mqtt.SUBACK)

	// The recipe.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	hdr := nats.Header{"Mqtt-Qos": {"1"}}
	if _, err := js.PublishMsg(ctx, &nats.Msg{Subject: "wsgate.mqtt.msgs.cmd.d1", Header: hdr, Data: []byte("reboot")}); err != nil {
		t.Fatal(err)
	}
	live := nats.Header{"Mqtt-Qos": {"1"}, "Mqtt-Stored": {"1"}}
	if err := nc.PublishMsg(&nats.Msg{Subject: "cmd.d1", Header: live, Data: []byte("reboot")}); err != nil {
		t.Fatal(err)
	}

	for name, r := range map[string]*raw{"clean": clean, "persistent": here} {
		p := r.expect(mqtt.PUBLISH)
		if p.Topic != "cmd/d1" || string(p.Payload) != "reboot" || p.QoS != 1 {
			t.Fatalf("%s: got %s %q QoS %d", name, p.Topic, p.Payload, p.QoS)
		}
		r.send(&mqtt.Packet{Type: mqtt.PUBACK, ID: p.ID})
		if extra, err := r.read(300 * time.Millisecond); err == nil {
			t.Fatalf("%s: second copy %s %q", name, extra.Topic, extra.Payload)
		}
	}
	away = persistent("away")
	if p := away.expect(mqtt.PUBLISH); p.Topic != "cmd/d1" || string(p.Payload) != "reboot" {
		t.Fatalf("back: got %s %q", p.Topic, p.Payload)
	}
}
