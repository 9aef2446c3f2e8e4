package stomp

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
)

// parseCase is one row of the wire-bytes table: Parse applied to in, again
// and again while frames come, must give want and then leave rest.
type parseCase struct {
	name string
	v    Version
	in   string
	want []*Frame
	rest int   // bytes left unparsed (an incomplete frame)
	err  error // the error Parse must end with
}

func hf(kv ...string) []HeaderField {
	var h []HeaderField
	for i := 0; i+1 < len(kv); i += 2 {
		h = append(h, HeaderField{kv[i], kv[i+1]})
	}
	return h
}

var parseCases = []parseCase{
	{name: "connect", v: V12, in: "CONNECT\naccept-version:1.2\nhost:a\n\n\x00",
		want: []*Frame{{Command: "CONNECT", Headers: hf("accept-version", "1.2", "host", "a")}}},
	{name: "stomp command", v: V12, in: "STOMP\naccept-version:1.0,1.1,1.2\n\n\x00",
		want: []*Frame{{Command: "STOMP", Headers: hf("accept-version", "1.0,1.1,1.2")}}},
	{name: "connect is never unescaped", v: V12, in: "CONNECT\npasscode:a\\nb\\c\n\n\x00",
		want: []*Frame{{Command: "CONNECT", Headers: hf("passcode", `a\nb\c`)}}},
	{name: "send with body", v: V12, in: "SEND\ndestination:/topic/a.b\n\nhello\x00",
		want: []*Frame{{Command: "SEND", Headers: hf("destination", "/topic/a.b"), Body: []byte("hello")}}},
	{name: "crlf lines", v: V12, in: "SEND\r\ndestination:a\r\n\r\nx\x00",
		want: []*Frame{{Command: "SEND", Headers: hf("destination", "a"), Body: []byte("x")}}},
	{name: "content-length with NULs", v: V12, in: "SEND\ndestination:a\ncontent-length:5\n\na\x00b\x00c\x00",
		want: []*Frame{{Command: "SEND", Headers: hf("destination", "a", "content-length", "5"), Body: []byte("a\x00b\x00c")}}},
	{name: "empty content-length", v: V12, in: "SEND\ndestination:a\ncontent-length:0\n\n\x00",
		want: []*Frame{{Command: "SEND", Headers: hf("destination", "a", "content-length", "0")}}},
	{name: "escapes 1.2", v: V12, in: "SEND\nk\\c1:a\\nb\\rc\\\\d\\ce\n\n\x00",
		want: []*Frame{{Command: "SEND", Headers: hf("k:1", "a\nb\rc\\d:e")}}},
	{name: "escapes 1.1", v: V11, in: "SEND\nk:a\\nb\\c\\\\\n\n\x00",
		want: []*Frame{{Command: "SEND", Headers: hf("k", "a\nb:\\")}}},
	{name: "no \\r in 1.1", v: V11, in: "SEND\nk:a\\rb\n\n\x00", err: ErrBadEscape},
	{name: "no escapes in 1.0", v: V10, in: "SEND\nk:a\\nb\\t\n\n\x00",
		want: []*Frame{{Command: "SEND", Headers: hf("k", `a\nb\t`)}}},
	{name: "undefined escape", v: V12, in: "SEND\nk:a\\tb\n\n\x00", err: ErrBadEscape},
	{name: "trailing backslash", v: V12, in: "SEND\nk:a\\\n\n\x00", err: ErrBadEscape},
	{name: "colon in value", v: V10, in: "SEND\nk:a:b\n\n\x00",
		want: []*Frame{{Command: "SEND", Headers: hf("k", "a:b")}}},
	{name: "repeated header kept in order", v: V12, in: "SEND\nk:1\nk:2\n\n\x00",
		want: []*Frame{{Command: "SEND", Headers: hf("k", "1", "k", "2")}}},
	{name: "empty value", v: V12, in: "SEND\nk:\n\n\x00",
		want: []*Frame{{Command: "SEND", Headers: hf("k", "")}}},
	{name: "two frames and heart-beats", v: V12, in: "\n\r\nSEND\ndestination:a\n\n1\x00\n\nSEND\ndestination:b\n\n2\x00\n",
		want: []*Frame{
			{Command: "SEND", Headers: hf("destination", "a"), Body: []byte("1")},
			{Command: "SEND", Headers: hf("destination", "b"), Body: []byte("2")},
		}},
	{name: "only heart-beats", v: V12, in: "\n\n\r\n"},
	{name: "incomplete header", v: V12, in: "SEND\ndestin", rest: 11},
	{name: "incomplete body", v: V12, in: "SEND\ndestination:a\n\nabc", rest: 23},
	{name: "incomplete content-length body", v: V12, in: "SEND\ncontent-length:4\n\nab\x00", rest: 26},
	{name: "frame then incomplete", v: V12, in: "DISCONNECT\n\n\x00\nSEND\n", rest: 5,
		want: []*Frame{{Command: "DISCONNECT"}}},
	{name: "lone CR waits", v: V12, in: "\r", rest: 1},
	{name: "unknown command", v: V12, in: "FOO\n\n\x00", err: ErrBadCommand},
	{name: "lower-case command", v: V12, in: "send\n\n\x00", err: ErrBadCommand},
	{name: "header without colon", v: V12, in: "SEND\nabc\n\n\x00", err: ErrBadHeader},
	{name: "bad content-length", v: V12, in: "SEND\ncontent-length:-1\n\n\x00", err: ErrBadLength},
	{name: "content-length not a number", v: V12, in: "SEND\ncontent-length:1e3\n\n\x00", err: ErrBadLength},
	{name: "content-length too large", v: V12, in: "SEND\ncontent-length:999999999\n\n", err: ErrFrameTooLarge},
	{name: "content-length overflow", v: V12, in: "SEND\ncontent-length:99999999999999999999\n\n", err: ErrBadLength},
	{name: "content-length but no NUL", v: V12, in: "SEND\ncontent-length:1\n\nab", err: ErrNoNull},
	{name: "server frame parses", v: V12, in: "MESSAGE\nsubscription:0\nmessage-id:1\ndestination:a\n\nx\x00",
		want: []*Frame{{Command: "MESSAGE", Headers: hf("subscription", "0", "message-id", "1", "destination", "a"), Body: []byte("x")}}},
}

