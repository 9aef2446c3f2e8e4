package socketio

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/wsgate/wsgate/bridge"
)

func TestDecodePacket(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Packet
	}{
		{"0", Packet{Type: Connect, Namespace: "/"}},
		{`0{"token":"abc"}`, Packet{Type: Connect, Namespace: "/", Data: []byte(`{"token":"abc"}`)}},
		{`0/admin,{"token":"abc"}`, Packet{Type: Connect, Namespace: "/admin", Data: []byte(`{"token":"abc"}`)}},
		{"0/admin,", Packet{Type: Connect, Namespace: "/admin"}},
		{"1/admin,", Packet{Type: Disconnect, Namespace: "/admin"}},
		{"1/admin", Packet{Type: Disconnect, Namespace: "/admin"}},
		{"1", Packet{Type: Disconnect, Namespace: "/"}},
		{`2["hello",1]`, Packet{Type: Event, Namespace: "/", Data: []byte(`["hello",1]`)}},
		{`2/shop,12["order.create",{"sku":"A1"}]`, Packet{Type: Event, Namespace: "/shop", ID: 12, HasID: true, Data: []byte(`["order.create",{"sku":"A1"}]`)}},
		{`212["x"]`, Packet{Type: Event, Namespace: "/", ID: 12, HasID: true, Data: []byte(`["x"]`)}},
		{`3/shop,12["ok"]`, Packet{Type: Ack, Namespace: "/shop", ID: 12, HasID: true, Data: []byte(`["ok"]`)}},
		{`30[]`, Packet{Type: Ack, Namespace: "/", ID: 0, HasID: true, Data: []byte(`[]`)}},
		{`51-["up",{"_placeholder":true,"num":0}]`, Packet{Type: BinaryEvent, Attachments: 1, Namespace: "/", Data: []byte(`["up",{"_placeholder":true,"num":0}]`)}},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := DecodePacket([]byte(tc.in), 10)
			if err != nil {
				t.Fatal(err)
			}
			if got.Type != tc.want.Type || got.Namespace != tc.want.Namespace || got.ID != tc.want.ID ||
				got.HasID != tc.want.HasID || got.Attachments != tc.want.Attachments || string(got.Data) != string(tc.want.Data) {
				t.Fatalf("got %+v (data %s), want %+v (data %s)", got, got.Data, tc.want, tc.want.Data)
			}
			enc := AppendPacket(nil, got.Type, got.Attachments, got.Namespace, got.ID, got.HasID, got.Data)
			back, err := DecodePacket(enc[1:], 10)
			if err != nil || back.Namespace != got.Namespace || back.ID != got.ID || string(back.Data) != string(got.Data) {
				t.Fatalf("round trip of %q: %+v, %v", enc, back, err)
			}
		})
	}
}

func TestDecodePacketRefuses(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want error
	}{
		{"", ErrMalformed},
		{"7", ErrMalformed},
		{"x", ErrMalformed},
		{"2", ErrMalformed},                       // EVENT without payload
		{`2{}`, ErrMalformed},                     // not an array
		{`2[]`, ErrMalformed},                     // no event name
		{`2[1]`, ErrMalformed},                    // name not a string
		{`2["a"`, ErrMalformed},                   // not JSON
		{`0"tok"`, ErrMalformed},                  // CONNECT payload not an object
		{`1{}`, ErrMalformed},                     // DISCONNECT with payload
		{`4{"message":"x"}`, ErrMalformed},        // CONNECT_ERROR from a client
		{`3["x"]`, ErrMalformed},                  // ACK without id
		{`312{}`, ErrMalformed},                   // ACK not an array
		{`5["x"]`, ErrMalformed},                  // BINARY_EVENT without count
		{`5x-["x"]`, ErrMalformed},                // count not digits
		{`511-["x"]`, ErrTooLarge},                // over the limit
		{`512345-["x"]`, ErrMalformed},            // count too long
		{`299999999999999999["x"]`, ErrMalformed}, // id too long
		{`29999999999999999["x"]`, ErrMalformed},  // id over 2^53
		{"0/" + strings.Repeat("a", 300) + ",", ErrTooLarge},
	} {
		t.Run(tc.in, func(t *testing.T) {
			_, err := DecodePacket([]byte(tc.in), 10)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
		})
	}
}

