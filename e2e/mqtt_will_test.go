package e2e

import (
	"testing"
	"time"

	"github.com/wsgate/wsgate/protocols/mqtt"
)

// TestMQTTWillAcrossGateways: a delayed v5 will is cancelled by the
// client's return to another gateway, and is published — once — by
// another gateway when the one the client was connected to stops.
func TestMQTTWillAcrossGateways(t *testing.T) {
	long(t)
	g1 := startGateway(t, gwOpts{})
	g2 := startGateway(t, gwOpts{NATSURL: g1.NATSURL})
	nc := natsConn(t, g1.NATSURL)
	wills := workerSub(t, nc, "wx.>")
	var sess mqtt.Properties
	sess.Has, sess.SessionExpiry = mqtt.HasSessionExpiry, 60
	connect := func(g *gateway, id, payload string) *raw {
		w := &mqtt.Will{Topic: "wx/" + id, Payload: []byte(payload)}
		w.Props.Has, w.Props.WillDelay = mqtt.HasWillDelay, 2
		r := dialRaw(t, g, mqtt.V5)
		r.connect(&mqtt.Connect{ClientID: id, Will: w}, sess)
		r.expect(mqtt.CONNACK)
		return r
	}
	// Both gateways know the wills bucket once a persistent session has
	// connected to each.
	connect(g2, "warm-up", "").send(&mqtt.Packet{Type: mqtt.DISCONNECT})

	// Gone from g1, back on g2 before the delay: no will from either.
	r := connect(g1, "roamer", "must not be published")
	_ = r.ws.UnderlyingConn().Close()
	time.Sleep(300 * time.Millisecond)
	r = connect(g2, "roamer", "must not be published either")
	if m, err := wills.NextMsg(3 * time.Second); err == nil {
		t.Fatalf("will although the client came back on another gateway: %q", m.Data)
	}
	r.send(&mqtt.Packet{Type: mqtt.DISCONNECT}) // clean: no will
	if m, err := wills.NextMsg(2500 * time.Millisecond); err == nil {
		t.Fatalf("will after a clean DISCONNECT: %q", m.Data)
	}

	// Its gateway stops (the client is closed with 1001, abnormally): the
	// other gateways publish the will after the delay, once.
	g3 := startGateway(t, gwOpts{NATSURL: g1.NATSURL})
	connect(g3, "orphan", "published by another gateway")
	start := time.Now()
	g3.stop()
	m := nextMsg(t, wills)
	if string(m.Data) != "published by another gateway" || m.Subject != "wx.orphan" {
		t.Fatalf("will %s %q", m.Subject, m.Data)
	}
	if d := time.Since(start); d < 1500*time.Millisecond {
		t.Fatalf("will after %s, before its delay", d)
	}
	if m.Header.Get("Wsgate-Protocol") != "mqtt" {
		t.Fatalf("will headers %v", m.Header)
	}
	if m, err := wills.NextMsg(2 * time.Second); err == nil {
		t.Fatalf("will published twice: %q", m.Data)
	}
}
