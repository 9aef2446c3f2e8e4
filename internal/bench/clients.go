package bench

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

var dialer = &websocket.Dialer{
	HandshakeTimeout: 30 * time.Second,
	ReadBufferSize:   4096,
	WriteBufferSize:  1024,
	NetDialContext:   countingDial,
	TLSClientConfig:  insecureClientTLS, // wss:// (--tls, or --url): the bench's own certificate
}

// compressingDialer is dialer with permessage-deflate offered (--compress).
var compressingDialer = func() *websocket.Dialer {
	d := *dialer
	d.EnableCompression = true
	return &d
}()

// wireBytesIn counts the bytes every benchmark client has read from its
// socket: what the server put on the wire, compressed or not.
var wireBytesIn atomic.Uint64

// countingDial dials a TCP connection whose reads add to wireBytesIn.
func countingDial(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := (&net.Dialer{Timeout: 30 * time.Second}).DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return countingConn{c}, nil
}

type countingConn struct{ net.Conn }

func (c countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	wireBytesIn.Add(uint64(n))
	return n, err
}

// conn is one benchmark WebSocket client of either kind.
type conn struct {
	kind string
	ws   *websocket.Conn
	buf  []byte // protocol bytes read but not parsed yet

	wmu  sync.Mutex // one writer at a time: see write
	wbuf []byte     // publish's encoding buffer, under wmu
}

// dial opens a connection and, for NATS, completes the protocol handshake
// (INFO, CONNECT, PING/PONG), so a connection counts once it is usable.
func dial(ctx context.Context, t *target) (*conn, error) {
	return dialMQTT(ctx, t, nil)
}

// dialMQTT is dial with the CONNECT an MQTT target gets (nil: a clean
// session with an id of its own).
func dialMQTT(ctx context.Context, t *target, connect []byte) (*conn, error) {
	var hdr http.Header
	switch t.kind {
	case "stomp":
		hdr = http.Header{"Sec-Websocket-Protocol": {"v12.stomp"}}
	case "mqtt":
		hdr = http.Header{"Sec-Websocket-Protocol": {"mqtt"}}
	case "wamp":
		hdr = http.Header{"Sec-Websocket-Protocol": {"wamp.2.json"}}
	case kindWAMPMsgpack:
		hdr = http.Header{"Sec-Websocket-Protocol": {"wamp.2.msgpack"}}
	}
	d := dialer
	if t.compress {
		d = compressingDialer
	}
	ws, _, err := d.DialContext(ctx, t.wsURL, hdr)
	if err != nil {
		return nil, err
	}
	c := &conn{kind: t.kind, ws: ws}
	switch t.kind {
	case "nats":
		err = c.natsHandshake()
	case "stomp":
		// host is RabbitMQ's virtual host; guest/guest its default login.
		err = c.stompExchange("CONNECT\naccept-version:1.2\nhost:/\nlogin:guest\npasscode:guest\nheart-beat:0,0\n\n\x00", "CONNECTED")
	case "mqtt":
		if connect == nil {
			connect = mqttConnect(fmt.Sprintf("bench-%p", c), true)
		}
		err = c.mqttExchange(connect, 0x20)
	case "wamp":
		err = c.wampJoin()
	case kindWAMPMsgpack:
		err = c.msgpackJoin()
	case "socketio":
		err = c.sioConnect()
	}
	if err != nil {
		ws.Close()
		return nil, err
	}
	return c, nil
}

// stompExchange sends a frame and reads until a frame with the command want.
func (c *conn) stompExchange(frame, want string) error {
	if err := c.ws.WriteMessage(websocket.TextMessage, []byte(frame)); err != nil {
		return err
	}
	return c.readUntil(func(b []byte) (bool, error) {
		if bytes.HasPrefix(b, []byte("ERROR\n")) {
			return false, fmt.Errorf("stomp: %s", b)
		}
		return bytes.HasPrefix(b, []byte(want+"\n")), nil
	})
}

// readUntil reads messages, for at most 30 s, until answered says one is
// the answer awaited, or an error.
func (c *conn) readUntil(answered func(b []byte) (bool, error)) error {
	_ = c.ws.SetReadDeadline(time.Now().Add(30 * time.Second))
	defer c.ws.SetReadDeadline(time.Time{})
	for {
		_, b, err := c.ws.ReadMessage()
		if err != nil {
			return err
		}
		if done, err := answered(b); done || err != nil {
			return err
		}
	}
}

func (c *conn) close() { _ = c.ws.Close() }

const natsConnect = "CONNECT {\"verbose\":false,\"pedantic\":false,\"protocol\":1,\"headers\":false}\r\n"

