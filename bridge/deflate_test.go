package bridge

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/nats-io/nats.go"

	"github.com/wsgate/wsgate/bridge/internal/wire"
)

// TestUpgradeDeflateAnswer: the upgrade answers permessage-deflate offers
// as the mode says, under the header gorilla lets through.
func TestUpgradeDeflateAnswer(t *testing.T) {
	const nct = "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
	cases := []struct {
		mode   string
		offer  string
		answer string
	}{
		{"", "permessage-deflate; client_max_window_bits", nct},
		{"no_context_takeover", "permessage-deflate", nct},
		{"on", "permessage-deflate; client_max_window_bits", "permessage-deflate; server_no_context_takeover"},
		{"on", "permessage-deflate; server_max_window_bits=10", "permessage-deflate; server_no_context_takeover; server_max_window_bits=10"},
		{"off", "permessage-deflate", ""},
		{"", "permessage-deflate; server_max_window_bits=7", ""},
		{"", "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.mode+" "+tc.offer, func(t *testing.T) {
			e := newEnv(t, Config{Compression: tc.mode})
			// A raw handshake: gorilla's Dialer checks the answer against
			// what it can do itself.
			conn, err := net.Dial("tcp", strings.TrimPrefix(e.srv.URL, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			req := "GET / HTTP/1.1\r\nHost: gw\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
				"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
			if tc.offer != "" {
				req += "Sec-WebSocket-Extensions: " + tc.offer + "\r\n"
			}
			if _, err := conn.Write([]byte(req + "\r\n")); err != nil {
				t.Fatal(err)
			}
			_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusSwitchingProtocols {
				t.Fatalf("HTTP %d", resp.StatusCode)
			}
			if got := resp.Header.Get("Sec-WebSocket-Extensions"); got != tc.answer {
				t.Fatalf("answer %q, want %q", got, tc.answer)
			}
		})
	}
}

func TestDeflateModeRefusesUnknown(t *testing.T) {
	if _, err := deflateMode("maybe"); err == nil || !strings.Contains(err.Error(), "compression") {
		t.Fatalf("err %v, want one naming compression", err)
	}
}

// countingDialer dials connections that count the bytes they read.
func countingDialer(n *atomic.Int64) *websocket.Dialer {
	return &websocket.Dialer{
		HandshakeTimeout:  5 * time.Second,
		EnableCompression: true,
		NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &countingConn{Conn: c, n: n}, nil
		},
	}
}

type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// TestDeflateFanOut: compressing and plain clients on one subject all get
// a large message; the compressing ones read it compressed, and the
// message is encoded once.
func TestDeflateFanOut(t *testing.T) {
	e := newEnv(t, Config{})
	var zread, plainRead atomic.Int64
	var zs []*client
	for range 3 {
		c := e.dial("/", countingDialer(&zread), nil)
		e.sub(c, "sub quotes") // compressed by gorilla, inflated by the gateway
		zs = append(zs, c)
	}
	plainDialer := countingDialer(&plainRead)
	plainDialer.EnableCompression = false
	plain := e.dial("/", plainDialer, nil)
	e.sub(plain, "sub quotes")
	for _, c := range zs {
		if !(e.session(c).zmax > 0) {
			t.Fatal("a gorilla client with EnableCompression did not negotiate")
		}
	}
	if e.session(plain).zmax > 0 {
		t.Fatal("a client that offered nothing negotiated compression")
	}

	body := strings.Repeat(`{"symbol":"ABC","price":12.5,"side":"buy"},`, 50) // 2 KiB
	z0, p0 := zread.Load(), plainRead.Load()
	before := e.proto.encodes.Load()
	if err := e.worker().Publish("quotes", []byte(body)); err != nil {
		t.Fatal(err)
	}
	want := "msg quotes " + body
	for _, c := range append(zs, plain) {
		if got := c.read(); got != want {
			t.Fatalf("read %d bytes, want %d", len(got), len(want))
		}
	}
	if n := e.proto.encodes.Load() - before; n != 1 {
		t.Errorf("encoded %d times, want 1", n)
	}
	zBytes, pBytes := (zread.Load()-z0)/3, plainRead.Load()-p0
	if pBytes < int64(len(want)) || zBytes > pBytes/4 {
		t.Errorf("bytes read per client: %d compressed, %d plain, for a %d-byte message", zBytes, pBytes, len(want))
	}

	// A small answer stays uncompressed, and the gateway still reads
	// what the client compresses.
	zs[0].send("hello")
	if got := zs[0].read(); !strings.HasPrefix(got, "hello test ") {
		t.Fatalf("read %q", got)
	}
}

