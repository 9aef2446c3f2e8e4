package wamp

import (
	"bufio"
	"encoding/hex"
	"errors"
	"math"
	"os"
	"reflect"
	"strings"
	"testing"
)

var testLimits = Limits{MaxBytes: 1 << 16, MaxDepth: 16}

var serializers = []Serializer{JSON, Msgpack, CBOR}

// everyMessage has one message of each type, with payloads of every kind
// of value.
func everyMessage() []Message {
	args := List{int64(1), "two", 3.5, true, nil, []byte{0, 1, 0xff}, List{int64(-7)}, Dict{"k": "v"}, uint64(math.MaxUint64), int64(maxID)}
	kw := Dict{"a": int64(1), "nested": Dict{"b": List{"c"}}, "bin": []byte("x")}
	d := Dict{"x": "y"}
	return []Message{
		&Hello{Realm: "realm1", Details: Dict{"roles": Dict{"caller": Dict{}}, "authmethods": List{"ticket"}}},
		&Welcome{Session: 42, Details: d},
		&Abort{Details: d, Reason: "wamp.error.no_such_realm"},
		&Challenge{AuthMethod: "ticket", Extra: Dict{}},
		&Authenticate{Signature: "secret", Extra: Dict{}},
		&Goodbye{Details: Dict{}, Reason: "wamp.close.close_realm"},
		&Error{RequestType: TypeCall, Request: 7, Details: Dict{}, Error: "com.app.error", Args: args, Kwargs: kw},
		&Error{RequestType: TypeSubscribe, Request: 8, Details: Dict{}, Error: "wamp.error.not_authorized"},
		&Publish{Request: 1, Options: Dict{"acknowledge": true}, Topic: "com.app.t", Args: args},
		&Publish{Request: 1, Options: Dict{}, Topic: "com.app.t", Kwargs: kw, Args: List{}},
		&Published{Request: 1, Publication: maxID},
		&Subscribe{Request: 2, Options: Dict{"match": "prefix"}, Topic: "com.app"},
		&Subscribed{Request: 2, Subscription: 99},
		&Unsubscribe{Request: 3, Subscription: 99},
		&Unsubscribed{Request: 3},
		&Event{Subscription: 99, Publication: 5, Details: Dict{"topic": "com.app.x"}, Args: args, Kwargs: kw},
		&Call{Request: 4, Options: Dict{"timeout": int64(1000)}, Procedure: "com.app.add", Args: List{int64(2), int64(3)}},
		&Cancel{Request: 4, Options: Dict{"mode": "kill"}},
		&Result{Request: 4, Details: Dict{"progress": true}, Args: List{int64(5)}},
		&Register{Request: 5, Options: Dict{"invoke": "roundrobin"}, Procedure: "com.app.add"},
		&Registered{Request: 5, Registration: 77},
		&Unregister{Request: 6, Registration: 77},
		&Unregistered{Request: 6},
		&Invocation{Request: 9, Registration: 77, Details: Dict{}, Args: List{"a"}},
		&Interrupt{Request: 9, Options: Dict{}},
		&Yield{Request: 9, Options: Dict{"progress": true}, Args: List{}, Kwargs: kw},
	}
}

// TestRoundTrip encodes every message with every serializer and decodes it
// back to the same message.
func TestRoundTrip(t *testing.T) {
	for _, ser := range serializers {
		t.Run(ser.Subprotocol(), func(t *testing.T) {
			for _, m := range everyMessage() {
				b, err := Encode(ser, nil, m)
				if err != nil {
					t.Fatalf("%s: %v", m.Type(), err)
				}
				got, err := Decode(ser, b, testLimits)
				if err != nil {
					t.Fatalf("%s: decode %q: %v", m.Type(), b, err)
				}
				if !sameMessage(got, m) {
					t.Errorf("%s:\n got %#v\nwant %#v", m.Type(), got, m)
				}
			}
		})
	}
}

