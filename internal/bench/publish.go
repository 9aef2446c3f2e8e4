package bench

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// A WebSocket publisher speaks the target's own client protocol, so that
// the server's per-message path from a client (parse, authorise, publish to
// NATS) is measured, not only its fan-out of what NATS delivers. Each kind
// publishes as a plain client would, without acknowledgement:
//
//	json   {"action":"publish","subject":<subject>,"data":<payload>}  (the built-in routes)
//	stomp  SEND, destination:/topic/<subject>, content-length
//	mqtt   PUBLISH at QoS 0 on the topic <subject> with "." as "/"
//	socketio  EVENT say(<subject>, <payload>), which a route publishes to the room <subject>
//	nats   PUB <subject> <n>\r\n<payload>\r\n
//
// Payloads are JSON strings (makePayload), so the json kind carries them
// unchanged as its data member.

// writeTimeout bounds every write of the load generator's own, so that a
// server which stops reading shows up as an error, not a hung publisher.
const writeTimeout = 10 * time.Second

// errEcho is a delivery to a connection that only publishes.
var errEcho = errors.New("bench: a publisher received a message")

// appendPublish appends to dst the WebSocket message that publishes payload
// to subject in the client protocol kind, and returns its message type.
func appendPublish(dst []byte, kind, subject string, payload []byte) (int, []byte) {
	switch kind {
	case "nats":
		dst = append(dst, "PUB "...)
		dst = append(dst, subject...)
		dst = append(dst, ' ')
		dst = strconv.AppendInt(dst, int64(len(payload)), 10)
		dst = append(dst, "\r\n"...)
		dst = append(dst, payload...)
		return websocket.BinaryMessage, append(dst, "\r\n"...)
	case "stomp":
		dst = append(dst, "SEND\ndestination:/topic/"...)
		dst = append(dst, subject...)
		dst = append(dst, "\ncontent-length:"...)
		dst = strconv.AppendInt(dst, int64(len(payload)), 10)
		dst = append(dst, "\n\n"...)
		dst = append(dst, payload...)
		return websocket.TextMessage, append(dst, 0)
	case "socketio":
		return websocket.TextMessage, appendSIOEmit(dst, subject, payload)
	case "mqtt":
		// PUBLISH, QoS 0: the topic, no packet identifier, the payload.
		topic := strings.ReplaceAll(subject, ".", "/")
		n := 2 + len(topic) + len(payload)
		dst = append(dst, 0x30)
		for {
			d := byte(n % 128)
			n /= 128
			if n > 0 {
				d |= 0x80
			}
			dst = append(dst, d)
			if n == 0 {
				break
			}
		}
		dst = mqttString(dst, topic)
		return websocket.BinaryMessage, append(dst, payload...)
	}
	dst = append(dst, `{"action":"publish","subject":"`...)
	dst = append(dst, subject...)
	dst = append(dst, `","data":`...)
	dst = append(dst, payload...)
	return websocket.TextMessage, append(dst, '}')
}

// publish sends payload to subject in the connection's own protocol.
func (c *conn) publish(subject string, payload []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	var typ int
	typ, c.wbuf = appendPublish(c.wbuf[:0], c.kind, subject, payload)
	if err := c.writeLocked(typ, c.wbuf); err != nil {
		return fmt.Errorf("publish to %s: %w", subject, err)
	}
	return nil
}

// write sends one WebSocket message under the connection's write lock (the
// reader answers NATS PINGs while a publisher writes) and a deadline.
func (c *conn) write(typ int, b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.writeLocked(typ, b)
}

func (c *conn) writeLocked(typ int, b []byte) error {
	if err := c.ws.SetWriteDeadline(time.Now().Add(writeTimeout)); err != nil {
		return err
	}
	return c.ws.WriteMessage(typ, b)
}

// drain reads a publisher's connection until it fails, answering NATS
// PINGs. A server's error (a JSON error frame, a STOMP ERROR, a NATS -ERR)
// ends it with that error; any delivered message is counted in echoes, as
// a publisher subscribes to nothing.
func (c *conn) drain(echoes *atomic.Uint64) error {
	switch c.kind {
	case "nats":
		for {
			if err := c.natsParse(func([]byte) { echoes.Add(1) }, nil); err != nil {
				return err
			}
		}
	case "mqtt":
		for {
			if err := c.mqttRead(func(typ byte, _ []byte) {
				if typ>>4 == 3 { // PUBLISH
					echoes.Add(1)
				}
			}); err != nil {
				return err
			}
		}
	}
	for {
		_, b, err := c.ws.ReadMessage()
		if err != nil {
			return err
		}
		switch {
		case c.kind == "stomp" && bytes.HasPrefix(b, []byte("ERROR\n")):
			return fmt.Errorf("stomp: %s", bytes.TrimRight(b, "\x00"))
		case c.kind == "stomp" && bytes.HasPrefix(b, []byte("MESSAGE\n")):
			echoes.Add(1)
		case c.kind == "json" && bytes.Contains(b, []byte(`"type":"error"`)):
			return fmt.Errorf("json: %s", b)
		case c.kind == "json" && bytes.Contains(b, []byte(`"type":"message"`)):
			echoes.Add(1)
		case c.kind == "socketio" && string(b) == "2":
			if err := c.write(websocket.TextMessage, []byte("3")); err != nil {
				return err
			}
		case c.kind == "socketio" && bytes.HasPrefix(b, []byte("42")):
			if bytes.HasPrefix(b, []byte(`42["wsgate:error"`)) {
				return fmt.Errorf("socketio: %s", b)
			}
			echoes.Add(1)
		}
	}
}

// watch drains a publisher's connection in the background. The returned
// stop closes the connection and reports what went wrong on it: the error
// that ended the reader before the close, and errEcho if messages came back.
func (c *conn) watch() (stop func() error) {
	var echoes atomic.Uint64
	done := make(chan error, 1)
	go func() { done <- c.drain(&echoes) }()
	return func() error {
		var err error
		select {
		case rerr := <-done: // the server ended it, or sent an error
			err = fmt.Errorf("publisher connection: %w", rerr)
			c.close()
		default:
			c.close()
			<-done // the close's own read error
		}
		if n := echoes.Load(); n > 0 {
			err = errors.Join(err, fmt.Errorf("%w: %d deliveries", errEcho, n))
		}
		return err
	}
}