func TestParse(t *testing.T) {
	for _, tc := range parseCases {
		t.Run(tc.name, func(t *testing.T) {
			got, rest, err := parseAll([]byte(tc.in), tc.v, Limits{})
			if !errors.Is(err, tc.err) || (err != nil) != (tc.err != nil) {
				t.Fatalf("error %v, want %v", err, tc.err)
			}
			if tc.err != nil {
				return
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("frames\n got %s\nwant %s", dump(got), dump(tc.want))
			}
			if rest != tc.rest {
				t.Errorf("%d bytes left, want %d", rest, tc.rest)
			}
		})
	}
}

// parseAll parses frames from b until it needs more bytes; it returns them
// and how many bytes are left.
func parseAll(b []byte, v Version, lim Limits) ([]*Frame, int, error) {
	var out []*Frame
	for len(b) > 0 {
		f, n, err := Parse(b, v, lim)
		if err != nil {
			return out, len(b), err
		}
		if n > len(b) || n < 0 {
			return out, len(b), errors.New("n out of range")
		}
		b = b[n:]
		if f == nil {
			if n == 0 {
				break
			}
			continue
		}
		out = append(out, f)
	}
	return out, len(b), nil
}

// stream parses what r yields in whatever pieces it yields them, keeping
// what is incomplete as the connection does.
func stream(r io.Reader, v Version, lim Limits) ([]*Frame, error) {
	var out []*Frame
	var buf []byte
	chunk := make([]byte, 7)
	for {
		n, rerr := r.Read(chunk)
		buf = append(buf, chunk[:n]...)
		fs, rest, err := parseAll(buf, v, lim)
		out = append(out, fs...)
		if err != nil {
			return out, err
		}
		buf = append(buf[:0], buf[len(buf)-rest:]...)
		if rerr == io.EOF {
			return out, nil
		}
		if rerr != nil {
			return out, rerr
		}
	}
}

