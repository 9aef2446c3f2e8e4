package jsonws

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestParseBody(t *testing.T) {
	tests := []struct {
		name    string
		data    string
		object  bool
		members int
	}{
		{"object", `{"a":1,"b":"x"}`, true, 2},
		{"empty object", `{}`, true, 0},
		{"leading white space", " \t\r\n{\"a\":1}", true, 1},
		{"trailing white space", "{\"a\":1}\n", true, 1},
		{"nested", `{"a":{"b":[1,2]}}`, true, 1},
		{"array", `[{"a":1}]`, false, 0},
		{"string", `"a"`, false, 0},
		{"number", `12`, false, 0},
		{"true", `true`, false, 0},
		{"null", `null`, false, 0},
		{"empty", ``, false, 0},
		{"only white space", " \n", false, 0},
		{"truncated", `{"a":`, false, 0},
		{"trailing garbage", `{"a":1}x`, false, 0},
		{"two objects", `{"a":1}{"b":2}`, false, 0},
		{"single quotes", `{'a':1}`, false, 0},
		{"unquoted key", `{a:1}`, false, 0},
		{"trailing comma", `{"a":1,}`, false, 0},
		{"form feed is not JSON white space", "\f{\"a\":1}", false, 0},
		{"byte order mark", "\xef\xbb\xbf{\"a\":1}", false, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, ok := parseBody([]byte(tc.data))
			if ok != tc.object {
				t.Fatalf("parseBody(%q) ok = %v, want %v", tc.data, ok, tc.object)
			}
			if b == nil {
				t.Fatal("parseBody returned a nil body")
			}
			if string(b.raw) != tc.data {
				t.Errorf("raw = %q, want the input %q", b.raw, tc.data)
			}
			if !tc.object && b.top != nil {
				t.Errorf("top = %v, want nil for a non-object", b.top)
			}
			if len(b.top) != tc.members {
				t.Errorf("%d members, want %d", len(b.top), tc.members)
			}
		})
	}
}

// bodyDoc exercises lookup, scalar and payload.
const bodyDoc = `{
	"action": "send",
	"text": "line one\nline \"two\" \u00e9",
	"empty": "",
	"n": 1.50,
	"neg": -0,
	"t": true,
	"f": false,
	"nul": null,
	"obj": {"z": 1,  "a" : [1, 2], "s": "x"},
	"list": ["zero", {"k": "v"}, [10, 20]],
	"a.b": "dotted",
	"": "empty key",
	"__proto__": "proto",
	"\u0061\u0062": "escaped key",
	"constructor": {"prototype": "p"},
	"ünï": "unicode key",
	"k": {"1": "by name"}
}`

