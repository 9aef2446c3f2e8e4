package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	"github.com/go-stomp/stomp/v3"
	"github.com/gorilla/websocket"
)

// sioRaw is a raw Socket.IO client over a WebSocket, in the main namespace.
type sioRaw struct {
	t  *testing.T
	ws *websocket.Conn
}

func dialSocketIO(t *testing.T, g *gateway) *sioRaw {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial(g.WS("/socket.io/?EIO=4&transport=websocket"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	c := &sioRaw{t: t, ws: ws}
	if open := c.next(); !strings.HasPrefix(open, "0{") {
		t.Fatalf("open packet %q", open)
	}
	c.send("40")
	if got := c.next(); !strings.HasPrefix(got, `40{"sid":`) {
		t.Fatalf("CONNECT answer %q", got)
	}
	return c
}

func (c *sioRaw) send(s string) {
	c.t.Helper()
	if err := c.ws.WriteMessage(websocket.TextMessage, []byte(s)); err != nil {
		c.t.Fatal(err)
	}
}

// next reads the next packet, answering pings.
func (c *sioRaw) next() string {
	c.t.Helper()
	for {
		_ = c.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, b, err := c.ws.ReadMessage()
		if err != nil {
			c.t.Fatalf("read: %v", err)
		}
		if string(b) == "2" {
			c.send("3")
			continue
		}
		return string(b)
	}
}

// TestSocketIOCrossProtocol: a Socket.IO emit reaches MQTT and STOMP
// subscribers of its subject, and what MQTT and STOMP clients publish on
// a room's subject reaches the Socket.IO client in the room.
func TestSocketIOCrossProtocol(t *testing.T) {
	g := startGateway(t, gwOpts{Config: `
socketio:
  routes:
    join: {integration: join}
`})
	sio := dialSocketIO(t, g)
	sio.send(`421["join","lobby"]`)
	if got := sio.next(); got != `431[]` {
		t.Fatalf("join %q", got)
	}
	mq := connectV5(t, g, nil)
	mq.subscribe(t, paho.SubscribeOptions{Topic: "sio/_/chat", QoS: 0})
	sc := dialSTOMP(t, g)
	sub, err := sc.Subscribe("/topic/sio._.chat", stomp.AckAuto)
	if err != nil {
		t.Fatal(err)
	}
	// A STOMP receipt promises the subscription before the emit.
	if err := sc.Send("/topic/e2e.barrier", "", []byte("b"), stomp.SendOpt.Receipt); err != nil {
		t.Fatal(err)
	}

	sio.send(`42["chat",{"text":"hi"}]`)
	if p := mq.next(t); p.Topic != "sio/_/chat" || string(p.Payload) != `{"text":"hi"}` {
		t.Fatalf("MQTT got %s %q", p.Topic, p.Payload)
	}
	select {
	case m := <-sub.C:
		if m.Err != nil || string(m.Body) != `{"text":"hi"}` || m.Header.Get("Socketio-Event") != "chat" {
			t.Fatalf("STOMP got %v %q", m.Err, m.Body)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("STOMP got nothing")
	}

	mq.publish(t, &paho.Publish{Topic: "sio-room/_/lobby", Payload: []byte(`{"from":"mqtt"}`)})
	if got := sio.next(); got != `42["message",{"from":"mqtt"}]` {
		t.Fatalf("from MQTT %q", got)
	}
	if err := sc.Send("/topic/sio-room._.lobby", "text/plain", []byte("from stomp")); err != nil {
		t.Fatal(err)
	}
	if got := sio.next(); got != `42["message","from stomp"]` {
		t.Fatalf("from STOMP %q", got)
	}
}
