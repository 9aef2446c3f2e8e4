package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"
)

// serveFrames starts a WebSocket server that writes the frames' bytes, as
// they are, to every client that connects, and returns a connected gorilla
// client to read them with.
func serveFrames(t *testing.T, frames ...*Frame) *websocket.Conn {
	t.Helper()
	var raw []byte
	for _, f := range frames {
		raw = append(raw, f.b...)
	}
	done := make(chan struct{})
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		if _, err := c.NetConn().Write(raw); err != nil {
			return
		}
		<-done
	}))
	c, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		close(done)
		srv.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Close()
		close(done)
		srv.Close()
	})
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	return c
}

func TestFrameLengths(t *testing.T) {
	tests := []struct {
		n      int
		header int  // header bytes
		len7   byte // the 7-bit length field
	}{
		{0, 2, 0},
		{1, 2, 1},
		{125, 2, 125},
		{126, 4, 126},
		{127, 4, 126},
		{65535, 4, 126},
		{65536, 10, 127},
		{100000, 10, 127},
	}
	for _, tc := range tests {
		for _, text := range []bool{true, false} {
			name := "binary"
			build := BinaryFrame
			wantType := websocket.BinaryMessage
			if text {
				name, build, wantType = "text", TextFrame, websocket.TextMessage
			}
			t.Run(name+"/"+strconv.Itoa(tc.n), func(t *testing.T) {
				payload := bytes.Repeat([]byte{'a' + byte(tc.n%26)}, tc.n)
				f := build(payload)
				if f.Len() != tc.header+tc.n {
					t.Fatalf("Len = %d, want %d", f.Len(), tc.header+tc.n)
				}
				if f.b[0]&0x80 == 0 || f.b[0]&0x70 != 0 {
					t.Errorf("first byte %#x: want FIN and no RSV bits", f.b[0])
				}
				if f.b[1]&0x80 != 0 {
					t.Error("server frame is masked")
				}
				if f.b[1]&0x7f != tc.len7 {
					t.Errorf("length field %d, want %d", f.b[1]&0x7f, tc.len7)
				}
				switch tc.header {
				case 4:
					if got := binary.BigEndian.Uint16(f.b[2:]); int(got) != tc.n {
						t.Errorf("16-bit length %d", got)
					}
				case 10:
					if got := binary.BigEndian.Uint64(f.b[2:]); int(got) != tc.n {
						t.Errorf("64-bit length %d", got)
					}
				}
				if f.IsText() != text {
					t.Errorf("IsText = %v", f.IsText())
				}
				if !bytes.Equal(f.Payload(), payload) {
					t.Error("Payload differs")
				}

				c := serveFrames(t, f)
				typ, got, err := c.ReadMessage()
				if err != nil {
					t.Fatalf("client read: %v", err)
				}
				if typ != wantType {
					t.Errorf("message type %d, want %d", typ, wantType)
				}
				if !bytes.Equal(got, payload) {
					t.Errorf("client read %d bytes, want %d", len(got), len(payload))
				}
			})
		}
	}
}

// Several frames back to back, as the writer hands them to one writev.
func TestFramesBackToBack(t *testing.T) {
	frames := []*Frame{TextFrame([]byte("one")), BinaryFrame(make([]byte, 70000)), TextFrame(nil), DataFrame([]byte("\xff")), DataFrame([]byte("é"))}
	c := serveFrames(t, frames...)
	want := []struct {
		typ int
		n   int
	}{{websocket.TextMessage, 3}, {websocket.BinaryMessage, 70000}, {websocket.TextMessage, 0}, {websocket.BinaryMessage, 1}, {websocket.TextMessage, 2}}
	for i, w := range want {
		typ, p, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if typ != w.typ || len(p) != w.n {
			t.Errorf("message %d: type %d, %d bytes; want %d, %d", i, typ, len(p), w.typ, w.n)
		}
	}
}

func TestNewFrameFill(t *testing.T) {
	for _, n := range []int{0, 125, 126, 65535, 65536} {
		f, p := NewFrame(true, n)
		if len(p) != n || f.Len() < n {
			t.Fatalf("NewFrame(%d): payload slice %d bytes, frame %d", n, len(p), f.Len())
		}
		for i := range p {
			p[i] = 'x'
		}
		if !bytes.Equal(f.Payload(), p) {
			t.Errorf("NewFrame(%d): filling the slice did not fill the frame", n)
		}
		if !f.IsText() {
			t.Error("NewFrame(true) is not text")
		}
	}
	if f, _ := NewFrame(false, 3); f.IsText() {
		t.Error("NewFrame(false) is text")
	}
}