func (c *conn) natsHandshake() error {
	if err := c.ws.WriteMessage(websocket.BinaryMessage, []byte(natsConnect+"PING\r\n")); err != nil {
		return err
	}
	return c.natsUntil("PONG")
}

// natsUntil reads protocol lines until one equals want.
func (c *conn) natsUntil(want string) error {
	_ = c.ws.SetReadDeadline(time.Now().Add(30 * time.Second))
	defer c.ws.SetReadDeadline(time.Time{})
	for {
		found := false
		err := c.natsParse(func([]byte) {}, func(line string) {
			if line == want {
				found = true
			}
		})
		if err != nil {
			return err
		}
		if found {
			return nil
		}
	}
}

// subscribe subscribes to subject and waits until the server confirms.
func (c *conn) subscribe(subject string) error {
	switch c.kind {
	case "nats":
		if err := c.ws.WriteMessage(websocket.BinaryMessage, []byte("SUB "+subject+" 1\r\nPING\r\n")); err != nil {
			return err
		}
		return c.natsUntil("PONG")
	case "stomp":
		return c.stompExchange("SUBSCRIBE\nid:0\ndestination:/topic/"+subject+"\nack:auto\nreceipt:s\n\n\x00", "RECEIPT")
	case "mqtt":
		return c.mqttExchange(mqttSubscribe(strings.ReplaceAll(subject, ".", "/")), 0x90)
	case "wamp":
		return c.wampExchange(`[32,1,{},"`+subject+`"]`, "[33,")
	case kindWAMPMsgpack:
		return c.msgpackSubscribe(subject)
	case "socketio":
		return c.sioJoin(subject)
	}
	if err := c.ws.WriteMessage(websocket.TextMessage, []byte(`{"action":"subscribe","subject":"`+subject+`"}`)); err != nil {
		return err
	}
	_ = c.ws.SetReadDeadline(time.Now().Add(30 * time.Second))
	defer c.ws.SetReadDeadline(time.Time{})
	_, b, err := c.ws.ReadMessage()
	if err != nil {
		return err
	}
	if !bytes.Contains(b, []byte(`"type":"subscribed"`)) {
		return fmt.Errorf("subscribe answered %s", b)
	}
	return nil
}

// readPayloads calls onPayload with every delivered message's payload until
// the connection fails.
func (c *conn) readPayloads(onPayload func([]byte)) error {
	if c.kind == "nats" {
		for {
			if err := c.natsParse(onPayload, nil); err != nil {
				return err
			}
		}
	}
	if c.kind == "mqtt" {
		for {
			if err := c.mqttRead(func(typ byte, p []byte) {
				if typ>>4 == 3 && len(p) >= 2 { // PUBLISH, QoS 0: topic, then payload
					n := int(p[0])<<8 | int(p[1])
					if 2+n <= len(p) {
						onPayload(p[2+n:])
					}
				}
			}); err != nil {
				return err
			}
		}
	}
	if c.kind == kindWAMPMsgpack {
		var buf [minPayload]byte
		for {
			_, b, err := c.ws.ReadMessage()
			if err != nil {
				return err
			}
			if p, ok := msgpackPayload(b, &buf); ok {
				onPayload(p)
			}
		}
	}
	if c.kind == "wamp" {
		for {
			_, b, err := c.ws.ReadMessage()
			if err != nil {
				return err
			}
			if p, ok := wampPayload(b); ok {
				onPayload(p)
			}
		}
	}
	if c.kind == "socketio" {
		for {
			_, b, err := c.ws.ReadMessage()
			if err != nil {
				return err
			}
			p, pong, ok := sioPayload(b)
			if pong {
				if err := c.write(websocket.TextMessage, []byte("3")); err != nil {
					return err
				}
			}
			if ok {
				onPayload(p)
			}
		}
	}
	if c.kind == "stomp" {
		// MESSAGE frames: the body follows the blank line after the headers.
		for {
			_, b, err := c.ws.ReadMessage()
			if err != nil {
				return err
			}
			for len(b) > 0 {
				end := bytes.IndexByte(b, 0)
				if end < 0 {
					break
				}
				f := b[:end]
				b = bytes.TrimLeft(b[end+1:], "\r\n")
				if i := bytes.Index(f, []byte("\n\n")); i >= 0 && bytes.HasPrefix(f, []byte("MESSAGE\n")) {
					onPayload(f[i+2:])
				}
			}
		}
	}
	dataKey := []byte(`"data":`)
	for {
		_, b, err := c.ws.ReadMessage()
		if err != nil {
			return err
		}
		i := bytes.Index(b, dataKey)
		if i < 0 {
			continue
		}
		onPayload(b[i+len(dataKey):])
	}
}