// TestParseSplit feeds every table input in small pieces (one byte at a
// time, half reads, and the data-error tail of iotest): the frames must be
// those of the whole input.
func TestParseSplit(t *testing.T) {
	readers := map[string]func(io.Reader) io.Reader{
		"one byte": iotest.OneByteReader,
		"half":     iotest.HalfReader,
		"data err": iotest.DataErrReader,
	}
	for _, tc := range parseCases {
		for rn, wrap := range readers {
			t.Run(tc.name+"/"+rn, func(t *testing.T) {
				got, err := stream(wrap(strings.NewReader(tc.in)), tc.v, Limits{})
				if !errors.Is(err, tc.err) || (err != nil) != (tc.err != nil) {
					t.Fatalf("error %v, want %v", err, tc.err)
				}
				if tc.err == nil && !reflect.DeepEqual(got, tc.want) {
					t.Errorf("frames\n got %s\nwant %s", dump(got), dump(tc.want))
				}
			})
		}
	}
}

func TestParseLimits(t *testing.T) {
	lim := Limits{MaxFrame: 64, MaxHeaders: 2, MaxLine: 20}
	for _, tc := range []struct {
		name string
		in   string
		err  error
	}{
		{"within", "SEND\na:1\nb:2\n\nbody\x00", nil},
		{"too many headers", "SEND\na:1\nb:2\nc:3\n\n\x00", ErrTooManyHeader},
		{"long line", "SEND\naaaaaaaaaaaaaaaaaaaaa:1\n\n\x00", ErrHeaderTooLong},
		{"long line before its end", "SEND\naaaaaaaaaaaaaaaaaaaaaa", ErrHeaderTooLong},
		{"long command line", "SENDSENDSENDSENDSENDS", ErrHeaderTooLong},
		{"body too large", "SEND\n\n" + strings.Repeat("x", 64), ErrFrameTooLarge},
		{"content-length too large", "SEND\ncontent-length:60\n\n", ErrFrameTooLarge},
		{"content-length fits", "SEND\ncontent-length:39\n\n" + strings.Repeat("x", 39) + "\x00", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := parseAll([]byte(tc.in), V12, lim)
			if !errors.Is(err, tc.err) || (err != nil) != (tc.err != nil) {
				t.Fatalf("error %v, want %v", err, tc.err)
			}
		})
	}
}