// TestDeflateShared: one fan-out to many compressing sessions queues one
// compressed frame, the same for every session.
func TestDeflateShared(t *testing.T) {
	cfg := Config{}.withDefaults()
	g := &Gateway{cfg: cfg, metrics: newMetrics()}
	p := newTestProto()
	hs := &hubSub{key: hubKey{pattern: "shared"}}
	h := &hub{prefix: cfg.ReservedPrefix}
	var sessions []*Session
	for i := range 50 {
		s := &Session{gw: g, id: newID(12), proto: p, netConn: discardConn{}, done: make(chan struct{}), m: g.metrics.protocol(p.Name())}
		if i%2 == 0 {
			s.zmin, s.zmax = uint16(cfg.CompressionMinBytes), 1<<15
		}
		s.w.running = true // nothing is written: the queues are looked at
		sessions = append(sessions, s)
		hs.join(&Subscription{s: s, pattern: "shared", deliver: func(d *Delivery) {
			f, err := d.Frame(testFrameKey, p.encode)
			if err == nil {
				err = d.Send(s, f)
			}
			if err != nil {
				t.Error(err)
			}
		}})
	}
	var kick []*Session
	h.fanOut(hs, &nats.Msg{Subject: "shared", Data: []byte(strings.Repeat("compress me ", 100))}, &kick)
	var z, plain *Frame
	for i, s := range sessions {
		if len(s.w.queue) != 1 {
			t.Fatalf("session %d has %d frames queued", i, len(s.w.queue))
		}
		f := s.w.queue[0]
		switch {
		case i%2 == 1 && plain == nil:
			plain = f
		case i%2 == 0 && z == nil:
			z = f
		}
		if i%2 == 0 && f != z || i%2 == 1 && f != plain {
			t.Fatalf("session %d got a frame of its own", i)
		}
	}
	if !z.Compressed() || plain.Compressed() || plain.Deflated() != z {
		t.Fatalf("compressed %v, plain compressed %v", z.Compressed(), plain.Compressed())
	}
}

// TestDeflateThreshold: what is compressed and what is not.
func TestDeflateThreshold(t *testing.T) {
	s := &Session{zmin: 256, zmax: 1 << 10}
	big := TextFrame([]byte(strings.Repeat("a", 600)))
	cases := []struct {
		name string
		f    *Frame
		z    bool
	}{
		{"below the threshold", TextFrame([]byte(strings.Repeat("a", 255))), false},
		{"at the threshold", TextFrame([]byte(strings.Repeat("a", 256))), true},
		{"within the client's window", big, true},
		{"beyond the client's window", BinaryFrame([]byte(strings.Repeat("a", 1025))), false},
		{"control frame", wire.PongFrame(strings.Repeat("a", 125)), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := s.deflated(tc.f).Compressed(); got != tc.z {
				t.Fatalf("compressed %v, want %v", got, tc.z)
			}
		})
	}
}

// TestDeflateBomb: a message that inflates past max_message_bytes closes
// with 1009, however small it is compressed.
func TestDeflateBomb(t *testing.T) {
	e := newEnv(t, Config{MaxMessageBytes: 64 << 10})
	c := e.dial("/", countingDialer(new(atomic.Int64)), nil)
	if err := c.c.WriteMessage(websocket.BinaryMessage, make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
	if code, reason := c.readClose(); code != CloseTooBig {
		t.Fatalf("close %d %q, want 1009", code, reason)
	}
}
