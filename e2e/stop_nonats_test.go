package e2e

import (
	"testing"
	"time"

	"github.com/wsgate/wsgate/protocols/mqtt"
)

// TestGatewayStopsWithoutNATS: a gateway whose NATS has gone (every node
// down) still stops on SIGTERM within its shutdown timeout, with MQTT
// persistent sessions, STOMP clients (one of them waiting for JetStream)
// and a JSON client connected.
func TestGatewayStopsWithoutNATS(t *testing.T) {
	long(t)
	nats, url := startNATSServer(t)
	g := startGateway(t, gwOpts{NATSURL: url, Config: `
gateway:
  shutdown_timeout: 5s
stomp:
  durable_queues: ["/queue/q"]
`})
	for _, id := range []string{"p1", "p2"} {
		r := persistentSub(t, g, id, "x/"+id, withExpiry(60))
		r.send(&mqtt.Packet{Type: mqtt.PUBLISH, QoS: 1, ID: 7, Topic: "y/" + id, Payload: []byte("hi")})
		r.expect(mqtt.PUBACK)
	}
	// The durable queue's stream exists: a later SUBSCRIBE only asks
	// JetStream for its consumer.
	r := dialStompRaw(t, g, "/stomp", "v12.stomp")
	r.connect("accept-version:1.2", "host:/")
	r.send("SUBSCRIBE\nid:1\ndestination:/queue/q\nreceipt:1\n\n\x00")
	r.expect("RECEIPT")
	dial(t, g.WS("/"), nil)

	nats.kill(t)
	// A SUBSCRIBE now waits for a NATS that has gone (stomp.request_timeout,
	// 30 s) on the connection's reader.
	r2 := dialStompRaw(t, g, "/stomp", "v12.stomp")
	r2.connect("accept-version:1.2", "host:/")
	r2.send("SUBSCRIBE\nid:1\ndestination:/queue/q\n\n\x00")
	time.Sleep(500 * time.Millisecond)
	start := time.Now()
	g.stop() // fails the test unless it exits 0 within 20 s
	t.Logf("stopped %s after SIGTERM with NATS gone", time.Since(start).Round(10*time.Millisecond))
	if d := time.Since(start); d > 12*time.Second {
		t.Errorf("stopping took %s with shutdown_timeout 5s\n%s", d, g.logText())
	}
}