func TestSplitEvent(t *testing.T) {
	for _, tc := range []struct{ in, name, rest, body string }{
		{`["a"]`, "a", ``, `[]`},
		{`["a",1]`, "a", `1`, `1`},
		{`[ "a" , {"x":[1,"]"]} ]`, "a", `{"x":[1,"]"]}`, `{"x":[1,"]"]}`},
		{`["a",1,"two",[3]]`, "a", `1,"two",[3]`, `[1,"two",[3]]`},
		{`["a\"b\u0000",null]`, "a\"b\x00", `null`, `null`},
		{`["a",[1,2]]`, "a", `[1,2]`, `[1,2]`},
	} {
		name, rest, err := splitEvent([]byte(tc.in))
		if err != nil || name != tc.name || string(rest) != tc.rest {
			t.Errorf("%s: %q %q %v", tc.in, name, rest, err)
			continue
		}
		body, spread := argsBody(rest)
		if string(body) != tc.body || spread != (tc.body[0] == '[' && tc.rest != tc.body) {
			t.Errorf("%s: body %s spread %v", tc.in, body, spread)
		}
	}
}

func TestAppendArgs(t *testing.T) {
	for _, tc := range []struct {
		body   string
		spread bool
		want   string
	}{
		{`{"a":1}`, false, `{"a":1}`},
		{`[1,2]`, false, `[1,2]`},
		{`[1,2]`, true, `1,2`},
		{`[]`, true, ``},
		{`plain text`, false, `"plain text"`},
		{``, false, ``},
		{"\xff\x00", false, `"/wA="`},
		{`not json`, true, `"not json"`},
	} {
		if got := string(appendArgs(nil, []byte(tc.body), tc.spread)); got != tc.want {
			t.Errorf("%q spread %v: %s, want %s", tc.body, tc.spread, got, tc.want)
		}
	}
}

// seeds are the wire packets of testdata/packets.txt, one per line.
func seeds(tb testing.TB) [][]byte {
	f, err := os.Open("testdata/packets.txt")
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var out [][]byte
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := sc.Text(); line != "" && !strings.HasPrefix(line, "#") {
			out = append(out, []byte(line))
		}
	}
	return out
}

// FuzzDecodePacket checks that DecodePacket never panics, that its errors
// are of its kinds, and that what it accepts encodes to what decodes to
// the same packet.
func FuzzDecodePacket(f *testing.F) {
	for _, b := range seeds(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := DecodePacket(b, 10)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("error of no kind: %v", err)
			}
			return
		}
		enc := AppendPacket(nil, p.Type, p.Attachments, p.Namespace, p.ID, p.HasID, p.Data)
		back, err := DecodePacket(enc[1:], 10)
		if err != nil {
			t.Fatalf("decode of re-encoded %q: %v", enc, err)
		}
		if back.Type != p.Type || back.Namespace != p.Namespace || back.ID != p.ID || back.HasID != p.HasID || string(back.Data) != string(p.Data) {
			t.Fatalf("round trip: %+v, want %+v", back, p)
		}
		if p.Type == Event || p.Type == BinaryEvent {
			_, rest, err := splitEvent(p.Data)
			if err != nil {
				t.Fatal(err)
			}
			body, spread := argsBody(rest)
			if !validJSON(body) {
				t.Fatalf("body %q of %q is not JSON", body, b)
			}
			if spread && firstByte(body) != '[' {
				t.Fatalf("spread body %q", body)
			}
			if args := appendArgs(nil, body, spread); !validJSON(append(append([]byte("["), args...), ']')) {
				t.Fatalf("args %q of %q", args, b)
			}
		}
	})
}

