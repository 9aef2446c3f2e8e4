package bench

import (
	"fmt"

	"github.com/gorilla/websocket"

	"github.com/wsgate/wsgate/protocols/wamp"
)

// Clients of the wsgate-wamp-msgpack target speak wamp.2.msgpack with the
// gateway's own WAMP codec for what they send; an EVENT's payload is found
// without decoding it (msgpackPayload), as the JSON clients do.

// kindWAMPMsgpack is the client protocol of wsgate-wamp-msgpack.
const kindWAMPMsgpack = "wamp-msgpack"

var msgpackLimits = wamp.Limits{MaxBytes: 16 << 20, MaxDepth: 64}

// msgpackExchange sends m and reads until a message of the type want.
func (c *conn) msgpackExchange(m wamp.Message, want wamp.Type) error {
	b, err := wamp.Encode(wamp.Msgpack, nil, m)
	if err != nil {
		return err
	}
	if err := c.ws.WriteMessage(websocket.BinaryMessage, b); err != nil {
		return err
	}
	return c.readUntil(func(b []byte) (bool, error) {
		got, err := wamp.Decode(wamp.Msgpack, b, msgpackLimits)
		if err != nil {
			return false, err
		}
		switch got.Type() {
		case wamp.TypeAbort, wamp.TypeGoodbye, wamp.TypeError:
			return false, fmt.Errorf("wamp: %#v", got)
		}
		return got.Type() == want, nil
	})
}

func (c *conn) msgpackJoin() error {
	return c.msgpackExchange(&wamp.Hello{Realm: "realm1", Details: wamp.Dict{"roles": wamp.Dict{"subscriber": wamp.Dict{}, "caller": wamp.Dict{}}}}, wamp.TypeWelcome)
}

func (c *conn) msgpackSubscribe(subject string) error {
	return c.msgpackExchange(&wamp.Subscribe{Request: 1, Options: wamp.Dict{}, Topic: subject}, wamp.TypeSubscribed)
}

// msgpackPayload finds the payload of an EVENT or RESULT whose last
// element is a list of one string, [..., ["<payload>"]], and returns it
// with a leading quote, as parsePayload reads it (into buf).
func msgpackPayload(b []byte, buf *[minPayload]byte) ([]byte, bool) {
	// The string is the message's tail: try each header that ends where
	// it says, from the shortest string up.
	for i := len(b) - 2; i >= 1 && len(b)-i < 1<<16+8; i-- {
		if b[i-1] != 0x91 { // fixarray of one
			continue
		}
		var n, h int
		switch x := b[i]; {
		case x >= 0xa0 && x <= 0xbf:
			n, h = int(x&0x1f), 1
		case x == 0xd9 && i+1 < len(b):
			n, h = int(b[i+1]), 2
		case x == 0xda && i+2 < len(b):
			n, h = int(b[i+1])<<8|int(b[i+2]), 3
		default:
			continue
		}
		if i+h+n == len(b) && n >= 32 {
			buf[0] = '"'
			copy(buf[1:], b[i+h:i+h+32])
			return buf[:33], true
		}
	}
	return nil, false
}

// msgpackCall is a WAMP CALL of bench.echo with the payload (a JSON string
// token) as its one string argument.
func msgpackCall(seq uint64, p []byte) []byte {
	b, _ := wamp.Encode(wamp.Msgpack, nil, &wamp.Call{Request: seq, Options: wamp.Dict{}, Procedure: "bench.echo",
		Args: wamp.List{string(p[1 : len(p)-1])}})
	return b
}

// isMsgpackResult reports whether b is a RESULT: an array whose first
// element is 50.
func isMsgpackResult(b []byte) bool {
	return len(b) > 1 && b[0]&0xf0 == 0x90 && b[1] == byte(wamp.TypeResult)
}
