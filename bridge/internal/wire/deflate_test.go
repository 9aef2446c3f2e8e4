package wire

import (
	"bytes"
	"compress/flate"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestNegotiateDeflate(t *testing.T) {
	const nct = "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
	cases := []struct {
		name    string
		offers  []string
		mode    DeflateMode
		want    string // "" when declined
		context bool
		window  int // ServerWindow
	}{
		{"off declines", []string{"permessage-deflate"}, DeflateOff, "", false, 0},
		{"no offer", nil, DeflateNoContextTakeover, "", false, 0},
		{"other extension only", []string{"x-webkit-deflate-frame"}, DeflateNoContextTakeover, "", false, 0},
		{"bare offer", []string{"permessage-deflate"}, DeflateNoContextTakeover, nct, false, 1 << 15},
		{"Chromium's offer", []string{"permessage-deflate; client_max_window_bits"}, DeflateNoContextTakeover, nct, false, 1 << 15},
		{"gorilla's offer", []string{"permessage-deflate; server_no_context_takeover; client_no_context_takeover"}, DeflateOn, nct, false, 1 << 15},
		{"on keeps the client's context", []string{"permessage-deflate; client_max_window_bits"}, DeflateOn, "permessage-deflate; server_no_context_takeover", true, 1 << 15},
		{"server window honoured", []string{"permessage-deflate; server_max_window_bits=10"}, DeflateNoContextTakeover, nct + "; server_max_window_bits=10", false, 1 << 10},
		{"quoted value", []string{`permessage-deflate; server_max_window_bits="9"`}, DeflateNoContextTakeover, nct + "; server_max_window_bits=9", false, 1 << 9},
		{"client window value", []string{"permessage-deflate; client_max_window_bits=9"}, DeflateNoContextTakeover, nct, false, 1 << 15},
		{"server window without value declined", []string{"permessage-deflate; server_max_window_bits"}, DeflateNoContextTakeover, "", false, 0},
		{"window 16 declined", []string{"permessage-deflate; server_max_window_bits=16"}, DeflateNoContextTakeover, "", false, 0},
		{"window 7 declined", []string{"permessage-deflate; client_max_window_bits=7"}, DeflateNoContextTakeover, "", false, 0},
		{"leading zero declined", []string{"permessage-deflate; server_max_window_bits=010"}, DeflateNoContextTakeover, "", false, 0},
		{"unknown parameter declined", []string{"permessage-deflate; x=1"}, DeflateNoContextTakeover, "", false, 0},
		{"repeated parameter declined", []string{"permessage-deflate; server_no_context_takeover; server_no_context_takeover"}, DeflateNoContextTakeover, "", false, 0},
		{"value on a flag declined", []string{"permessage-deflate; client_no_context_takeover=1"}, DeflateNoContextTakeover, "", false, 0},
		{"fallback to the second offer", []string{"permessage-deflate; server_max_window_bits=20, permessage-deflate"}, DeflateNoContextTakeover, nct, false, 1 << 15},
		{"second header line", []string{"foo; a=\"x, permessage-deflate\"", "permessage-deflate; server_max_window_bits=12"}, DeflateNoContextTakeover, nct + "; server_max_window_bits=12", false, 1 << 12},
		{"comma inside a quoted string is no offer", []string{`foo; a=", permessage-deflate, "`}, DeflateNoContextTakeover, "", false, 0},
		{"white space and case of the name", []string{"  permessage-deflate ;client_no_context_takeover  "}, DeflateOn, nct, false, 1 << 15},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			answer, d, ok := NegotiateDeflate(tc.offers, tc.mode)
			if answer != tc.want || ok != (tc.want != "") {
				t.Fatalf("answer %q ok %v, want %q", answer, ok, tc.want)
			}
			if ok && (d.ClientContext != tc.context || d.ServerWindow != tc.window) {
				t.Fatalf("agreement %+v, want context %v server window %d", d, tc.context, tc.window)
			}
		})
	}
}

// stdDeflate compresses msg as a client does, with the standard library
// (an implementation other than the gateway's), tail stripped.
func stdDeflate(t testing.TB, msg []byte) []byte {
	var buf bytes.Buffer
	w, err := flate.NewWriter(&buf, flate.DefaultCompression)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = w.Write(msg)
	_ = w.Flush()
	return bytes.TrimSuffix(buf.Bytes(), deflateTail)
}

// stdInflate inflates a permessage-deflate payload with the standard library.
func stdInflate(t testing.TB, payload []byte) []byte {
	r := flate.NewReader(io.MultiReader(bytes.NewReader(payload), strings.NewReader(inflateTail)))
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("inflate: %v", err)
	}
	return out
}

func compressedFrame(fin bool, op byte, payload []byte) []byte {
	b := clientFrame(fin, op, payload, false)
	b[0] |= rsv1
	return b
}