func TestLookupScalarPayload(t *testing.T) {
	b, ok := parseBody([]byte(bodyDoc))
	if !ok {
		t.Fatal("bodyDoc is not an object")
	}
	tests := []struct {
		path    string
		found   bool
		raw     string // lookup's value, when found
		scalar  string
		isScal  bool
		payload string
	}{
		{"action", true, `"send"`, "send", true, "send"},
		{"text", true, `"line one\nline \"two\" \u00e9"`, "line one\nline \"two\" é", true, "line one\nline \"two\" é"},
		{"empty", true, `""`, "", true, ""},
		{"n", true, `1.50`, "1.50", true, "1.50"},
		{"neg", true, `-0`, "-0", true, "-0"},
		{"t", true, `true`, "true", true, "true"},
		{"f", true, `false`, "false", true, "false"},
		{"nul", true, `null`, "", false, "null"},
		{"obj", true, `{"z": 1,  "a" : [1, 2], "s": "x"}`, "", false, `{"z": 1,  "a" : [1, 2], "s": "x"}`},
		{"obj.a", true, `[1, 2]`, "", false, `[1, 2]`},
		{"obj.a.1", true, `2`, "2", true, "2"},
		{"obj.s", true, `"x"`, "x", true, "x"},
		{"obj.missing", false, "", "", false, ""},
		{"list.0", true, `"zero"`, "zero", true, "zero"},
		{"list.1.k", true, `"v"`, "v", true, "v"},
		{"list.2.1", true, `20`, "20", true, "20"},
		{"list.3", false, "", "", false, ""},
		{"list.x", false, "", "", false, ""},
		{"list.-1", false, "", "", false, ""},
		{"list.99999999999999999999", false, "", "", false, ""},
		{"action.x", false, "", "", false, ""},
		{"n.0", false, "", "", false, ""},
		{"nul.x", false, "", "", false, ""},
		{"missing", false, "", "", false, ""},
		{"a.b", false, "", "", false, ""}, // a path never reaches a dotted key
		{"__proto__", true, `"proto"`, "proto", true, "proto"},
		{"ab", true, `"escaped key"`, "escaped key", true, "escaped key"},
		{"constructor.prototype", true, `"p"`, "p", true, "p"},
		{"ünï", true, `"unicode key"`, "unicode key", true, "unicode key"},
		{"k.1", true, `"by name"`, "by name", true, "by name"},
		{"toString", false, "", "", false, ""},
		{"hasOwnProperty", false, "", "", false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			path := splitPath(tc.path)
			raw, found := b.lookup(path)
			if found != tc.found {
				t.Fatalf("lookup found = %v, want %v", found, tc.found)
			}
			if found && string(raw) != tc.raw {
				t.Errorf("lookup = %s, want %s", raw, tc.raw)
			}
			s, isScal := b.scalar(path)
			if s != tc.scalar || isScal != tc.isScal {
				t.Errorf("scalar = %q, %v; want %q, %v", s, isScal, tc.scalar, tc.isScal)
			}
			p := b.payload(path)
			if !tc.found {
				if p != nil {
					t.Errorf("payload = %q, want nil", p)
				}
				return
			}
			if p == nil || string(p) != tc.payload {
				t.Errorf("payload = %q, want %q", p, tc.payload)
			}
		})
	}
}

// The object payload is forwarded exactly as the client wrote it: key
// order, spacing and number spelling kept.
func TestPayloadByteForByte(t *testing.T) {
	inner := "{ \"z\" :1e0,\n\t\"a\":[ 1 ,2],\"u\":\"\\u00e9\",\"a\":\"dup\" }"
	b, ok := parseBody([]byte(`{"data":` + inner + `}`))
	if !ok {
		t.Fatal("not an object")
	}
	if got := b.payload([]string{"data"}); string(got) != inner {
		t.Errorf("payload = %q, want %q", got, inner)
	}
	// The whole message's raw bytes are untouched too.
	if string(b.raw) != `{"data":`+inner+`}` {
		t.Errorf("raw changed: %q", b.raw)
	}
}

func TestLookupNonObject(t *testing.T) {
	for _, data := range []string{`[1,2]`, `"s"`, `1`, `null`, ``, `{`} {
		b, _ := parseBody([]byte(data))
		for _, path := range [][]string{nil, {}, {"0"}, {"a"}} {
			if raw, ok := b.lookup(path); ok || raw != nil {
				t.Errorf("lookup(%q) of %q = %q, %v; want nothing", path, data, raw, ok)
			}
			if p := b.payload(path); p != nil {
				t.Errorf("payload(%q) of %q = %q, want nil", path, data, p)
			}
		}
	}
	b, _ := parseBody([]byte(`{"a":1}`))
	if _, ok := b.lookup(nil); ok {
		t.Error("lookup of an empty path found something")
	}
}

