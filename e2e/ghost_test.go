package e2e

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/wsgate/wsgate/protocols/mqtt"
)

// ghostConfig is the config of the gateways of TestGatewayKilled: a short
// ghost timeout and a $disconnect route.
const ghostConfig = `
gateway:
  ghost_timeout: 2s
json:
  routes:
    $disconnect:
      integration: publish
      subject: "lost.{connectionId}"
`

// TestGatewayKilled: a gateway is SIGKILLed with a JSON connection, MQTT
// connections with an immediate and a delayed will and a persistent MQTT
// session on it. Within about 1.67 x gateway.ghost_timeout the other
// gateway on the same NATS publishes the JSON connection's disconnect
// event and runs its $disconnect route, once each, and fires the
// immediate will once; the delayed will's client comes back to the
// other gateway in time, so it is never published; the persistent
// session resumes there with the messages queued meanwhile.
func TestGatewayKilled(t *testing.T) {
	long(t)
	g1 := startGateway(t, gwOpts{Config: ghostConfig})
	g2 := startGateway(t, gwOpts{Config: ghostConfig, NATSURL: g1.NATSURL})
	nc := natsConn(t, g1.NATSURL)
	events := workerSub(t, nc, "wsgate.events.disconnect")
	routes := workerSub(t, nc, "lost.>")
	wills := workerSub(t, nc, "wx.>")

	connects := workerSub(t, nc, "wsgate.events.connect")
	dial(t, g2.WS("/"), nil)
	var jsInfo connInfo
	if err := json.Unmarshal(nextMsg(t, connects).Data, &jsInfo); err != nil {
		t.Fatal(err)
	}
	jsID := jsInfo.ConnectionID

	willConn := func(id string, delay uint32) *raw {
		w := &mqtt.Will{Topic: "wx/" + id, Payload: []byte("will of " + id)}
		if delay > 0 {
			w.Props.Has, w.Props.WillDelay = mqtt.HasWillDelay, delay
		}
		r := dialRaw(t, g2, mqtt.V5)
		r.connect(&mqtt.Connect{ClientID: id, Will: w}, withExpiry(60))
		if ack := r.expect(mqtt.CONNACK); ack.Reason != 0 {
			t.Fatalf("CONNACK 0x%02x", ack.Reason)
		}
		return r
	}
	willConn("sudden", 0)
	willConn("roamer", 4)
	persistentSub(t, g2, "keeper", "kept/#", withExpiry(60))
	// The records are written without waiting: give them a moment.
	time.Sleep(500 * time.Millisecond)

	if err := g2.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-g2.exited
	killed := time.Now()

	// The roaming client is back at once, on the other gateway.
	back, _ := resume(t, g1, "roamer", withExpiry(60))
	// The persistent session keeps what is published at QoS 1 while it
	// is away.
	connectV5(t, g1, nil).publish(t, &paho.Publish{Topic: "kept/1", QoS: 1, Payload: []byte("while away")})

	m, info := nextEvent(t, events, jsID)
	took := time.Since(killed)
	if info.CloseCode != 1006 || info.ClosedBy != "error" || info.Gateway != g2.ID ||
		m.Header.Get("Wsgate-Close-Code") != "1006" || m.Header.Get("Wsgate-Gateway") != g2.ID {
		t.Errorf("disconnect event %v %s", m.Header, m.Data)
	}
	t.Logf("disconnect event %v after the SIGKILL (ghost_timeout 2s)", took.Round(10*time.Millisecond))
	if took > 8*time.Second {
		t.Errorf("ghost noticed after %v", took)
	}
	r := nextMsg(t, routes)
	var rinfo connInfo
	_ = json.Unmarshal(r.Data, &rinfo)
	if r.Subject != "lost."+jsID || rinfo.ConnectionID != jsID || r.Header.Get("Wsgate-Route") != "$disconnect" ||
		r.Header.Get("Wsgate-Event") != "DISCONNECT" {
		t.Errorf("$disconnect %s %v %s", r.Subject, r.Header, r.Data)
	}
	w := nextMsg(t, wills)
	if w.Subject != "wx.sudden" || string(w.Data) != "will of sudden" || w.Header.Get("Wsgate-Protocol") != "mqtt" {
		t.Errorf("will %s %v %q", w.Subject, w.Header, w.Data)
	}

	// Once each: nothing more within the roaming will's delay and more.
	deadline := time.Now().Add(6 * time.Second)
	for time.Now().Before(deadline) {
		if m, err := routes.NextMsg(100 * time.Millisecond); err == nil {
			t.Errorf("second $disconnect %s", m.Data)
		}
		if m, err := wills.NextMsg(100 * time.Millisecond); err == nil {
			t.Errorf("will published again or although its client came back: %s %q", m.Subject, m.Data)
		}
	}
	for {
		m, err := events.NextMsg(100 * time.Millisecond)
		if err != nil {
			break
		}
		var e connInfo
		_ = json.Unmarshal(m.Data, &e)
		if e.ConnectionID == jsID {
			t.Errorf("second disconnect event for %s", jsID)
		}
	}

	keeper, present := resume(t, g1, "keeper", withExpiry(60))
	if !present {
		t.Fatal("the persistent session did not survive its gateway")
	}
	keeper.expectPublish("kept/1", "while away")
	back.bye(mqtt.Properties{})
	keeper.bye(mqtt.Properties{})
}