func TestDeflated(t *testing.T) {
	msg := []byte(strings.Repeat(`{"symbol":"ABC","price":12.5,"side":"buy"},`, 50))
	f := TextFrame(msg)
	z := f.Deflated()
	if z == f || !z.Compressed() || !z.IsText() || f.Compressed() {
		t.Fatalf("compressed %v text %v; original compressed %v", z.Compressed(), z.IsText(), f.Compressed())
	}
	if z.Len() >= f.Len()/2 {
		t.Fatalf("compressed to %d of %d bytes", z.Len(), f.Len())
	}
	if f.Deflated() != z || z.Deflated() != z {
		t.Fatal("a second Deflated made another frame")
	}
	if got := stdInflate(t, z.Payload()); !bytes.Equal(got, msg) {
		t.Fatalf("round trip: %q", got)
	}
	// Incompressible: sent as it is.
	noise := make([]byte, 300)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range noise {
		noise[i] = byte(rng.Uint32())
	}
	b := BinaryFrame(noise)
	if b.Deflated() != b {
		t.Fatal("an incompressible frame was replaced")
	}
	// Large frame, 64-bit length.
	big := bytes.Repeat([]byte("abcdefgh"), 20000)
	if got := stdInflate(t, BinaryFrame(big).Deflated().Payload()); !bytes.Equal(got, big) {
		t.Fatal("large round trip differs")
	}
}

// feedDeflate feeds chunks to a parser that negotiated d.
func feedDeflate(max int64, d Deflate, chunks ...[]byte) ([]gotMsg, error) {
	p := &Parser{Max: max}
	p.SetDeflate(d)
	var buf []byte
	var got []gotMsg
	for _, c := range chunks {
		buf = append(buf, c...)
		used, err := p.Feed(buf, func(op byte, data []byte) error {
			got = append(got, gotMsg{op, string(data)})
			return nil
		})
		if err != nil {
			return got, err
		}
		buf = append(buf[:0], buf[used:]...)
	}
	return got, nil
}

func TestParserInflates(t *testing.T) {
	hello := stdDeflate(t, []byte("hello, hello, hello"))
	bomb := stdDeflate(t, make([]byte, 1<<20)) // 1 MiB of zeros in about 1 KiB
	frag := stdDeflate(t, []byte(strings.Repeat("fragmented ", 20)))
	noCtx := Deflate{ClientWindow: 1 << 15, ServerWindow: 1 << 15}
	cases := []struct {
		name   string
		in     [][]byte
		want   []gotMsg
		wantCl int
	}{
		{"compressed text", [][]byte{compressedFrame(true, OpText, hello)}, []gotMsg{{OpText, "hello, hello, hello"}}, 0},
		{"compressed binary", [][]byte{compressedFrame(true, OpBinary, hello)}, []gotMsg{{OpBinary, "hello, hello, hello"}}, 0},
		{"uncompressed beside compressed", [][]byte{clientFrame(true, OpText, []byte("plain"), false), compressedFrame(true, OpText, hello)}, []gotMsg{{OpText, "plain"}, {OpText, "hello, hello, hello"}}, 0},
		{"compressed and fragmented, a ping between", [][]byte{
			compressedFrame(false, OpText, frag[:5]),
			clientFrame(true, OpPing, []byte("p"), false),
			clientFrame(false, 0, frag[5:9], false),
			clientFrame(true, 0, frag[9:], false),
		}, []gotMsg{{OpPing, "p"}, {OpText, strings.Repeat("fragmented ", 20)}}, 0},
		{"one byte at a time", func() [][]byte {
			var c [][]byte
			for _, b := range compressedFrame(true, OpText, hello) {
				c = append(c, []byte{b})
			}
			return c
		}(), []gotMsg{{OpText, "hello, hello, hello"}}, 0},
		{"empty message", [][]byte{compressedFrame(true, OpText, []byte{0x00})}, []gotMsg{{OpText, ""}}, 0},
		{"with a final block", [][]byte{compressedFrame(true, OpText, []byte{0x01, 0x00, 0x00, 0xff, 0xff})}, []gotMsg{{OpText, ""}}, 0},
		{"zip bomb", [][]byte{compressedFrame(true, OpBinary, bomb)}, nil, CloseTooBig},
		{"compressed payload over the limit", [][]byte{compressedFrame(true, OpBinary, make([]byte, 70000))}, nil, CloseTooBig},
		{"bad deflate data", [][]byte{compressedFrame(true, OpBinary, []byte{0xff, 0xff, 0xff, 0xff})}, nil, CloseInvalidUTF8},
		{"inflates to invalid UTF-8", [][]byte{compressedFrame(true, OpText, stdDeflate(t, []byte{0xff, 0xfe}))}, nil, CloseInvalidUTF8},
		{"RSV1 on a continuation", [][]byte{clientFrame(false, OpText, []byte("a"), false), compressedFrame(true, 0, hello)}, nil, CloseProtocolError},
		{"RSV1 on a ping", [][]byte{compressedFrame(true, OpPing, nil)}, nil, CloseProtocolError},
		{"RSV2", [][]byte{func() []byte { b := clientFrame(true, OpText, []byte("x"), false); b[0] |= 0x20; return b }()}, nil, CloseProtocolError},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := feedDeflate(64<<10, noCtx, tc.in...)
			if c := closeCode(err); c != tc.wantCl {
				t.Fatalf("close code %d (err %v), want %d", c, err, tc.wantCl)
			}
			if tc.wantCl == 0 && !equalMsgs(got, tc.want) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
	// Without negotiation RSV1 is a protocol error (TestFrameParser's
	// "reserved bit" case).
}

// TestParserInflatesWithContext: a client that takes over its window
// refers back into earlier messages.
func TestParserInflatesWithContext(t *testing.T) {
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.BestCompression)
	var frames [][]byte
	var want []gotMsg
	for i := range 5 {
		msg := strings.Repeat("the same words again and again ", 10+i)
		buf.Reset()
		_, _ = w.Write([]byte(msg))
		_ = w.Flush()
		frames = append(frames, compressedFrame(true, OpText, bytes.TrimSuffix(buf.Bytes(), deflateTail)))
		want = append(want, gotMsg{OpText, msg})
	}
	got, err := feedDeflate(1<<20, Deflate{ClientContext: true, ClientWindow: 1 << 15, ServerWindow: 1 << 15}, frames...)
	if err != nil {
		t.Fatal(err)
	}
	if !equalMsgs(got, want) {
		t.Fatalf("got %q", got)
	}
	// Without context takeover the second message cannot be inflated.
	if _, err := feedDeflate(1<<20, Deflate{ClientWindow: 1 << 15, ServerWindow: 1 << 15}, frames...); err == nil {
		t.Fatal("messages that refer to earlier ones inflated without their context")
	}
}

