package e2e

import (
	"errors"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsgate/wsgate/protocols/mqtt"
)

// TestCloseAfterQuiet closes connections that have written nothing for
// longer than write_timeout: the close must still reach the client with its
// code and reason (and the protocol's goodbye before it). A close frame
// written under the deadline of the last data write fails at once after a
// quiet spell, and the client sees 1006 instead.
func TestCloseAfterQuiet(t *testing.T) {
	long(t)
	const writeTimeout = time.Second
	g := startGateway(t, gwOpts{Config: "gateway:\n  write_timeout: 1s\n  ping_interval: -1s\n"})
	nc := natsConn(t, g.NATSURL)

	quietThenDelete := func(t *testing.T, id string) {
		t.Helper()
		time.Sleep(writeTimeout + 700*time.Millisecond)
		if status, b := g.httpDo(t, "DELETE", "/@connections/"+id+"?code=4001&reason=bye", ""); status != 204 {
			t.Fatalf("DELETE: %d %s", status, b)
		}
	}
	wantClose := func(t *testing.T, err error) {
		t.Helper()
		var ce *websocket.CloseError
		if !errors.As(err, &ce) {
			t.Fatalf("connection ended without a close frame: %v", err)
		}
		if ce.Code != 4001 || ce.Text != "bye" {
			t.Fatalf("close %d %q, want 4001 bye", ce.Code, ce.Text)
		}
	}

	t.Run("json", func(t *testing.T) {
		t.Parallel()
		c, id := dialID(t, g, nc, "/")
		c.subscribe("quiet.json") // one data write, then quiet
		quietThenDelete(t, id)
		wantClose(t, c.closeErr(5*time.Second))
	})

	t.Run("stomp", func(t *testing.T) {
		t.Parallel()
		c, id := dialIDWith(t, &websocket.Dialer{Subprotocols: []string{"v12.stomp"}}, g, nc, "/")
		r := &rawSTOMP{t: t, c: c.Conn}
		r.send("CONNECT\naccept-version:1.2\nhost:/\n\n\x00")
		r.expect("CONNECTED")
		quietThenDelete(t, id)
		f := r.expect("ERROR")
		if f.hdr["message"] == "" {
			t.Errorf("ERROR without a message: %v", f.hdr)
		}
		_ = r.c.SetReadDeadline(time.Now().Add(5 * time.Second))
		for {
			if _, _, err := r.c.ReadMessage(); err != nil {
				wantClose(t, err)
				return
			}
		}
	})

	t.Run("mqtt", func(t *testing.T) {
		t.Parallel()
		c, id := dialIDWith(t, &websocket.Dialer{Subprotocols: []string{"mqtt"}}, g, nc, "/")
		r := newRaw(t, c.Conn, mqtt.V5)
		r.connect(&mqtt.Connect{ClientID: "quiet", CleanStart: true}, mqtt.Properties{})
		r.expect(mqtt.CONNACK)
		quietThenDelete(t, id)
		if p := r.expect(mqtt.DISCONNECT); p.Reason != 0x98 {
			t.Errorf("DISCONNECT reason 0x%02x, want 0x98", p.Reason)
		}
		_, err := r.read(5 * time.Second)
		wantClose(t, err)
	})
}
