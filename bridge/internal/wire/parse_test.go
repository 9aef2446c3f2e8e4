package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// clientFrame encodes a client-to-server frame, masked unless unmasked is
// set, with a fixed masking key.
func clientFrame(fin bool, op byte, payload []byte, unmasked bool) []byte {
	var b []byte
	b0 := op
	if fin {
		b0 |= 0x80
	}
	b = append(b, b0)
	maskBit := byte(0x80)
	if unmasked {
		maskBit = 0
	}
	n := len(payload)
	switch {
	case n < 126:
		b = append(b, maskBit|byte(n))
	case n <= 0xffff:
		b = append(b, maskBit|126, byte(n>>8), byte(n))
	default:
		b = append(b, maskBit|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	if unmasked {
		return append(b, payload...)
	}
	key := []byte{0x37, 0xfa, 0x21, 0x3d}
	b = append(b, key...)
	for i, c := range payload {
		b = append(b, c^key[i%4])
	}
	return b
}

type gotMsg struct {
	op   byte
	data string
}

// feedChunks feeds chunks to a parser the way the reader does, keeping the
// unused tail, and collects what it delivers.
func feedChunks(max int64, chunks ...[]byte) ([]gotMsg, error) {
	p := &Parser{Max: max}
	var buf, out []byte
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
		out = append(out[:0], buf[used:]...)
		buf = append(buf[:0], out...)
	}
	return got, nil
}

func closeCode(err error) int {
	var ce *CloseError
	if errors.As(err, &ce) {
		return ce.Code
	}
	return 0
}

func TestFrameParser(t *testing.T) {
	long := strings.Repeat("x", 70000)
	cases := []struct {
		name   string
		in     [][]byte
		want   []gotMsg
		wantCl int // expected close code, 0 for none
	}{
		{"text", [][]byte{clientFrame(true, OpText, []byte("hello"), false)}, []gotMsg{{OpText, "hello"}}, 0},
		{"binary with NUL", [][]byte{clientFrame(true, OpBinary, []byte{0, 1, 2}, false)}, []gotMsg{{OpBinary, "\x00\x01\x02"}}, 0},
		{"empty", [][]byte{clientFrame(true, OpText, nil, false)}, []gotMsg{{OpText, ""}}, 0},
		{"126 bytes (16-bit length)", [][]byte{clientFrame(true, OpText, bytes.Repeat([]byte("a"), 126), false)}, []gotMsg{{OpText, strings.Repeat("a", 126)}}, 0},
		{"70000 bytes (64-bit length)", [][]byte{clientFrame(true, OpBinary, []byte(long), false)}, []gotMsg{{OpBinary, long}}, 0},
		{"two frames in one read", [][]byte{append(clientFrame(true, OpText, []byte("a"), false), clientFrame(true, OpText, []byte("b"), false)...)}, []gotMsg{{OpText, "a"}, {OpText, "b"}}, 0},
		{"fragmented with a ping between", [][]byte{
			clientFrame(false, OpText, []byte("hel"), false),
			clientFrame(true, OpPing, []byte("p"), false),
			clientFrame(false, 0, []byte("lo "), false),
			clientFrame(true, 0, []byte("world"), false),
		}, []gotMsg{{OpPing, "p"}, {OpText, "hello world"}}, 0},
		{"close", [][]byte{clientFrame(true, OpClose, []byte{0x03, 0xe8, 'b', 'y', 'e'}, false)}, []gotMsg{{OpClose, "\x03\xe8bye"}}, 0},
		{"unmasked", [][]byte{clientFrame(true, OpText, []byte("x"), true)}, nil, CloseProtocolError},
		{"reserved bit", [][]byte{func() []byte { b := clientFrame(true, OpText, []byte("x"), false); b[0] |= 0x40; return b }()}, nil, CloseProtocolError},
		{"unknown opcode", [][]byte{clientFrame(true, 0x3, []byte("x"), false)}, nil, CloseProtocolError},
		{"fragmented control", [][]byte{clientFrame(false, OpPing, []byte("x"), false)}, nil, CloseProtocolError},
		{"long control", [][]byte{clientFrame(true, OpPing, bytes.Repeat([]byte("x"), 126), false)}, nil, CloseProtocolError},
		{"continuation without start", [][]byte{clientFrame(true, 0, []byte("x"), false)}, nil, CloseProtocolError},
		{"new message inside a fragmented one", [][]byte{clientFrame(false, OpText, []byte("x"), false), clientFrame(true, OpText, []byte("y"), false)}, nil, CloseProtocolError},
		{"invalid UTF-8 text", [][]byte{clientFrame(true, OpText, []byte{0xff, 0xfe}, false)}, nil, CloseInvalidUTF8},
		{"invalid UTF-8 split over fragments is checked whole", [][]byte{clientFrame(false, OpText, []byte{0xe6, 0x97}, false), clientFrame(true, 0, []byte{0xa5}, false)}, []gotMsg{{OpText, "日"}}, 0},
		{"too big in one frame", [][]byte{clientFrame(true, OpBinary, bytes.Repeat([]byte("x"), 1025), false)}, nil, CloseTooBig},
		{"too big across fragments", [][]byte{clientFrame(false, OpBinary, bytes.Repeat([]byte("x"), 600), false), clientFrame(true, 0, bytes.Repeat([]byte("x"), 600), false)}, nil, CloseTooBig},
		{"huge declared length refused before its bytes arrive", [][]byte{{0x82, 0xff, 0, 0, 0, 1, 0, 0, 0, 0}}, nil, CloseTooBig},
		{"length with top bit set", [][]byte{{0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0}}, nil, CloseProtocolError},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			max := int64(1 << 20)
			if strings.HasPrefix(tc.name, "too big") {
				max = 1024
			}
			if strings.HasPrefix(tc.name, "huge") {
				max = 1 << 20
			}
			got, err := feedChunks(max, tc.in...)
			if c := closeCode(err); c != tc.wantCl {
				t.Fatalf("close code %d (err %v), want %d", c, err, tc.wantCl)
			}
			if tc.wantCl == 0 && !equalMsgs(got, tc.want) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func equalMsgs(a, b []gotMsg) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestFrameParserOneByteAtATime delivers a stream byte by byte: the parser
// must keep partial frames and give the same messages.
func TestFrameParserOneByteAtATime(t *testing.T) {
	var stream []byte
	want := []gotMsg{}
	for i, s := range []string{"a", strings.Repeat("b", 200), "", strings.Repeat("c", 70000)} {
		op := byte(OpText)
		if i%2 == 1 {
			op = OpBinary
		}
		stream = append(stream, clientFrame(true, op, []byte(s), false)...)
		want = append(want, gotMsg{op, s})
	}
	chunks := make([][]byte, len(stream))
	for i := range stream {
		chunks[i] = stream[i : i+1]
	}
	got, err := feedChunks(1<<20, chunks...)
	if err != nil || !equalMsgs(got, want) {
		t.Fatalf("err %v, %d messages, want %d", err, len(got), len(want))
	}
}

func TestParseClose(t *testing.T) {
	cases := []struct {
		in     []byte
		code   int
		reason string
		errCl  int
	}{
		{nil, 1005, "", 0},
		{[]byte{0x03, 0xe8}, 1000, "", 0},
		{[]byte{0x0f, 0xa0, 'h', 'i'}, 4000, "hi", 0},
		{[]byte{0x03}, 0, "", CloseProtocolError},
		{[]byte{0x03, 0xed}, 0, "", CloseProtocolError},     // 1005 may not be sent
		{[]byte{0x03, 0xe8, 0xff}, 0, "", CloseInvalidUTF8}, // bad reason
		{[]byte{0x13, 0x88}, 0, "", CloseProtocolError},     // 5000
		{[]byte{0x03, 0xee}, 0, "", CloseProtocolError},     // 1006
		{[]byte{0x0b, 0xb8, 'o', 'k'}, 3000, "ok", 0},       // first registered code
		{[]byte{0x03, 0xf3}, 1011, "", 0},                   // internal error
	}
	for _, tc := range cases {
		code, reason, err := ParseClose(tc.in)
		if c := closeCode(err); c != tc.errCl {
			t.Errorf("%x: close code %d, want %d", tc.in, c, tc.errCl)
			continue
		}
		if tc.errCl == 0 && (code != tc.code || reason != tc.reason) {
			t.Errorf("%x: got %d %q", tc.in, code, reason)
		}
	}
}

func TestMask(t *testing.T) {
	key := []byte{1, 2, 3, 4}
	for n := range 40 {
		p := bytes.Repeat([]byte{0xaa}, n)
		want := make([]byte, n)
		for i := range p {
			want[i] = p[i] ^ key[i%4]
		}
		mask(p, key)
		if !bytes.Equal(p, want) {
			t.Fatalf("n=%d: %x, want %x", n, p, want)
		}
	}
}

// FuzzFrameParser feeds arbitrary bytes, split at an arbitrary point: the
// parser must never panic, never deliver a text message that is not UTF-8,
// and never deliver more than max bytes.
func FuzzFrameParser(f *testing.F) {
	f.Add(clientFrame(true, OpText, []byte("hello"), false), uint16(3))
	f.Add(append(clientFrame(false, OpText, []byte("he"), false), clientFrame(true, 0, []byte("llo"), false)...), uint16(7))
	f.Add(clientFrame(true, OpClose, []byte{3, 232}, false), uint16(1))
	f.Add([]byte{0x82, 0xff, 0, 0, 0, 1, 0, 0, 0, 0}, uint16(2))
	f.Add(clientFrame(true, OpBinary, bytes.Repeat([]byte{0}, 300), false), uint16(100))
	f.Fuzz(func(t *testing.T, data []byte, split uint16) {
		s := int(split) % (len(data) + 1)
		const max = 4096
		got, _ := feedChunks(max, data[:s], data[s:])
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

// FuzzFrameRoundTrip: any messages encoded as client frames, fragmented and
// delivered in arbitrary pieces, come out whole and in order.
func FuzzFrameRoundTrip(f *testing.F) {
	f.Add([]byte("hello"), []byte{0, 1, 2, 255}, uint8(3), uint8(5))
	f.Add([]byte(""), []byte(strings.Repeat("z", 500)), uint8(1), uint8(64))
	f.Fuzz(func(t *testing.T, a, b []byte, frag, chunk uint8) {
		fragSize := int(frag%32) + 1
		var stream []byte
		var want []gotMsg
		for _, m := range [][]byte{a, b} {
			op := byte(OpBinary)
			for i := 0; ; i += fragSize {
				end := min(i+fragSize, len(m))
				fop := op
				if i > 0 {
					fop = 0
				}
				stream = append(stream, clientFrame(end == len(m), fop, m[i:end], false)...)
				if end == len(m) {
					break
				}
			}
			want = append(want, gotMsg{op, string(m)})
		}
		step := int(chunk%64) + 1
		var chunks [][]byte
		for i := 0; i < len(stream); i += step {
			chunks = append(chunks, stream[i:min(i+step, len(stream))])
		}
		got, err := feedChunks(1<<20, chunks...)
		if err != nil || !equalMsgs(got, want) {
			t.Fatalf("err %v; got %q want %q", err, got, want)
		}
	})
}

// TestFragmentedTextFailsFast: invalid UTF-8 in a fragmented text message
// fails at the fragment that breaks it, before the final fragment arrives;
// a rune split between fragments is fine.
func TestFragmentedTextFailsFast(t *testing.T) {
	euro := "\u20ac" // 3 bytes: e2 82 ac
	tests := []struct {
		name    string
		frags   []string // all but the last are sent without FIN
		fin     bool     // send a final fragment after them
		wantErr bool
	}{
		{"rune split across fragments", []string{"a" + euro[:1], euro[1:2], euro[2:] + "b"}, true, false},
		{"bad byte in the first fragment", []string{"ok\xffmore"}, false, true},
		{"bad byte in a middle fragment", []string{"ok", "\xc0\xaf", "x"}, false, true},
		{"surrogate half", []string{"\xed\xa0", "\x80"}, false, true},
		{"above U+10FFFF", []string{"\xf4\x90"}, false, true},
		{"cut short at the end", []string{"a" + euro[:2]}, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var chunks [][]byte
			for i, f := range tt.frags {
				op := byte(0)
				if i == 0 {
					op = OpText
				}
				chunks = append(chunks, clientFrame(false, op, []byte(f), false))
			}
			if tt.fin {
				chunks = append(chunks, clientFrame(true, 0, nil, false))
			}
			got, err := feedChunks(1<<20, chunks...)
			if tt.wantErr {
				if closeCode(err) != CloseInvalidUTF8 {
					t.Fatalf("err = %v, want close 1007", err)
				}
				return
			}
			if err != nil || len(got) != 1 || got[0].data != strings.Join(tt.frags, "") {
				t.Fatalf("got %q, %v", got, err)
			}
		})
	}
}

func TestValidUTF8Prefix(t *testing.T) {
	for _, tt := range []struct {
		in   string
		n    int
		ok   bool
		full bool // the whole input is valid UTF-8
	}{
		{"", 0, true, true},
		{"abc", 3, true, true},
		{"a\u20ac", 4, true, true},
		{"a\xe2\x82", 1, true, false},
		{"a\xff", 1, false, false},
		{"\xf0\x9f\x98", 0, true, false},
		{"\xf0\x9f\x98\x80", 4, true, true},
	} {
		n, ok := validUTF8Prefix([]byte(tt.in))
		if n != tt.n || ok != tt.ok {
			t.Errorf("validUTF8Prefix(%q) = %d %v, want %d %v", tt.in, n, ok, tt.n, tt.ok)
		}
		if full := ok && n == len(tt.in); full != utf8.ValidString(tt.in) || full != tt.full {
			t.Errorf("%q: full %v, utf8.Valid %v", tt.in, full, utf8.ValidString(tt.in))
		}
	}
}

// FuzzValidUTF8Prefix: the prefix is valid UTF-8, the input is valid exactly
// when the whole of it is the prefix, and a rejected input is really
// invalid, however it continues.
func FuzzValidUTF8Prefix(f *testing.F) {
	for _, s := range []string{"", "abc", "a\u20ac", "a\xe2\x82", "\xff", "\xed\xa0\x80", "\xf4\x90\x80\x80"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		n, ok := validUTF8Prefix(b)
		if !utf8.Valid(b[:n]) {
			t.Fatalf("prefix %q not valid", b[:n])
		}
		if whole := ok && n == len(b); whole != utf8.Valid(b) {
			t.Fatalf("%q: whole %v, utf8.Valid %v", b, whole, utf8.Valid(b))
		}
		if !ok && utf8.Valid(append(b[:len(b):len(b)], "\x80\x80\x80"...)) {
			t.Fatalf("%q refused, but a continuation makes it valid", b)
		}
		if ok && n < len(b) && len(b)-n > 3 {
			t.Fatalf("%q: %d unvalidated bytes kept", b, len(b)-n)
		}
	})
}