func TestRemember(t *testing.T) {
	p := &Parser{}
	p.SetDeflate(Deflate{ClientContext: true, ClientWindow: 8})
	for _, s := range []string{"abc", "defgh", "ij", "klmnopqrstu", "v"} {
		p.remember([]byte(s))
	}
	if got := string(p.z.dict); got != "opqrstuv" {
		t.Fatalf("window %q, want the last 8 bytes", got)
	}
}

// FuzzInflate: whatever a client sends on a connection that negotiated
// permessage-deflate, in any split, the parser delivers at most Max bytes
// per message and only valid UTF-8 as text, or closes; it never panics.
// The seed corpus is in testdata/fuzz/FuzzInflate.
func FuzzInflate(f *testing.F) {
	f.Add(compressedFrame(true, OpText, stdDeflate(f, []byte("hello"))), uint16(3), false)
	f.Add(compressedFrame(true, OpBinary, stdDeflate(f, make([]byte, 10000))), uint16(9), true)
	f.Fuzz(func(t *testing.T, data []byte, split uint16, context bool) {
		s := int(split) % (len(data) + 1)
		const max = 4096
		got, _ := feedDeflate(max, Deflate{ClientContext: context, ClientWindow: 1 << 15, ServerWindow: 1 << 15}, data[:s], data[s:])
		for _, m := range got {
			if len(m.data) > max {
				t.Fatalf("delivered %d bytes, max %d", len(m.data), max)
			}
			if m.op == OpText && !utf8.ValidString(m.data) {
				t.Fatalf("delivered invalid UTF-8 text %q", m.data)
			}
		}
	})
}

// FuzzDeflateRoundTrip: any payload compressed by Deflated comes back
// whole through the parser's inflater.
func FuzzDeflateRoundTrip(f *testing.F) {
	f.Add([]byte(strings.Repeat("abc", 100)))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, msg []byte) {
		z := BinaryFrame(msg).Deflated()
		if !z.Compressed() {
			return
		}
		got, err := feedDeflate(1<<20, Deflate{ClientWindow: 1 << 15, ServerWindow: 1 << 15}, compressedFrame(true, OpBinary, z.Payload()))
		if err != nil || len(got) != 1 || got[0].data != string(msg) {
			t.Fatalf("round trip of %d bytes: %v", len(msg), err)
		}
	})
}

// FuzzNegotiateDeflate: an answer is only ever given to a permessage-deflate
// offer, and always names server_no_context_takeover.
func FuzzNegotiateDeflate(f *testing.F) {
	f.Add("permessage-deflate; client_max_window_bits")
	f.Add(`permessage-deflate; server_max_window_bits="10", permessage-deflate`)
	f.Fuzz(func(t *testing.T, h string) {
		answer, d, ok := NegotiateDeflate([]string{h}, DeflateOn)
		if !ok {
			return
		}
		if !strings.Contains(h, "permessage-deflate") || !strings.HasPrefix(answer, "permessage-deflate; server_no_context_takeover") {
			t.Fatalf("offer %q answered %q", h, answer)
		}
		if d.ServerWindow < 256 || d.ServerWindow > 1<<15 {
			t.Fatalf("server window %d", d.ServerWindow)
		}
	})
}