// sameMessage compares two messages treating a nil and an empty list or
// dict alike (an empty payload is left out on the wire).
func sameMessage(a, b Message) bool {
	return reflect.DeepEqual(a.list(), b.list())
}

func TestWireFormat(t *testing.T) {
	for _, tc := range []struct {
		m    Message
		want string
	}{
		{&Welcome{Session: 1, Details: Dict{}}, `[2,1,{}]`},
		{&Event{Subscription: 2, Publication: 3, Details: Dict{}}, `[36,2,3,{}]`},
		{&Event{Subscription: 2, Publication: 3, Details: Dict{}, Args: List{"a"}}, `[36,2,3,{},["a"]]`},
		{&Event{Subscription: 2, Publication: 3, Details: Dict{}, Kwargs: Dict{"k": int64(1)}}, `[36,2,3,{},[],{"k":1}]`},
		{&Result{Request: 1, Details: Dict{}, Args: List{[]byte{1, 2, 3}, 2.0, 1e21, "é\n\x01<"}}, `[50,1,{},["\u0000AQID",2.0,1e+21,"é\n\u0001<"]]`},
		{&Error{RequestType: TypeCall, Request: 5, Details: Dict{}, Error: "wamp.error.no_such_procedure"}, `[8,48,5,{},"wamp.error.no_such_procedure"]`},
	} {
		b, err := Encode(JSON, nil, tc.m)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != tc.want {
			t.Errorf("%s: got %s, want %s", tc.m.Type(), b, tc.want)
		}
	}
}

// TestCBORTypedArray: a Uint8Array from a JavaScript CBOR encoder (tag 64)
// is binary.
func TestCBORTypedArray(t *testing.T) {
	b, _ := hex.DecodeString("8201" + "d840" + "43010203")
	v, err := CBOR.Decode(b, testLimits)
	if err != nil || !reflect.DeepEqual(v, []any{int64(1), []byte{1, 2, 3}}) {
		t.Fatalf("%#v %v", v, err)
	}
}

