package jsonws

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/wsgate/wsgate/bridge"
)

// decodedFrame is a message frame read back.
type decodedFrame struct {
	Type     string          `json:"type"`
	Subject  string          `json:"subject"`
	Data     json.RawMessage `json:"data"`
	Encoding string          `json:"encoding"`
}

// decodeMessageFrame checks what every message frame must be and returns
// it decoded, with the payload it carries.
func decodeMessageFrame(t *testing.T, f *bridge.Frame) (decodedFrame, []byte) {
	t.Helper()
	if !f.IsText() {
		t.Fatal("message frame is not a text frame")
	}
	p := f.Payload()
	if !utf8.Valid(p) {
		t.Fatalf("frame payload is not UTF-8: %q", p)
	}
	if !json.Valid(p) {
		t.Fatalf("frame payload is not JSON: %q", p)
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(p, &keys); err != nil {
		t.Fatalf("frame payload %q: %v", p, err)
	}
	for k := range keys {
		switch k {
		case "type", "subject", "data", "encoding":
		default:
			t.Errorf("unexpected member %q in %s", k, p)
		}
	}
	var d decodedFrame
	if err := json.Unmarshal(p, &d); err != nil {
		t.Fatalf("frame payload %q: %v", p, err)
	}
	if d.Type != "message" {
		t.Errorf("type = %q, want message", d.Type)
	}
	if len(d.Data) == 0 {
		t.Fatalf("no data member in %s", p)
	}
	switch {
	case d.Encoding == "base64":
		var s string
		if err := json.Unmarshal(d.Data, &s); err != nil {
			t.Fatalf("base64 data %s is not a string: %v", d.Data, err)
		}
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			t.Fatalf("data %q is not base64: %v", s, err)
		}
		return d, b
	case d.Encoding != "":
		t.Fatalf("encoding = %q", d.Encoding)
	case d.Data[0] == '"':
		var s string
		if err := json.Unmarshal(d.Data, &s); err != nil {
			t.Fatalf("data %s: %v", d.Data, err)
		}
		return d, []byte(s)
	}
	return d, d.Data
}

func TestMessageFrame(t *testing.T) {
	tests := []struct {
		name     string
		subject  string
		data     string
		wantData string // the data member exactly
		wantEnc  string
	}{
		{"JSON object embedded raw", "chat.lobby", `{"b": 2,  "a":[1 ,2]}`, `{"b": 2,  "a":[1 ,2]}`, ""},
		{"JSON number", "n", `42`, `42`, ""},
		{"JSON string", "s", `"quoted"`, `"quoted"`, ""},
		{"JSON null", "s", `null`, `null`, ""},
		{"JSON with white space", "s", " [1]\n", "[1]", ""},
		{"text", "s", "hello, world", `"hello, world"`, ""},
		{"text with quotes and controls", "s", "a \"b\"\n\\c\x01", `"a \"b\"\n\\c\u0001"`, ""},
		{"unicode text", "s", "héllo → 世界 🎉", `"héllo → 世界 🎉"`, ""},
		{"HTML characters as they are (a frame is JSON, not HTML)", "s", "<script>&", `"<script>&"`, ""},
		{"invalid UTF-8", "s", "\xff\xfe\x00", `"//4A"`, "base64"},
		{"binary", "s", "\x00\x01\x02\x80", `"AAECgA=="`, "base64"},
		{"empty", "s", "", `""`, ""},
		{"white space only", "s", " \n", `" \n"`, ""},
		{"truncated JSON", "s", `{"a":`, `"{\"a\":"`, ""},
		{"subject with quotes", `a."b"`, "x", `"x"`, ""},
		{"subject with backslash", `a.\b`, "x", `"x"`, ""},
		{"subject with unicode", "chat.été.🎉", "x", `"x"`, ""},
		{"subject with controls", "a\tb\x00", "x", `"x"`, ""},
		{"text starting with a JSON letter", "s", "nope", `"nope"`, ""},
		{"text starting with a digit", "s", "1 apple", `"1 apple"`, ""},
		{"text starting with digits", "s", "0000000000000001x", `"0000000000000001x"`, ""},
		{"text starting with a brace", "s", "{not json", `"{not json"`, ""},
		{"text starting with a quote", "s", `"quoted" and more`, `"\"quoted\" and more"`, ""},
		{"text starting with a literal", "s", "nullable", `"nullable"`, ""},
		{"JSON number with exponent", "s", " -1.5e+3 ", "-1.5e+3", ""},
		{"text with leading white space", "s", "  hi", `"  hi"`, ""},
		{"long payload", "big", strings.Repeat("a", 70000), `"` + strings.Repeat("a", 70000) + `"`, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := messageFrame(&bridge.Message{Subject: tc.subject, Data: []byte(tc.data)})
			if err != nil {
				t.Fatal(err)
			}
			d, payload := decodeMessageFrame(t, f)
			if d.Subject != tc.subject {
				t.Errorf("subject = %q, want %q", d.Subject, tc.subject)
			}
			if string(d.Data) != tc.wantData {
				t.Errorf("data = %s, want %s", d.Data, tc.wantData)
			}
			if d.Encoding != tc.wantEnc {
				t.Errorf("encoding = %q, want %q", d.Encoding, tc.wantEnc)
			}
			if tc.data != "" && json.Valid([]byte(tc.data)) && !bytes.Contains(f.Payload(), []byte(`,"data":`+tc.data+"}")) {
				t.Errorf("frame %q does not embed the payload byte for byte", f.Payload())
			}
			if tc.wantEnc != "" || !json.Valid([]byte(tc.data)) {
				if string(payload) != tc.data {
					t.Errorf("payload = %q, want %q", payload, tc.data)
				}
			}
		})
	}
}