// Hostile keys: very long, deeply nested, or numerous members must not
// break lookups.
func TestLookupHostile(t *testing.T) {
	long := strings.Repeat("k", 1<<16)
	deep := strings.Repeat(`{"a":`, 1000) + `"bottom"` + strings.Repeat(`}`, 1000)
	var many strings.Builder
	many.WriteString("{")
	for i := range 10000 {
		if i > 0 {
			many.WriteString(",")
		}
		many.WriteString(`"k":`)
		many.WriteString(`"v"`)
	}
	many.WriteString(`,"last":"yes"}`)
	tests := []struct {
		name string
		doc  string
		path []string
		want string
	}{
		{"long key", `{"` + long + `":"v"}`, []string{long}, "v"},
		{"deep", deep, strings.Split(strings.Repeat("a.", 999)+"a", "."), "bottom"},
		{"many duplicates", many.String(), []string{"last"}, "yes"},
		{"control characters", `{"\u0000\u001f":"nul"}`, []string{"\x00\x1f"}, "nul"},
		{"invalid UTF-8 key", "{\"\xff\":\"bad\"}", []string{"\ufffd"}, "bad"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, ok := parseBody([]byte(tc.doc))
			if !ok {
				t.Fatal("not an object")
			}
			if got, _ := b.scalar(tc.path); got != tc.want {
				t.Errorf("scalar = %q, want %q", got, tc.want)
			}
		})
	}
}

var bodySeeds = []struct {
	data string
	path string
}{
	{bodyDoc, "obj.a.1"},
	{bodyDoc, "list.1.k"},
	{bodyDoc, "text"},
	{`{"a":{"b":[1,"x",{"c":true}]}}`, "a.b.2.c"},
	{`{"a":"\ud800"}`, "a"},
	{`{"a":"\xff"}`, "a"},
	{` {"a": [ ] }`, "a.0"},
	{`[1]`, "0"},
	{`{"a":`, "a"},
	{`{"a":1}x`, "a"},
	{``, ""},
}

func FuzzBody(f *testing.F) {
	for _, s := range bodySeeds {
		f.Add([]byte(s.data), s.path)
	}
	f.Fuzz(func(t *testing.T, data []byte, p string) {
		b, ok := parseBody(data)
		d := bytes.TrimLeft(data, " \t\r\n")
		wantOK := len(d) > 0 && d[0] == '{' && json.Valid(data)
		if ok != wantOK {
			t.Fatalf("parseBody(%q) ok = %v, want %v", data, ok, wantOK)
		}
		path := splitPath(p)
		raw, found := b.lookup(path)
		if found && !json.Valid(raw) {
			t.Fatalf("lookup(%q) of %q = %q: not JSON", p, data, raw)
		}
		s, isScalar := b.scalar(path)
		if !found && (isScalar || s != "") {
			t.Fatalf("scalar(%q) = %q, %v without a value", p, s, isScalar)
		}
		pl := b.payload(path)
		switch {
		case !found:
			if pl != nil {
				t.Fatalf("payload(%q) = %q without a value", p, pl)
			}
		case bytes.HasPrefix(bytes.TrimSpace(raw), []byte(`"`)):
			var want string
			if err := json.Unmarshal(raw, &want); err != nil {
				t.Fatalf("value %q does not decode: %v", raw, err)
			}
			if string(pl) != want || !isScalar || s != want {
				t.Fatalf("string %q: payload %q, scalar %q %v; want %q", raw, pl, s, isScalar, want)
			}
		default:
			if !bytes.Equal(pl, bytes.TrimSpace(raw)) {
				t.Fatalf("payload(%q) = %q, want the raw value %q", p, pl, raw)
			}
		}
	})
}

func TestTooDeep(t *testing.T) {
	deep := strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1)
	for _, tc := range []struct {
		in   string
		deep bool
	}{
		{`{"a":1}`, false},
		{`{"a":` + deep + `}`, true},
		{deep, true},
		{`{"s":"` + strings.Repeat("[", maxDepth+5) + `"}`, false}, // brackets in a string
		{`{"s":"\"` + strings.Repeat("{", maxDepth+5) + `"}`, false},
		{strings.Repeat("[", maxDepth) + strings.Repeat("]", maxDepth), false},
	} {
		b, ok := parseBody([]byte(tc.in))
		if b.deep != tc.deep || (tc.deep && ok) {
			t.Errorf("%.40q…: deep %v ok %v, want deep %v", tc.in, b.deep, ok, tc.deep)
		}
	}
}