// natsParse reads one WebSocket message and handles the NATS protocol in
// it: MSG payloads go to onMsg, other lines to onLine; PING is answered.
func (c *conn) natsParse(onMsg func([]byte), onLine func(string)) error {
	_, b, err := c.ws.ReadMessage()
	if err != nil {
		return err
	}
	c.buf = append(c.buf, b...)
	for {
		i := bytes.Index(c.buf, []byte("\r\n"))
		if i < 0 {
			return nil
		}
		line := c.buf[:i]
		if bytes.HasPrefix(line, []byte("MSG ")) {
			sp := bytes.LastIndexByte(line, ' ')
			n, err := strconv.Atoi(string(line[sp+1:]))
			if err != nil {
				return fmt.Errorf("bad MSG line %q", line)
			}
			end := i + 2 + n + 2
			if len(c.buf) < end {
				return nil // the rest comes in the next message
			}
			onMsg(c.buf[i+2 : i+2+n])
			c.buf = c.buf[end:]
			continue
		}
		s := string(line)
		c.buf = c.buf[i+2:]
		switch {
		case s == "PING":
			if err := c.write(websocket.BinaryMessage, []byte("PONG\r\n")); err != nil {
				return err
			}
		case len(s) > 4 && s[:4] == "-ERR":
			return errors.New("nats: " + s)
		}
		if onLine != nil {
			onLine(s)
		}
		if len(c.buf) == 0 {
			c.buf = c.buf[:0:0]
		}
	}
}

// Payloads are a JSON string so that both servers carry them unchanged:
// `"` + 16 hex digits of sequence + 16 of send time (Unix ns) + padding + `"`.
const minPayload = 34

func makePayload(size int, seq uint64, sent int64) []byte {
	return makePayloadFilled(size, seq, sent, nil)
}

// makePayloadFilled is makePayload padded with fill (from filler) instead
// of x's where fill is long enough.
func makePayloadFilled(size int, seq uint64, sent int64, fill []byte) []byte {
	p := make([]byte, max(size, minPayload))
	p[0] = '"'
	var b [8]byte
	for i := range 8 {
		b[i] = byte(seq >> (56 - 8*i))
	}
	hex.Encode(p[1:17], b[:])
	for i := range 8 {
		b[i] = byte(uint64(sent) >> (56 - 8*i))
	}
	hex.Encode(p[17:33], b[:])
	for i := 33; i < len(p)-1; i++ {
		p[i] = 'x'
	}
	if n := len(p) - 34; len(fill) >= n+fillerSlack {
		// Each message its own stretch of the records, so that messages
		// are alike in shape, as real ones are, but not copies of each
		// other (which a server that compresses several in one frame
		// would turn into almost nothing).
		off := int(seq*7919) % fillerSlack
		copy(p[33:len(p)-1], fill[off:off+n])
	}
	p[len(p)-1] = '"'
	return p
}

// parsePayload reads sequence and send time back; p may be followed by
// more bytes (the rest of a JSON envelope).
func parsePayload(p []byte) (seq uint64, sent int64, ok bool) {
	if len(p) < 33 || p[0] != '"' {
		return 0, 0, false
	}
	var b [8]byte
	if _, err := hex.Decode(b[:], p[1:17]); err != nil {
		return 0, 0, false
	}
	for _, x := range b {
		seq = seq<<8 | uint64(x)
	}
	if _, err := hex.Decode(b[:], p[17:33]); err != nil {
		return 0, 0, false
	}
	var u uint64
	for _, x := range b {
		u = u<<8 | uint64(x)
	}
	return seq, int64(u), true
}

// fillerSlack is how much longer than a payload filler's text is: the
// offsets messages take their padding from.
const fillerSlack = 32 << 10

// filler returns padding of the --filler kind for payloads of size bytes
// (size+fillerSlack bytes of it), nil for "x". "records" is JSON-like records with random values and no quote
// characters (the payload is one JSON string), so that it compresses about
// as real JSON does, not to nothing as a run of x's does.
func filler(kind string, size int) []byte {
	if kind != "records" {
		return nil
	}
	rng := rand.New(rand.NewPCG(7, 42))
	sides := []string{"buy", "sell"}
	var b []byte
	size += fillerSlack
	for len(b) < size {
		b = fmt.Appendf(b, "{id:%d,sym:%c%c%c,px:%d.%02d,qty:%d,side:%s,ts:%d},",
			rng.IntN(1_000_000), 'A'+rng.IntN(26), 'A'+rng.IntN(26), 'A'+rng.IntN(26),
			rng.IntN(1000), rng.IntN(100), rng.IntN(10_000), sides[rng.IntN(2)], 1_700_000_000_000+rng.Int64N(1_000_000_000))
	}
	return b[:size]
}