// TestParseBigLengthAllocatesNothing checks that a huge content-length is
// refused before anything is allocated for it.
func TestParseBigLengthAllocatesNothing(t *testing.T) {
	in := []byte("SEND\ncontent-length:900000000\n\n")
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range 10 {
		if _, _, err := Parse(in, V12, Limits{}); !errors.Is(err, ErrFrameTooLarge) {
			t.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	if d := after.TotalAlloc - before.TotalAlloc; d > 64<<10 {
		t.Errorf("%d bytes allocated refusing 10 frames", d)
	}
}

func TestAppendRoundTrip(t *testing.T) {
	f := &Frame{Command: CmdMessage, Headers: hf("destination", "/topic/a", "odd:key", "line\nbreak\\back", "cr", "a\rb"), Body: []byte("body")}
	for _, tc := range []struct {
		v    Version
		wire string
	}{
		{V12, "MESSAGE\ndestination:/topic/a\nodd\\ckey:line\\nbreak\\\\back\ncr:a\\rb\n\nbody\x00"},
		{V11, "MESSAGE\ndestination:/topic/a\nodd\\ckey:line\\nbreak\\\\back\ncr:a\rb\n\nbody\x00"},
	} {
		got := string(f.Append(nil, tc.v))
		if got != tc.wire {
			t.Errorf("%s: got %q, want %q", tc.v, got, tc.wire)
		}
	}
	back, n, err := Parse(f.Append(nil, V12), V12, Limits{})
	if err != nil || n != len(f.Append(nil, V12)) || !reflect.DeepEqual(back, f) {
		t.Errorf("round trip: %s, %d, %v", dump([]*Frame{back}), n, err)
	}
	c := &Frame{Command: CmdConnected, Headers: hf("server", "a:b\\c")}
	if got := string(c.Append(nil, V12)); got != "CONNECTED\nserver:a:b\\c\n\n\x00" {
		t.Errorf("CONNECTED escaped: %q", got)
	}
}

func TestHeaderSafe(t *testing.T) {
	for _, tc := range []struct {
		name, value string
		v           Version
		ok          bool
	}{
		{"a", "b", V10, true},
		{"a", "b:c", V10, true},
		{"a:b", "c", V10, false},
		{"a", "b\nc", V10, false},
		{"a", "b\nc", V11, true},
		{"a", "b\rc", V11, false},
		{"a", "b\rc", V12, true},
		{"a", "b\x00c", V12, false},
		{"", "b", V12, false},
	} {
		if got := headerSafe(tc.name, tc.value, tc.v); got != tc.ok {
			t.Errorf("headerSafe(%q, %q, %s) = %v", tc.name, tc.value, tc.v, got)
		}
	}
}

func dump(fs []*Frame) string {
	var sb strings.Builder
	for _, f := range fs {
		if f == nil {
			sb.WriteString("<nil> ")
			continue
		}
		sb.WriteString(strings.ReplaceAll(string(f.Append(nil, V10)), "\x00", "^@"))
		sb.WriteString(" | ")
	}
	return sb.String()
}

// FuzzParse checks that Parse never panics, never claims more bytes than
// it has, gives the same frames whole and split, that a Decoder fed the
// input in pieces agrees with it, and that what it parses encodes back to
// what parses the same.
func FuzzParse(f *testing.F) {
	for _, tc := range parseCases {
		f.Add([]byte(tc.in), uint8(tc.v))
	}
	seeds, _ := filepath.Glob("testdata/*.stomp")
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, uint8(V12))
	}
	f.Fuzz(func(t *testing.T, b []byte, vb uint8) {
		v := Version(vb%3 + 1)
		lim := Limits{MaxFrame: 4096, MaxHeaders: 8, MaxLine: 256}
		whole, rest, err := parseAll(b, v, lim)
		if rest > len(b) {
			t.Fatalf("rest %d > %d", rest, len(b))
		}
		split, serr := stream(iotest.OneByteReader(bytes.NewReader(b)), v, lim)
		if (err == nil) != (serr == nil) && !errors.Is(serr, ErrFrameTooLarge) && !errors.Is(serr, ErrHeaderTooLong) {
			// A split input may hit a size limit on an incomplete prefix
			// that the whole input ends differently; otherwise the two agree.
			t.Fatalf("whole: %v, split: %v", err, serr)
		}
		if err == nil && serr == nil && !reflect.DeepEqual(whole, split) {
			t.Fatalf("whole %s\nsplit %s", dump(whole), dump(split))
		}
		for _, sizes := range [][]int{{1 << 20}, {1}, {3, 1, 7}} {
			dec, derr := decodeSplit(b, v, lim, sizes...)
			if (err == nil) != (derr == nil) {
				t.Fatalf("decoder %v: %v, whole: %v", sizes, derr, err)
			}
			if err == nil && !reflect.DeepEqual(whole, dec) {
				t.Fatalf("whole %s\ndecoder %v %s", dump(whole), sizes, dump(dec))
			}
		}
		for _, fr := range whole {
			if v == V10 && fr.Command != CmdConnect {
				continue // 1.0 cannot carry every header it parses back
			}
			enc := fr.Append(nil, v)
			if bytes.IndexByte(fr.Body, 0) >= 0 {
				if _, ok := fr.Get("content-length"); !ok {
					t.Fatalf("NUL in a body without content-length: %q", b)
				}
			}
			if _, hasCL := fr.Get("content-length"); !hasCL && escapes(v, fr.Command) {
				again, n, err := Parse(enc, v, Limits{MaxFrame: 1 << 20, MaxHeaders: 64, MaxLine: 1 << 20})
				if err != nil || n != len(enc) || !reflect.DeepEqual(again, fr) {
					t.Fatalf("re-parse of %q: %v %d %s", enc, err, n, dump([]*Frame{again}))
				}
			}
		}
	})
}
