package e2e

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	"github.com/nats-io/nats.go/jetstream"

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

// sessionStore reads what JetStream keeps for MQTT sessions on a
// gateway's NATS (the default stream and bucket names).
type sessionStore struct {
	t  *testing.T
	js jetstream.JetStream
}

func newSessionStore(t *testing.T, g *gateway) *sessionStore {
	js, err := jetstream.New(natsConn(t, g.NATSURL))
	if err != nil {
		t.Fatal(err)
	}
	return &sessionStore{t: t, js: js}
}

// held describes what is kept: the session stream's consumers and
// messages and the sessions bucket's keys.
func (s *sessionStore) held() string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var consumers int
	var msgs uint64
	if st, err := s.js.Stream(ctx, "WSGATE_MQTT_MSGS"); err == nil {
		info, err := st.Info(ctx)
		if err != nil {
			s.t.Fatal(err)
		}
		consumers, msgs = info.State.Consumers, info.State.Msgs
	} else if !errors.Is(err, jetstream.ErrStreamNotFound) {
		s.t.Fatal(err)
	}
	var keys []string
	if kv, err := s.js.KeyValue(ctx, "wsgate_mqtt_sessions"); err == nil {
		keys, err = kv.Keys(ctx)
		if err != nil && !errors.Is(err, jetstream.ErrNoKeysFound) {
			s.t.Fatal(err)
		}
	} else if !errors.Is(err, jetstream.ErrBucketNotFound) {
		s.t.Fatal(err)
	}
	return fmt.Sprintf("%d consumers, %d messages, sessions %v", consumers, msgs, keys)
}

