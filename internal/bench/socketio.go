package bench

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsgate/wsgate/subjects"
)

// Socket.IO clients of the wsgate-socketio target speak Engine.IO v4 over
// a WebSocket from the start (transports: ["websocket"]) in the main
// namespace. A subscription is a room: the route join puts the client in
// the room named by the subject; a NATS publisher publishes on the room's
// subject, and a WebSocket publisher emits say(<subject>, payload), which
// the route say publishes there. Deliveries are EVENTs whose last
// argument is the payload.

// sioConfig is the gateway's config for the target. The server's ping is
// hourly so that idle clients, which read nothing, stay connected
// whatever --hold says; every other setting is the default.
const sioConfig = `socketio:
  ping_interval: 1h
  routes:
    join: {integration: join}
    say: {subject: "sio-room.{namespace}.{arg0}"}
`

// startSocketIO runs wsgate with sioConfig.
func startSocketIO(dir string) (*target, error) {
	cfg := filepath.Join(dir, "socketio.yaml")
	if err := os.WriteFile(cfg, []byte(sioConfig), 0o600); err != nil {
		return nil, err
	}
	t, err := startWsgate(dir, []string{"--config", cfg})
	if err != nil {
		return nil, err
	}
	t.name, t.kind, t.wsURL = "wsgate-socketio", "socketio", t.wsURL+"socket.io/?EIO=4&transport=websocket"
	return t, nil
}

// sioRoomSubject is the NATS subject of the room a subscriber joined for
// subject: the main namespace's room, its name escaped into one token.
func sioRoomSubject(subject string) (string, error) {
	tok, err := subjects.EscapeToken(subject)
	if err != nil {
		return "", err
	}
	return "sio-room._." + tok, nil
}

// sioConnect reads the open packet and connects the main namespace.
func (c *conn) sioConnect() error {
	if err := c.sioUntil("0"); err != nil {
		return err
	}
	return c.sioExchange("40", "40")
}

// sioExchange sends a packet and reads until one starting with want,
// answering pings.
func (c *conn) sioExchange(msg, want string) error {
	if err := c.write(websocket.TextMessage, []byte(msg)); err != nil {
		return err
	}
	return c.sioUntil(want)
}

func (c *conn) sioUntil(want string) error {
	_ = c.ws.SetReadDeadline(time.Now().Add(30 * time.Second))
	defer c.ws.SetReadDeadline(time.Time{})
	for {
		_, b, err := c.ws.ReadMessage()
		if err != nil {
			return err
		}
		switch {
		case bytes.HasPrefix(b, []byte(want)):
			return nil
		case bytes.HasPrefix(b, []byte("44")):
			return fmt.Errorf("socketio: %s", b)
		case string(b) == "2":
			if err := c.write(websocket.TextMessage, []byte("3")); err != nil {
				return err
			}
		}
	}
}

// sioJoin joins the room subject and waits for the acknowledgement.
func (c *conn) sioJoin(subject string) error {
	return c.sioExchange(`421["join",`+strconv.Quote(subject)+`]`, "431")
}

// sioPayload finds an EVENT's last argument, the payload; a ping is
// answered (pong reports it).
func sioPayload(b []byte) (p []byte, pong bool, ok bool) {
	if string(b) == "2" {
		return nil, true, false
	}
	if !bytes.HasPrefix(b, []byte(`42[`)) || len(b) < 5 || b[len(b)-1] != ']' {
		return nil, false, false
	}
	// The payload is a JSON string (makePayload): the last one.
	end := len(b) - 1
	start := bytes.LastIndex(b[:end-1], []byte(`,"`))
	if start < 0 {
		return nil, false, false
	}
	return b[start+1 : end], false, true
}

// appendSIOEmit appends say(subject, payload).
func appendSIOEmit(dst []byte, subject string, payload []byte) []byte {
	dst = append(dst, `42["say",`...)
	dst = strconv.AppendQuote(dst, subject)
	dst = append(dst, ',')
	dst = append(dst, payload...)
	return append(dst, ']')
}
