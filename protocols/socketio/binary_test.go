package socketio

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/nats-io/nats.go"

	"github.com/wsgate/wsgate/bridge"
)

func (c *client) sendBinary(b []byte) {
	c.t.Helper()
	if err := c.ws.WriteMessage(websocket.BinaryMessage, b); err != nil {
		c.t.Fatal(err)
	}
}

// nextBinary reads the next message, which must be binary.
func (c *client) nextBinary() []byte {
	c.t.Helper()
	typ, b, err := c.ws.ReadMessage()
	if err != nil || typ != websocket.BinaryMessage {
		c.t.Fatalf("binary read: %d %q %v", typ, b, err)
	}
	return b
}

func TestBinary(t *testing.T) {
	e := newEnv(t, Config{Routes: map[string]RouteConfig{"join": {Integration: "join"}}}, nil)
	w := e.worker()
	c := e.connect(t, "/", "")

	// One attachment as the one argument: the bytes themselves.
	up := sub(t, w, "sio._.upload")
	c.send(`451-["upload",{"_placeholder":true,"num":0}]`)
	c.sendBinary([]byte{0, 1, 0xff})
	m := recv(t, up)
	if !bytes.Equal(m.Data, []byte{0, 1, 0xff}) || m.Header.Get(HeaderBinary) != "true" {
		t.Fatalf("upload %q %v", m.Data, m.Header)
	}
	// Nested attachments: base64 strings in the JSON arguments.
	pair := sub(t, w, "sio._.pair")
	c.send(`452-["pair",{"a":{"_placeholder":true,"num":1}},{"_placeholder":true,"num":0}]`)
	c.sendBinary([]byte("x"))
	c.sendBinary([]byte("yz"))
	if m := recv(t, pair); string(m.Data) != `[{"a":"eXo="},"eA=="]` || m.Header.Get(HeaderSpread) != "true" {
		t.Fatalf("pair %q %v", m.Data, m.Header)
	}

	// A binary message to a room is a BINARY_EVENT and its attachment.
	c.send(`421["join","r"]`)
	if got := c.next(); got != `431[]` {
		t.Fatalf("join %q", got)
	}
	msg := nats.NewMsg("sio-room._.r")
	msg.Header.Set(HeaderEvent, "blob")
	msg.Header.Set(HeaderBinary, "true") // valid UTF-8, binary all the same
	msg.Data = []byte{0xde, 0xad}
	w.PublishMsg(msg)
	if got := c.next(); got != `451-["blob",{"_placeholder":true,"num":0}]` {
		t.Fatalf("binary event %q", got)
	}
	if b := c.nextBinary(); !bytes.Equal(b, []byte{0xde, 0xad}) {
		t.Fatalf("attachment %x", b)
	}
	// A binary reply is a BINARY_ACK.
	s, _ := w.Subscribe("sio._.get", func(m *nats.Msg) { m.Respond([]byte{0xca, 0xfe}) })
	defer s.Unsubscribe()
	w.Flush()
	c.send(`427["get"]`)
	if got := c.next(); got != `461-7[{"_placeholder":true,"num":0}]` {
		t.Fatalf("binary ack %q", got)
	}
	if b := c.nextBinary(); !bytes.Equal(b, []byte{0xca, 0xfe}) {
		t.Fatalf("ack attachment %x", b)
	}

	// A worker's emit answered with a BINARY_ACK gets the bytes.
	var o struct{ SID string }
	_ = json.Unmarshal([]byte(c.open[1:]), &o)
	done := make(chan *nats.Msg, 1)
	go func() {
		r, err := w.Request("wsgate.conn."+o.SID+".emit", []byte(`"q"`), 5*time.Second)
		if err != nil {
			t.Error(err)
		}
		done <- r
	}()
	if got := c.next(); got != `421["message","q"]` {
		t.Fatalf("emit %q", got)
	}
	c.send(`461-1[{"_placeholder":true,"num":0}]`)
	c.sendBinary([]byte{7})
	if r := <-done; r == nil || !bytes.Equal(r.Data, []byte{7}) || r.Header.Get(HeaderBinary) != "true" {
		t.Fatalf("binary ack reply %v", r)
	}

	// A placeholder without its attachment ends the connection.
	bad := e.connect(t, "/", "")
	bad.send(`451-["x",{"_placeholder":true,"num":3}]`)
	bad.sendBinary([]byte{1})
	if code, reason := bad.closeCode(); code != bridge.CloseProtocolError || !strings.Contains(reason, "placeholder") {
		t.Fatalf("bad placeholder: %d %q", code, reason)
	}
	// A binary message nobody announced too.
	stray := e.connect(t, "/", "")
	stray.sendBinary([]byte{1})
	if code, _ := stray.closeCode(); code != bridge.CloseProtocolError {
		t.Fatalf("stray binary: %d", code)
	}
}