// TestBinaryAcrossSerializers: bytes from MessagePack or CBOR survive a
// trip through JSON (the NATS body's encoding) and back.
func TestBinaryAcrossSerializers(t *testing.T) {
	bin := []byte{0, 0xff, 'a', 0x80}
	for _, ser := range []Serializer{Msgpack, CBOR} {
		b, _ := Encode(ser, nil, &Publish{Request: 1, Options: Dict{}, Topic: "t", Args: List{bin}})
		m, err := Decode(ser, b, testLimits)
		if err != nil {
			t.Fatal(err)
		}
		j, _ := Encode(JSON, nil, m)
		back, err := Decode(JSON, j, testLimits)
		if err != nil {
			t.Fatal(err)
		}
		b2, _ := Encode(ser, nil, back)
		m2, _ := Decode(ser, b2, testLimits)
		if got := m2.(*Publish).Args[0]; !reflect.DeepEqual(got, bin) {
			t.Errorf("%s: %#v after JSON, want %#v", ser.Subprotocol(), got, bin)
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	deep := strings.Repeat("[", 20) + strings.Repeat("]", 20)
	for _, tc := range []struct {
		name, in string
		want     error
	}{
		{"not json", `[1,"realm1",{}`, ErrMalformed},
		{"not an array", `{"a":1}`, ErrMalformed},
		{"empty", `[]`, ErrMalformed},
		{"trailing data", `[1,"r",{}] [2]`, ErrMalformed},
		{"unknown type", `[99,1,{}]`, ErrMalformed},
		{"type not an integer", `["1","r",{}]`, ErrMalformed},
		{"negative type", `[-1,"r",{}]`, ErrMalformed},
		{"hello realm not a string", `[1,7,{}]`, ErrMalformed},
		{"hello details not a dict", `[1,"r",[]]`, ErrMalformed},
		{"hello too short", `[1,"r"]`, ErrMalformed},
		{"hello too long", `[1,"r",{},1]`, ErrMalformed},
		{"id zero", `[32,0,{},"t"]`, ErrMalformed},
		{"id negative", `[32,-1,{},"t"]`, ErrMalformed},
		{"id above 2^53", `[32,9007199254740993,{},"t"]`, ErrMalformed},
		{"id not integral", `[32,1.5,{},"t"]`, ErrMalformed},
		{"id a string", `[32,"1",{},"t"]`, ErrMalformed},
		{"args not a list", `[16,1,{},"t",{}]`, ErrMalformed},
		{"kwargs not a dict", `[16,1,{},"t",[],[]]`, ErrMalformed},
		{"too many elements", `[16,1,{},"t",[],{},1]`, ErrMalformed},
		{"error request type a string", `[8,"x",1,{},"e"]`, ErrMalformed},
		{"too deep", `[16,1,{},"t",` + deep + `]`, ErrTooDeep},
		{"too large", `[16,1,{},"t",["` + strings.Repeat("x", 1<<16) + `"]]`, ErrTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(JSON, []byte(tc.in), testLimits)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
	// The largest id is accepted.
	if _, err := Decode(JSON, []byte(`[32,9007199254740992,{},"t"]`), testLimits); err != nil {
		t.Errorf("id 2^53: %v", err)
	}
}

func TestDecodeErrorsBinary(t *testing.T) {
	for _, tc := range []struct {
		name string
		ser  Serializer
		hex  string
		want error
	}{
		// fixarray(3) [1, "r", map with int key]
		{"msgpack int map key", Msgpack, "9301a172" + "81" + "01" + "01", ErrMalformed},
		// fixarray(2) [1, ext]
		{"msgpack ext type", Msgpack, "9201" + "d40101", ErrMalformed},
		// array32 declaring 2^32-1 elements, then nothing
		{"msgpack huge array", Msgpack, "ddffffffff", ErrMalformed},
		// map32 declaring 2^32-1 pairs
		{"msgpack huge map", Msgpack, "9101dfffffffff", ErrMalformed},
		// str32 declaring 4 GiB
		{"msgpack huge string", Msgpack, "9201dbffffffff", ErrMalformed},
		{"msgpack trailing bytes", Msgpack, "910101", ErrMalformed},
		{"msgpack not an array", Msgpack, "01", ErrMalformed},
		{"msgpack deep", Msgpack, strings.Repeat("91", 20) + "01", ErrTooDeep},
		// [1, tag(1) 0]
		{"cbor tag", CBOR, "8201" + "c100", ErrMalformed},
		// [1, tag(2) h'01'] (a bignum)
		{"cbor bignum", CBOR, "8201" + "c24101", ErrMalformed},
		// [1, tag(64) 0]: a typed array must hold bytes
		{"cbor tag 64 not bytes", CBOR, "8201" + "d84000", ErrMalformed},
		// array with 2^32 elements declared
		{"cbor huge array", CBOR, "9affffffff", ErrMalformed},
		{"cbor int map key", CBOR, "8301617" + "2" + "a10101", ErrMalformed},
		{"cbor deep", CBOR, strings.Repeat("81", 20) + "01", ErrTooDeep},
		{"cbor invalid utf-8", CBOR, "830162ff" + "fe" + "a0", ErrMalformed},
		{"cbor trailing bytes", CBOR, "810101", ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := hex.DecodeString(tc.hex)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Decode(tc.ser, b, testLimits)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

// seeds reads testdata/<name>: one message a line, hex for the binary
// serializers.
func seeds(tb testing.TB, ser Serializer) [][]byte {
	name := map[string]string{SubprotocolJSON: "json.txt", SubprotocolMsgpack: "msgpack.hex", SubprotocolCBOR: "cbor.hex"}[ser.Subprotocol()]
	f, err := os.Open("testdata/" + name)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var out [][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if ser.Text() {
			out = append(out, []byte(line))
			continue
		}
		b, err := hex.DecodeString(line)
		if err != nil {
			tb.Fatalf("%s: %v", name, err)
		}
		out = append(out, b)
	}
	return out
}

func TestSeedsParse(t *testing.T) {
	for _, ser := range serializers {
		n := 0
		for _, b := range seeds(t, ser) {
			if _, err := Decode(ser, b, testLimits); err == nil {
				n++
			}
		}
		if n < 10 {
			t.Errorf("%s: only %d valid seeds", ser.Subprotocol(), n)
		}
	}
}

// fuzzDecode checks that Decode never panics and that what it accepts
// encodes to what decodes to the same message.
func fuzzDecode(f *testing.F, ser Serializer) {
	for _, b := range seeds(f, ser) {
		f.Add(b)
	}
	for _, m := range everyMessage() {
		b, _ := Encode(ser, nil, m)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Decode(ser, b, testLimits)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrTooDeep) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("error of no kind: %v", err)
			}
			return
		}
		enc, err := Encode(ser, nil, m)
		if err != nil {
			if ser == JSON {
				t.Fatalf("re-encode: %v", err)
			}
			return // NaN or Inf have no JSON form; others encode everything
		}
		back, err := Decode(ser, enc, Limits{MaxBytes: 4 << 20, MaxDepth: testLimits.MaxDepth})
		if err != nil {
			t.Fatalf("decode of re-encoded %q: %v", enc, err)
		}
		if !sameValue(back.list(), m.list()) {
			t.Fatalf("round trip:\n got %#v\nwant %#v", back, m)
		}
	})
}

func FuzzDecodeJSON(f *testing.F)    { fuzzDecode(f, JSON) }
func FuzzDecodeMsgpack(f *testing.F) { fuzzDecode(f, Msgpack) }
func FuzzDecodeCBOR(f *testing.F)    { fuzzDecode(f, CBOR) }

// sameValue is reflect.DeepEqual where NaN equals NaN.
func sameValue(a, b any) bool {
	switch x := a.(type) {
	case float64:
		y, ok := b.(float64)
		return ok && (x == y || math.IsNaN(x) && math.IsNaN(y))
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !sameValue(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !sameValue(v, w) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a, b)
}

// TestUpdateSeeds rewrites testdata/msgpack.hex and testdata/cbor.hex from
// the valid messages of testdata/json.txt plus hostile inputs, when
// WAMP_UPDATE_SEEDS is set.
func TestUpdateSeeds(t *testing.T) {
	if os.Getenv("WAMP_UPDATE_SEEDS") == "" {
		t.Skip("set WAMP_UPDATE_SEEDS=1 to rewrite the binary seed files")
	}
	hostile := map[Serializer][]string{
		Msgpack: {"9301a1728101" + "01", "9201d40101", "ddffffffff", "9101dfffffffff", "9201dbffffffff", strings.Repeat("91", 40) + "01", "9201c1"},
		CBOR:    {"8201c100", "9affffffff", "83016172a10101", strings.Repeat("81", 40) + "01", "830162fffea0", "9f01ff", "8301f7a0"},
	}
	for ser, name := range map[Serializer]string{Msgpack: "msgpack.hex", CBOR: "cbor.hex"} {
		var sb strings.Builder
		sb.WriteString("# WAMP messages in " + ser.Subprotocol() + ", hex, one a line: testdata/json.txt re-encoded, then hostile inputs.\n")
		for _, b := range seeds(t, JSON) {
			m, err := Decode(JSON, b, testLimits)
			if err != nil {
				continue
			}
			enc, err := Encode(ser, nil, m)
			if err != nil {
				t.Fatal(err)
			}
			sb.WriteString(hex.EncodeToString(enc) + "\n")
		}
		for _, h := range hostile[ser] {
			sb.WriteString(h + "\n")
		}
		if err := os.WriteFile("testdata/"+name, []byte(sb.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