// empty waits until nothing is kept.
func (s *sessionStore) empty(timeout time.Duration) {
	s.t.Helper()
	eventually(s.t, timeout, func() error {
		if h := s.held(); h != "0 consumers, 0 messages, sessions []" {
			return errors.New(h)
		}
		return nil
	})
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

// TestMQTTSessionResumeWithoutExpiry: Clean Start 0 without a Session
// Expiry Interval resumes a stored session [MQTT-3.1.2-5] with Session
// Present 1 [MQTT-3.2.2-3] — subscriptions and queued messages — and the
// session then ends with that connection (§3.1.2.11.2), in JetStream
// too. A DISCONNECT may not give such a connection an expiry (§3.14.2.2.2).
func TestMQTTSessionResumeWithoutExpiry(t *testing.T) {
	long(t)
	g := startGateway(t, gwOpts{})
	store := newSessionStore(t, g)
	pub := connectV5(t, g, nil)

	persistentSub(t, g, "zero", "z/#", withExpiry(60)).bye(mqtt.Properties{})
	pub.publish(t, &paho.Publish{Topic: "z/queued", QoS: 1, Payload: []byte("q")})

	r, present := resume(t, g, "zero", mqtt.Properties{})
	if !present {
		t.Fatal("Session Present 0: the stored session was not resumed")
	}
	r.expectPublish("z/queued", "q")
	pub.publish(t, &paho.Publish{Topic: "z/live", QoS: 1, Payload: []byte("l")})
	r.expectPublish("z/live", "l")
	r.bye(mqtt.Properties{})

	store.empty(5 * time.Second)
	r, present = resume(t, g, "zero", mqtt.Properties{})
	if present {
		t.Fatal("Session Present 1 after a session without expiry ended")
	}
	pub.publish(t, &paho.Publish{Topic: "z/after", QoS: 1, Payload: []byte("a")})
	if p, err := r.read(300 * time.Millisecond); err == nil {
		t.Fatalf("delivered after the session ended: %s", p.Topic)
	}

	// Connected with expiry 0, a DISCONNECT that sets one is a protocol error.
	r.send(&mqtt.Packet{Type: mqtt.DISCONNECT, Props: withExpiry(30)})
	if d := r.expect(mqtt.DISCONNECT); d.Reason != 0x82 {
		t.Fatalf("DISCONNECT 0x%02x, want 0x82", d.Reason)
	}
}

// TestMQTTSessionExpiry: a session is present while its Session Expiry
// Interval runs and absent once it has passed, and JetStream keeps
// nothing of it (consumers, stored messages, the session) without anyone
// coming back. A resume before the expiry keeps the session whole, even
// after the time the previous disconnect would have ended it.
func TestMQTTSessionExpiry(t *testing.T) {
	long(t)
	g := startGateway(t, gwOpts{})
	store := newSessionStore(t, g)
	pub := connectV5(t, g, nil)
	const expiry = 2 * time.Second

	persistentSub(t, g, "fleeting", "e/#", withExpiry(2)).bye(mqtt.Properties{})
	gone := time.Now()
	pub.publish(t, &paho.Publish{Topic: "e/1", QoS: 1, Payload: []byte("1")})
	r, present := resume(t, g, "fleeting", withExpiry(2))
	if !present {
		t.Fatal("Session Present 0 within the expiry")
	}
	r.expectPublish("e/1", "1")
	// Connected past the first disconnect's expiry: nothing is lost.
	time.Sleep(time.Until(gone.Add(expiry + 500*time.Millisecond)))
	pub.publish(t, &paho.Publish{Topic: "e/2", QoS: 1, Payload: []byte("2")})
	r.expectPublish("e/2", "2")
	r.bye(mqtt.Properties{})
	r, present = resume(t, g, "fleeting", withExpiry(2))
	if !present {
		t.Fatal("Session Present 0 after a resume within the expiry")
	}
	r.bye(mqtt.Properties{})

	// Offline, with a message waiting; nobody comes back.
	pub.publish(t, &paho.Publish{Topic: "e/3", QoS: 1, Payload: []byte("3")})
	if h := store.held(); h == "0 consumers, 0 messages, sessions []" {
		t.Fatal("nothing kept for an offline session")
	}
	store.empty(expiry + 3*time.Second)
	r, present = resume(t, g, "fleeting", withExpiry(2))
	if present {
		t.Fatal("Session Present 1 after the session expired")
	}
	if p, err := r.read(300 * time.Millisecond); err == nil {
		t.Fatalf("delivered from an expired session: %s", p.Topic)
	}
}

// TestMQTTSessionExpiryAcrossGateways: a session whose gateway has stopped
// is ended on time by another gateway on the same NATS, and a client that
// comes back to any gateway after the expiry finds none.
func TestMQTTSessionExpiryAcrossGateways(t *testing.T) {
	long(t)
	g1 := startGateway(t, gwOpts{})
	g2 := startGateway(t, gwOpts{NATSURL: g1.NATSURL})
	store := newSessionStore(t, g1)
	// g1 has opened the session store once a client id has connected.
	w, _ := resume(t, g1, "warm-up", mqtt.Properties{})
	w.bye(mqtt.Properties{})

	persistentSub(t, g2, "orphan", "o/#", withExpiry(2))
	g2.stop() // the client is closed with the gateway
	pub := connectV5(t, g1, nil)
	pub.publish(t, &paho.Publish{Topic: "o/1", QoS: 1, Payload: []byte("1")})
	store.empty(2*time.Second + 3*time.Second)
	if _, present := resume(t, g1, "orphan", withExpiry(2)); present {
		t.Fatal("Session Present 1 after the session expired")
	}
}

// TestMQTTSessionExpiryChangedAtDisconnect: a DISCONNECT's Session Expiry
// Interval replaces the CONNECT's (§3.14.2.2.2).
func TestMQTTSessionExpiryChangedAtDisconnect(t *testing.T) {
	long(t)
	g := startGateway(t, gwOpts{})
	store := newSessionStore(t, g)

	// Shortened to 0: the session ends with the connection.
	persistentSub(t, g, "short", "s/#", withExpiry(600)).bye(withExpiry(0))
	store.empty(3 * time.Second)
	if _, present := resume(t, g, "short", withExpiry(600)); present {
		t.Fatal("Session Present 1 after DISCONNECT set the expiry to 0")
	}

	// Lengthened: present after the CONNECT's expiry.
	persistentSub(t, g, "long", "l/#", withExpiry(1)).bye(withExpiry(600))
	time.Sleep(2 * time.Second)
	r, present := resume(t, g, "long", withExpiry(600))
	if !present {
		t.Fatal("Session Present 0 although DISCONNECT lengthened the expiry")
	}
	r.send(&mqtt.Packet{Type: mqtt.PINGREQ})
	r.expect(mqtt.PINGRESP)
}

// TestMQTTMessageExpiry: a message queued for an offline session is dropped
// once its Message Expiry Interval has passed [MQTT-3.3.2-5], and one
// delivered later carries what is left of its interval [MQTT-3.3.2-6].
func TestMQTTMessageExpiry(t *testing.T) {
	long(t)
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