// A JSON payload holding a string that is not UTF-8 must not make the text
// frame invalid UTF-8 (RFC 6455 section 5.6: browsers fail the connection).
func TestMessageFrameJSONWithInvalidUTF8(t *testing.T) {
	for _, data := range []string{"\"\xff\"", "{\"a\":\"\xc3\"}", "[\"\xed\xa0\x80\"]"} {
		f, err := messageFrame(&bridge.Message{Subject: "s", Data: []byte(data)})
		if err != nil {
			t.Fatal(err)
		}
		_, payload := decodeMessageFrame(t, f)
		if string(payload) != data {
			t.Errorf("payload = %q, want %q", payload, data)
		}
	}
}

func TestEnvelopeFrame(t *testing.T) {
	tests := []struct {
		name string
		env  Envelope
		want string
	}{
		{"error", Envelope{Type: "error", Route: "send", ID: json.RawMessage(`7`), Error: errForbidden, Message: `publish to "x" denied`},
			`{"type":"error","route":"send","id":7,"error":"forbidden","message":"publish to \"x\" denied"}`},
		{"error without route or id", Envelope{Type: "error", Error: errBadJSON, Message: "not JSON"},
			`{"type":"error","error":"bad_json","message":"not JSON"}`},
		{"string id", Envelope{Type: "error", ID: json.RawMessage(`"r-1"`), Error: errNoRoute, Message: "m"},
			`{"type":"error","id":"r-1","error":"no_route","message":"m"}`},
		{"object id compacted", Envelope{Type: "reply", ID: json.RawMessage(`{ "n" : 1 }`), Data: json.RawMessage(`[1, 2]`)},
			`{"type":"reply","id":{"n":1},"data":[1,2]}`},
		{"subscribed", Envelope{Type: "subscribed", Route: "join", Subject: "chat.lobby"},
			`{"type":"subscribed","route":"join","subject":"chat.lobby"}`},
		{"invalid UTF-8 message", Envelope{Type: "error", Error: errInternal, Message: "bad \xff byte"},
			`{"type":"error","error":"internal","message":"bad \ufffd byte"}`},
		{"invalid raw id falls back", Envelope{Type: "error", ID: json.RawMessage(`{bad`), Error: errBadJSON},
			`{"type":"error","error":"internal","message":"encoding failed"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := tc.env.frame()
			if !f.IsText() {
				t.Error("not a text frame")
			}
			p := f.Payload()
			if string(p) != tc.want {
				t.Errorf("frame = %s\nwant    %s", p, tc.want)
			}
			if !utf8.Valid(p) || !json.Valid(p) {
				t.Errorf("frame %q is not UTF-8 JSON", p)
			}
		})
	}
}

func TestRawFrame(t *testing.T) {
	for _, tc := range []struct {
		data string
		text bool
	}{{"hello", true}, {`{"a":1}`, true}, {"", true}, {"\xff", false}} {
		f, err := rawFrame(&bridge.Message{Data: []byte(tc.data)})
		if err != nil {
			t.Fatal(err)
		}
		if f.IsText() != tc.text || string(f.Payload()) != tc.data {
			t.Errorf("rawFrame(%q) = text %v %q", tc.data, f.IsText(), f.Payload())
		}
	}
}

func FuzzMessageFrame(f *testing.F) {
	for _, s := range []struct{ subject, data string }{
		{"chat.lobby", `{"b": 2,  "a":[1 ,2]}`},
		{"s", "hello"},
		{"s", ""},
		{"s", "\xff\xfe"},
		{"s", "\"\xff\""},
		{`a."b".\c`, " 1 "},
		{"é.🎉", "null"},
		{"a\xffb", `"x"`},
		{"s", "\u2028\u2029"},
		{"s", `"`},
		{"s", " -0.5E-3\n"},
		{"s", "12 monkeys"},
	} {
		f.Add(s.subject, []byte(s.data))
	}
	f.Fuzz(func(t *testing.T, subject string, data []byte) {
		if json.Valid(data) && !mayBeJSON(data) {
			t.Fatalf("mayBeJSON(%q) = false for valid JSON", data)
		}
		fr, err := messageFrame(&bridge.Message{Subject: subject, Data: data})
		if err != nil {
			t.Fatal(err)
		}
		d, payload := decodeMessageFrame(t, fr)
		// encoding/json replaces each invalid byte with U+FFFD, as a
		// conversion to runes does.
		if want := string([]rune(subject)); d.Subject != want {
			t.Fatalf("subject = %q, want %q", d.Subject, want)
		}
		if d.Encoding == "" && len(data) > 0 && json.Valid(data) {
			// Embedded raw: the same JSON value.
			var a, b bytes.Buffer
			if err := json.Compact(&a, data); err != nil {
				t.Fatal(err)
			}
			if err := json.Compact(&b, d.Data); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(a.Bytes(), b.Bytes()) {
				t.Fatalf("data = %s, want %s", d.Data, data)
			}
			return
		}
		if !bytes.Equal(payload, data) {
			t.Fatalf("payload = %q (encoding %q), want %q", payload, d.Encoding, data)
		}
	})
}

// BenchmarkMessageFrame encodes a delivery of 64 bytes: a JSON payload
// (embedded as it is, after validation) and a text one (quoted).
func BenchmarkMessageFrame(b *testing.B) {
	for _, bc := range []struct{ name, data string }{
		{"json", `{"user":"alice","room":"lobby","text":"hello, everyone!","n":42}`},
		{"text", "alice in lobby: hello, everyone! this line is plain text, 64 B.."},
		{"digits", "00000000000000010000018a2b3c4d5exxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			if len(bc.data) != 64 {
				b.Fatalf("payload is %d bytes, want 64", len(bc.data))
			}
			m := &bridge.Message{Subject: "chat.rooms.lobby", Data: []byte(bc.data)}
			b.ReportAllocs()
			b.SetBytes(int64(len(m.Data)))
			for b.Loop() {
				if _, err := messageFrame(m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestNoHTMLEscaping: frames are JSON, not HTML: ">" and "&" reach the
// client as they are, in subjects and in data, and quote agrees with
// encoding/json on everything else.
func TestNoHTMLEscaping(t *testing.T) {
	f, err := messageFrame(&bridge.Message{Subject: "chat.>", Data: []byte(`{"t":"a<b&c>d"}`)})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"type":"message","subject":"chat.>","data":{"t":"a<b&c>d"}}`
	if got := string(f.Payload()); got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	e := &Envelope{Type: "reply", Data: json.RawMessage(`"<&>"`), Message: "x > y"}
	if got := string(e.frame().Payload()); got != `{"type":"reply","data":"<&>","message":"x > y"}` {
		t.Errorf("envelope %s", got)
	}
	for _, s := range []string{"", "a.b", "a\"b", "a\\b", "tab\t", "é", "\x00", "\xff", "<>&", "\u2028"} {
		f, err := messageFrame(&bridge.Message{Subject: s, Data: []byte("x")})
		if err != nil {
			t.Fatal(err)
		}
		var back struct{ Subject string }
		if err := json.Unmarshal(f.Payload(), &back); err != nil || back.Subject != strings.ToValidUTF8(s, "\ufffd") {
			t.Errorf("subject %q: frame %s decodes to %q, %v", s, f.Payload(), back.Subject, err)
		}
	}
}
