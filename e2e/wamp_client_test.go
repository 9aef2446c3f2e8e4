package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/gorilla/websocket"
	"github.com/vmihailenco/msgpack/v5"
)

// wampClient is a raw WAMP client for the end-to-end tests: messages are
// lists encoded with the serializer libraries directly (not with the
// gateway's own codec), so the gateway's encoding is checked against
// theirs. (A Go WAMP client library would be better; github.com/gammazero/
// nexus/v3 is not available from the module proxy here. Real client
// libraries, Autobahn|JS and Wampy.js, run in wamp_node_test.go.)
type wampClient struct {
	t   *testing.T
	ws  *websocket.Conn
	ser string // json, msgpack or cbor
	seq int64
	id  int64 // session id from WELCOME
}

var wampSerializers = []string{"json", "msgpack", "cbor"}

var cborDec, _ = cbor.DecOptions{DefaultMapType: reflect.TypeOf(map[string]any(nil))}.DecMode()

// dialWAMP opens a WebSocket offering wamp.2.<ser>.
func dialWAMP(t *testing.T, g *gateway, ser string, hdr http.Header) *wampClient {
	t.Helper()
	d := websocket.Dialer{Subprotocols: []string{"wamp.2." + ser}, HandshakeTimeout: 10 * time.Second}
	ws, resp, err := d.Dial(g.WS("/"), hdr)
	if err != nil {
		t.Fatalf("dial: %v (%v)", err, resp)
	}
	if got := resp.Header.Get("Sec-WebSocket-Protocol"); got != "wamp.2."+ser {
		t.Fatalf("subprotocol %q", got)
	}
	t.Cleanup(func() { ws.Close() })
	return &wampClient{t: t, ws: ws, ser: ser}
}

// joinWAMP dials and joins realm1 anonymously.
func joinWAMP(t *testing.T, g *gateway, ser string) *wampClient {
	t.Helper()
	c := dialWAMP(t, g, ser, nil)
	c.join("realm1", map[string]any{})
	return c
}

// join sends HELLO and expects WELCOME.
func (c *wampClient) join(realm string, details map[string]any) map[string]any {
	c.t.Helper()
	details["roles"] = map[string]any{"publisher": map[string]any{}, "subscriber": map[string]any{}, "caller": map[string]any{}, "callee": map[string]any{}}
	c.send(1, realm, details)
	w := c.expect(2)
	c.id = num(w[1])
	return w[2].(map[string]any)
}

func (c *wampClient) req() int64 { c.seq++; return c.seq }

// send encodes a message and writes it.
func (c *wampClient) send(msg ...any) {
	c.t.Helper()
	if err := c.trySend(msg...); err != nil {
		c.t.Fatal(err)
	}
}

// trySend is send for goroutines other than the test's.
func (c *wampClient) trySend(msg ...any) error {
	var b []byte
	var err error
	typ := websocket.BinaryMessage
	switch c.ser {
	case "json":
		b, err = json.Marshal(msg)
		typ = websocket.TextMessage
	case "msgpack":
		b, err = msgpack.Marshal(msg)
	case "cbor":
		b, err = cbor.Marshal(msg)
	}
	if err != nil {
		return err
	}
	return c.ws.WriteMessage(typ, b)
}

// read returns the next message, or the error that ended the connection.
func (c *wampClient) read(timeout time.Duration) ([]any, error) {
	_ = c.ws.SetReadDeadline(time.Now().Add(timeout))
	typ, b, err := c.ws.ReadMessage()
	if err != nil {
		return nil, err
	}
	if (typ == websocket.TextMessage) != (c.ser == "json") {
		return nil, fmt.Errorf("frame type %d for %s", typ, c.ser)
	}
	var v []any
	switch c.ser {
	case "json":
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		err = dec.Decode(&v)
	case "msgpack":
		err = msgpack.Unmarshal(b, &v)
	case "cbor":
		err = cborDec.Unmarshal(b, &v)
	}
	if err != nil {
		return nil, fmt.Errorf("decode %q: %w", b, err)
	}
	return v, nil
}

// expect reads the next message, which must be of type typ.
func (c *wampClient) expect(typ int64) []any {
	c.t.Helper()
	m, err := c.read(10 * time.Second)
	if err != nil {
		c.t.Fatalf("waiting for message %d: %v", typ, err)
	}
	if num(m[0]) != typ {
		c.t.Fatalf("got %v, want message type %d", m, typ)
	}
	return m
}

// expectError reads an ERROR and checks its request type and URI.
func (c *wampClient) expectError(reqType int64, uri string) []any {
	c.t.Helper()
	e := c.expect(8)
	if num(e[1]) != reqType || e[4] != uri {
		c.t.Fatalf("got error %v, want %s for %d", e, uri, reqType)
	}
	return e
}

// closed reads until the connection ends and returns the close code
// (0 without a close frame).
func (c *wampClient) closed() int {
	c.t.Helper()
	for {
		_, err := c.read(10 * time.Second)
		if err == nil {
			continue
		}
		if ce, ok := err.(*websocket.CloseError); ok {
			return ce.Code
		}
		return 0
	}
}

// subscribe subscribes and returns the subscription id.
func (c *wampClient) subscribe(topic string, opts map[string]any) int64 {
	c.t.Helper()
	r := c.req()
	c.send(32, r, opts, topic)
	m := c.expect(33)
	if num(m[1]) != r {
		c.t.Fatalf("SUBSCRIBED %v for request %d", m, r)
	}
	return num(m[2])
}

// num reads a number of any of the decoders' types as an int64.
func num(v any) int64 {
	switch x := v.(type) {
	case json.Number:
		n, err := x.Int64()
		if err != nil {
			f, _ := x.Float64()
			return int64(f)
		}
		return n
	case float64:
		return int64(x)
	case float32:
		return int64(x)
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return rv.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if rv.Uint() > math.MaxInt64 {
			return -1
		}
		return int64(rv.Uint())
	}
	return -1
}

// norm makes decoded payloads comparable across serializers: every
// number an int64 (or float64 when not integral), nested.
func norm(v any) any {
	switch x := v.(type) {
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return n
		}
		f, _ := x.Float64()
		return f
	case float64:
		if x == math.Trunc(x) {
			return int64(x)
		}
		return x
	case float32:
		return norm(float64(x))
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = norm(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = norm(e)
		}
		return out
	case nil, string, bool, []byte:
		return x
	}
	if n := num(v); n != -1 {
		return n
	}
	return v
}

// payload is the Arguments (and ArgumentsKw) at index i of a message,
// normalized; missing ones are nil.
func payload(m []any, i int) (any, any) {
	var args, kwargs any
	if len(m) > i {
		args = norm(m[i])
	}
	if len(m) > i+1 {
		kwargs = norm(m[i+1])
	}
	return args, kwargs
}
