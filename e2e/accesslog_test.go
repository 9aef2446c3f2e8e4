package e2e

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	"github.com/gorilla/websocket"
	"github.com/nats-io/nats.go"
)

// TestAccessLog checks the access log lines of the real binary: one per
// message of the routes that ask for them, one per connection, in the
// configured field set.
func TestAccessLog(t *testing.T) {
	g := startGateway(t, gwOpts{Config: `
gateway:
  access_log:
    connections: true
    fields: [event, request_id, connection_id, route, status, bytes_in, principal, source_ip, closed_by, integration_latency]
json:
  routes:
    say: {integration: publish, subject: out.x, access_log: true}
    quiet: {integration: publish, subject: out.y}
    ask: {integration: request, subject: svc.echo, access_log: true}
    deny: {integration: publish, subject: "wsgate.x", access_log: true}
`})
	nc := natsConn(t, g.NATSURL)
	if _, err := nc.Subscribe("svc.echo", func(m *nats.Msg) { _ = m.Respond(m.Data) }); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	c := dial(t, g.WS("/"), http.Header{"X-Request-Id": {"req-42"}})
	c.send(`{"action":"say","id":1}`)
	c.expect("published")
	c.send(`{"action":"quiet","id":2}`)
	c.expect("published")
	c.send(`{"action":"ask","id":3}`)
	c.expect("reply")
	c.send(`{"action":"deny","id":4}`)
	c.expect("error")
	_ = c.Conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(1000, "bye"))
	c.closeErr(10 * time.Second)

	want := []map[string]any{
		{"event": "message", "route": "say", "status": "ok", "bytes_in": 23, "source_ip": "127.0.0.1"},
		{"event": "message", "route": "ask", "status": "ok"},
		{"event": "message", "route": "deny", "status": "forbidden"},
		{"event": "connection", "request_id": "req-42", "status": 1000, "closed_by": "client"},
	}
	eventually(t, 10*time.Second, func() error {
		for _, w := range want {
			if !g.hasLog("access", w) {
				return fmt.Errorf("no access line %v", w)
			}
		}
		return nil
	})
	if g.hasLog("access", map[string]any{"route": "quiet"}) {
		t.Error("an access line for a route that did not ask for one")
	}
	if g.hasLog("access", map[string]any{"event": "connection", "user_agent": "Go-http-client/1.1"}) {
		t.Error("a field outside the configured set")
	}
}

// TestAccessLogMQTT: with access_log.messages, a protocol without routes
// gets a line per publish.
func TestAccessLogMQTT(t *testing.T) {
	g := startGateway(t, gwOpts{Config: `
gateway:
  access_log:
    messages: true
    fields: [event, protocol, status, bytes_in]
`})
	c := connectV5(t, g, nil)
	c.publish(t, &paho.Publish{Topic: "sensors/t1", QoS: 1, Payload: []byte("21.5")})
	eventually(t, 10*time.Second, func() error {
		if !g.hasLog("access", map[string]any{"event": "message", "protocol": "mqtt", "status": "ok", "bytes_in": 4}) {
			return fmt.Errorf("no access line for the MQTT publish")
		}
		return nil
	})
}