func TestDataFrame(t *testing.T) {
	for _, tc := range []struct {
		p    string
		text bool
	}{{"", true}, {"hello", true}, {"héllo 🎉", true}, {"\xff", false}, {"a\xc3", false}, {"\xed\xa0\x80", false}} {
		if f := DataFrame([]byte(tc.p)); f.IsText() != tc.text || string(f.Payload()) != tc.p {
			t.Errorf("DataFrame(%q): text %v, payload %q", tc.p, f.IsText(), f.Payload())
		}
	}
}

func TestCloseFrame(t *testing.T) {
	tests := []struct {
		name       string
		code       int
		reason     string
		wantCode   int
		wantReason string
		empty      bool // no payload on the wire
	}{
		{"normal", 1000, "bye", 1000, "bye", false},
		{"no reason", 1001, "", 1001, "", false},
		{"application code", 4001, "kicked", 4001, "kicked", false},
		{"policy", ClosePolicy, "slow consumer: outbound queue full", ClosePolicy, "slow consumer: outbound queue full", false},
		{"exactly 123 bytes", 4000, strings.Repeat("r", 123), 4000, strings.Repeat("r", 123), false},
		{"ASCII cut", 4000, strings.Repeat("r", 200), 4000, strings.Repeat("r", 123), false},
		{"2-byte runes cut on a boundary", 4000, strings.Repeat("é", 100), 4000, strings.Repeat("é", 61), false},
		{"3-byte runes fit exactly", 4000, strings.Repeat("€", 50), 4000, strings.Repeat("€", 41), false},
		{"4-byte runes cut on a boundary", 4000, strings.Repeat("🎉", 40), 4000, strings.Repeat("🎉", 30), false},
		{"1005 is never sent", 1005, "ignored", websocket.CloseNoStatusReceived, "", true},
		{"1006 is never sent", 1006, "ignored", websocket.CloseNoStatusReceived, "", true},
		{"1015 is never sent", 1015, "ignored", websocket.CloseNoStatusReceived, "", true},
		{"code 0", 0, "ignored", websocket.CloseNoStatusReceived, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := CloseFrame(tc.code, tc.reason)
			if f.b[0] != 0x80|OpClose {
				t.Fatalf("first byte %#x", f.b[0])
			}
			p := f.Payload()
			if len(p) > 125 {
				t.Fatalf("control frame payload %d bytes", len(p))
			}
			if tc.empty != (len(p) == 0) {
				t.Fatalf("payload %q, want empty %v", p, tc.empty)
			}
			if !utf8.Valid(p[min(2, len(p)):]) {
				t.Errorf("reason %q is not UTF-8", p[2:])
			}
			c := serveFrames(t, f)
			_, _, err := c.ReadMessage()
			var ce *websocket.CloseError
			if !errors.As(err, &ce) {
				t.Fatalf("client read %v, want a close", err)
			}
			if ce.Code != tc.wantCode || ce.Text != tc.wantReason {
				t.Errorf("close %d %q, want %d %q", ce.Code, ce.Text, tc.wantCode, tc.wantReason)
			}
		})
	}
}

func TestPongFrame(t *testing.T) {
	for _, tc := range []struct {
		name string
		data string
		want string
	}{
		{"empty", "", ""},
		{"short", "ping-1", "ping-1"},
		{"125 bytes", strings.Repeat("p", 125), strings.Repeat("p", 125)},
		{"cut to 125", strings.Repeat("p", 300), strings.Repeat("p", 125)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := PongFrame(tc.data)
			if f.b[0] != 0x80|OpPong {
				t.Fatalf("first byte %#x", f.b[0])
			}
			c := serveFrames(t, f, TextFrame([]byte("after")))
			got := make(chan string, 1)
			c.SetPongHandler(func(s string) error { got <- s; return nil })
			if _, p, err := c.ReadMessage(); err != nil || string(p) != "after" {
				t.Fatalf("read %q, %v", p, err)
			}
			select {
			case s := <-got:
				if s != tc.want {
					t.Errorf("pong data %d bytes %q, want %d bytes", len(s), s, len(tc.want))
				}
			default:
				t.Error("the client saw no pong")
			}
		})
	}
}

func TestPingFrame(t *testing.T) {
	if PingFrame.b[0] != 0x80|OpPing || len(PingFrame.Payload()) != 0 {
		t.Fatalf("ping frame %x", PingFrame.b)
	}
	c := serveFrames(t, PingFrame, TextFrame([]byte("after")))
	pinged := false
	c.SetPingHandler(func(string) error { pinged = true; return nil })
	if _, p, err := c.ReadMessage(); err != nil || string(p) != "after" {
		t.Fatalf("read %q, %v", p, err)
	}
	if !pinged {
		t.Error("the client saw no ping")
	}
}