// FuzzAttachArgs checks that filling placeholders never panics and gives
// JSON, or the bytes of one attachment.
func FuzzAttachArgs(f *testing.F) {
	f.Add([]byte(`{"_placeholder":true,"num":0}`), []byte{1})
	f.Add([]byte(`{"a":[{"_placeholder":true,"num":1}]},{"_placeholder":true,"num":0}`), []byte("xy"))
	f.Add([]byte(`{"_placeholder":true,"num":-1}`), []byte{})
	f.Add([]byte(`{"_placeholder":true,"num":"0"}`), []byte{})
	f.Fuzz(func(t *testing.T, rest, att []byte) {
		arr := append(append([]byte{'['}, rest...), ']')
		if !validJSON(arr) {
			return
		}
		body, spread, binary, filled, err := attachArgs(rest, [][]byte{att, att})
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error of no kind: %v", err)
			}
			return
		}
		if binary {
			if !bytes.Equal(body, att) || spread {
				t.Fatalf("binary body %q", body)
			}
			return
		}
		if !validJSON(body) || !validJSON(append(append([]byte{'['}, filled...), ']')) {
			t.Fatalf("body %q filled %q", body, filled)
		}
	})
}

func TestElements(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{`[]`, nil},
		{`[1]`, []string{`1`}},
		{`[1,"a",true,null]`, []string{`1`, `"a"`, `true`, `null`}},
		{`[ {"a":[1,"]"]} , [2] ,-3.5e2 ]`, []string{`{"a":[1,"]"]}`, `[2]`, `-3.5e2`}},
		{`["x\"y",{}]`, []string{`"x\"y"`, `{}`}},
	} {
		got := elements([]byte(tc.in), -1)
		if len(got) != len(tc.want) {
			t.Errorf("%s: %q", tc.in, got)
			continue
		}
		for i := range got {
			if string(got[i]) != tc.want[i] {
				t.Errorf("%s: element %d %q, want %s", tc.in, i, got[i], tc.want[i])
			}
		}
	}
}

// FuzzElements checks the array splitter against encoding/json.
func FuzzElements(f *testing.F) {
	for _, s := range []string{`[]`, `[1,"a",true,null]`, `[ {"a":[1,"]"]} , [2] ,-3.5e2 ]`, `["x\"y",{}]`, `[[[]],{"":{}}]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var want []json.RawMessage
		if json.Unmarshal(b, &want) != nil || firstByte(b) != '[' {
			return
		}
		got := elements(b, -1)
		if len(got) != len(want) {
			t.Fatalf("%q: %d elements, want %d", b, len(got), len(want))
		}
		for i := range got {
			var g, w bytes.Buffer
			if json.Compact(&g, got[i]) != nil || json.Compact(&w, want[i]) != nil || g.String() != w.String() {
				t.Fatalf("%q: element %d %q, want %q", b, i, got[i], want[i])
			}
		}
	})
}

// BenchmarkEmitDecode is the per-message path of a client's emit up to the
// publish: decode, split, subject, body.
func BenchmarkEmitDecode(b *testing.B) {
	in := []byte(`2/shop,["order.create",{"sku":"A1","qty":2}]`)
	b.ReportAllocs()
	for b.Loop() {
		p, err := DecodePacket(in, 10)
		if err != nil {
			b.Fatal(err)
		}
		name, rest, _ := splitEvent(p.Data)
		if _, err := eventSubject("sio", "shop", name); err != nil {
			b.Fatal(err)
		}
		argsBody(rest)
	}
}

// BenchmarkEventEncode is the encoding of a delivery, done once per
// namespace for every local receiver.
func BenchmarkEventEncode(b *testing.B) {
	m := &bridge.Message{Subject: "sio-room.shop.r1", Header: bridge.Header{HeaderEvent: {"news"}}, Data: []byte(`{"text":"hello, room"}`)}
	b.ReportAllocs()
	for b.Loop() {
		eventPacket("/shop", m, 0, false, "")
	}
}
