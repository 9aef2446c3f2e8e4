package bench

import (
	"errors"
	"fmt"
	"time"

	"github.com/gorilla/websocket"
)

// The load generator's MQTT 3.1.1 client: just enough to connect,
// subscribe at QoS 0 and read PUBLISH packets, the same against wsgate and
// nats-server.

func mqttString(b []byte, s string) []byte {
	return append(append(b, byte(len(s)>>8), byte(len(s))), s...)
}

func mqttPacket(first byte, body []byte) []byte {
	p := []byte{first}
	n := len(body)
	for {
		d := byte(n % 128)
		n /= 128
		if n > 0 {
			d |= 0x80
		}
		p = append(p, d)
		if n == 0 {
			break
		}
	}
	return append(p, body...)
}

// mqttConnect is a 3.1.1 CONNECT without keep-alive; clean false asks for
// a persistent session.
func mqttConnect(clientID string, clean bool) []byte {
	flags := byte(0)
	if clean {
		flags = 0x02
	}
	b := mqttString(nil, "MQTT")
	b = append(b, 4, flags, 0, 0)
	return mqttPacket(0x10, mqttString(b, clientID))
}

func mqttSubscribe(filter string) []byte {
	b := mqttString([]byte{0, 1}, filter)
	return mqttPacket(0x82, append(b, 0))
}

// mqttExchange sends a packet and reads until one of type want (the high
// nibble of its first byte, as 0x20 for CONNACK) arrives.
func (c *conn) mqttExchange(packet []byte, want byte) error {
	if err := c.ws.WriteMessage(websocket.BinaryMessage, packet); err != nil {
		return err
	}
	_ = c.ws.SetReadDeadline(time.Now().Add(30 * time.Second))
	defer c.ws.SetReadDeadline(time.Time{})
	for {
		got := false
		var refused error
		if err := c.mqttRead(func(typ byte, p []byte) {
			if typ&0xf0 == want {
				got = true
				if want == 0x20 && len(p) >= 2 && p[1] != 0 {
					refused = fmt.Errorf("mqtt: CONNACK %d", p[1])
				}
			}
		}); err != nil {
			return err
		}
		if refused != nil {
			return refused
		}
		if got {
			return nil
		}
	}
}

// mqttRead reads one WebSocket message and calls on for each whole packet
// in the buffered stream (packet type byte, body).
func (c *conn) mqttRead(on func(typ byte, body []byte)) error {
	_, b, err := c.ws.ReadMessage()
	if err != nil {
		return err
	}
	c.buf = append(c.buf, b...)
	return c.mqttParse(on)
}

// mqttParse calls on for each whole packet in the buffered stream and keeps
// a partial one for later.
func (c *conn) mqttParse(on func(typ byte, body []byte)) error {
	for len(c.buf) >= 2 {
		n, shift, i := 0, 0, 1
		for ; i < len(c.buf) && i <= 4; i++ {
			n |= int(c.buf[i]&0x7f) << shift
			shift += 7
			if c.buf[i]&0x80 == 0 {
				break
			}
		}
		if i > 4 {
			return errors.New("mqtt: bad remaining length")
		}
		if i >= len(c.buf) || len(c.buf) < i+1+n {
			return nil // the rest comes later
		}
		on(c.buf[0], c.buf[i+1:i+1+n])
		c.buf = c.buf[i+1+n:]
	}
	if len(c.buf) == 0 {
		c.buf = c.buf[:0:0]
	}
	return nil
}
