package jsonws

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// selectionCases pairs an expression and a message with the route key it
// selects.
var selectionCases = []struct {
	name string
	expr string
	body string
	want string
}{
	{"top-level string", "$request.body.action", `{"action":"send"}`, "send"},
	{"string with escapes", "$request.body.action", `{"action":"s\u00e9nd\n"}`, "sénd\n"},
	{"nested object", "$request.body.a.b", `{"a":{"b":"deep"}}`, "deep"},
	{"three levels", "$request.body.a.b.c", `{"a":{"b":{"c":"deeper"}}}`, "deeper"},
	{"array index", "$request.body.list.1", `{"list":["zero","one","two"]}`, "one"},
	{"array index 0", "$request.body.list.0", `{"list":["zero"]}`, "zero"},
	{"array out of range", "$request.body.list.3", `{"list":["zero"]}`, ""},
	{"negative index", "$request.body.list.-1", `{"list":["zero"]}`, ""},
	{"index on object member", "$request.body.m.1", `{"m":{"1":"by name"}}`, "by name"},
	{"object in array", "$request.body.l.0.k", `{"l":[{"k":"v"}]}`, "v"},
	{"two variables", "${request.body.service}/${request.body.action}", `{"service":"users","action":"get"}`, "users/get"},
	{"literal text around", "pre-${request.body.a}-mid-${request.body.b}-post", `{"a":"A","b":"B"}`, "pre-A-mid-B-post"},
	{"lone variable in braces", "${request.body.action}", `{"action":"x"}`, "x"},
	{"dollar before variable", "$${request.body.a}", `{"a":"x"}`, "$x"},
	{"literal brace text", "a}b${request.body.a}", `{"a":"x"}`, "a}bx"},
	{"missing member", "$request.body.action", `{"other":"x"}`, ""},
	{"missing nested", "$request.body.a.b", `{"a":{}}`, ""},
	{"path through scalar", "$request.body.a.b", `{"a":"text"}`, ""},
	{"missing inside template", "k:${request.body.a}:${request.body.b}", `{"a":"x"}`, "k:x:"},
	{"object is not a key", "$request.body.action", `{"action":{"x":1}}`, ""},
	{"array is not a key", "$request.body.action", `{"action":[1]}`, ""},
	{"null is not a key", "$request.body.action", `{"action":null}`, ""},
	{"object in template", "<${request.body.a}>", `{"a":{}}`, "<>"},
	{"integer", "$request.body.n", `{"n":42}`, "42"},
	{"number kept literally", "$request.body.n", `{"n":1.50}`, "1.50"},
	{"negative exponent", "$request.body.n", `{"n":-3e2}`, "-3e2"},
	{"true", "$request.body.b", `{"b":true}`, "true"},
	{"false", "$request.body.b", `{"b":false}`, "false"},
	{"number in template", "v${request.body.n}", `{"n":2}`, "v2"},
	{"spaces around value", "$request.body.a", "{\"a\" :\n \"x\" }", "x"},
	{"empty string", "$request.body.a", `{"a":""}`, ""},
	{"duplicate key: last wins", "$request.body.a", `{"a":"first","a":"last"}`, "last"},
	{"not an object", "$request.body.a", `["a"]`, ""},
	{"not JSON", "$request.body.a", `{"a":`, ""},
	{"template on non-object", "x-${request.body.a}", `"a"`, "x-"},
}

func TestSelectionEval(t *testing.T) {
	for _, tc := range selectionCases {
		t.Run(tc.name, func(t *testing.T) {
			sel, err := parseSelection(tc.expr)
			if err != nil {
				t.Fatalf("parseSelection(%q): %v", tc.expr, err)
			}
			b, _ := parseBody([]byte(tc.body))
			if got := sel.eval(b); got != tc.want {
				t.Errorf("eval(%s) of %s = %q, want %q", tc.expr, tc.body, got, tc.want)
			}
		})
	}
}

func TestParseSelectionParts(t *testing.T) {
	sel, err := parseSelection("a${request.body.x.y}b")
	if err != nil {
		t.Fatal(err)
	}
	want := []selPart{{text: "a"}, {path: []string{"x", "y"}}, {text: "b"}}
	if len(sel.parts) != len(want) {
		t.Fatalf("parts = %+v, want %+v", sel.parts, want)
	}
	for i, p := range sel.parts {
		if p.text != want[i].text || strings.Join(p.path, ".") != strings.Join(want[i].path, ".") || (p.path == nil) != (want[i].path == nil) {
			t.Errorf("part %d = %+v, want %+v", i, p, want[i])
		}
	}
	if sel.src != "a${request.body.x.y}b" {
		t.Errorf("src = %q", sel.src)
	}
}

var selectionErrors = []struct {
	name string
	expr string
}{
	{"empty", ""},
	{"no dollar", "request.body.action"},
	{"plain text", "action"},
	{"query", "$request.query.x"},
	{"header without a name", "$request.header."},
	{"body alone", "$request.body"},
	{"body with dot only", "$request.body."},
	{"context", "$context.connectionId"},
	{"query in template", "${request.query.x}"},
	{"unclosed", "${request.body.a"},
	{"unclosed second", "${request.body.a}/${request.body.b"},
	{"empty braces", "${}"},
	{"empty segment", "$request.body.a..b"},
	{"empty segment in template", "${request.body.a..b}"},
	{"trailing dot", "$request.body.a."},
	{"space in path", "$request.body.a b"},
	{"tab in path", "$request.body.a\tb"},
	{"space in template", "${request.body. a}"},
	{"newline in path", "$request.body.a\n"},
	{"DEL in path", "$request.body.a\x7f"},
	{"dollar in path", "$request.body.a$b"},
	{"brace in path", "$request.body.a}"},
	{"nested braces", "${request.body.${request.body.a}}"},
	{"NUL in path", "$request.body.a\x00"},
	{"uppercase prefix", "$Request.body.a"},
}

func TestParseSelectionErrors(t *testing.T) {
	for _, tc := range selectionErrors {
		t.Run(tc.name, func(t *testing.T) {
			sel, err := parseSelection(tc.expr)
			if err == nil {
				t.Fatalf("parseSelection(%q) = %+v, want an error", tc.expr, sel.parts)
			}
			if !errors.Is(err, ErrSelection) {
				t.Errorf("error %v does not wrap ErrSelection", err)
			}
		})
	}
}

func FuzzSelection(f *testing.F) {
	for _, tc := range selectionCases {
		f.Add(tc.expr, []byte(tc.body))
	}
	for _, tc := range selectionErrors {
		f.Add(tc.expr, []byte(`{"a":{"b":[1,"x",{"c":true}]}}`))
	}
	f.Fuzz(func(t *testing.T, expr string, data []byte) {
		sel, err := parseSelection(expr)
		if err != nil {
			if !errors.Is(err, ErrSelection) {
				t.Fatalf("parseSelection(%q) error %v does not wrap ErrSelection", expr, err)
			}
			return
		}
		if len(sel.parts) == 0 {
			t.Fatalf("parseSelection(%q) has no parts", expr)
		}
		var lit strings.Builder
		for _, p := range sel.parts {
			if p.path == nil {
				lit.WriteString(p.text)
				continue
			}
			for _, seg := range p.path {
				if seg == "" {
					t.Fatalf("parseSelection(%q) has an empty path segment", expr)
				}
			}
		}
		b, _ := parseBody(data)
		got := sel.eval(b)
		// With no members, every variable selects "": only the literal
		// text remains.
		empty, _ := parseBody([]byte("{}"))
		if e := sel.eval(empty); e != lit.String() {
			t.Fatalf("eval(%q) of {} = %q, want the literal text %q", expr, e, lit.String())
		}
		if len(sel.parts) == 1 && sel.parts[0].path != nil {
			want, _ := b.scalar(sel.parts[0].path)
			if got != want {
				t.Fatalf("eval(%q) = %q, scalar says %q", expr, got, want)
			}
		}
	})
}

func TestSelectionRequestParts(t *testing.T) {
	req := httptest.NewRequest("GET", "/v2/chat?api=beta&api=ignored&e=%2Fa%20b", nil)
	req.Header.Set("X-Client-Version", "7")
	req.Header.Add("X-Client-Version", "8")
	tests := []struct {
		expr, body, want string
	}{
		{"$request.querystring.api", `{}`, "beta"},
		{"$request.header.x-client-version", `{}`, "7"},
		{"$request.header.X-Client-Version", `{"action":"x"}`, "7"},
		{"$request.path", `{}`, "/v2/chat"},
		{"${request.querystring.api}/${request.body.action}", `{"action":"send"}`, "beta/send"},
		{"${request.path}:${request.header.X-Client-Version}:${request.body.a.b}", `{"a":{"b":1}}`, "/v2/chat:7:1"},
		{"$request.querystring.e", `{}`, "/a b"},
		{"$request.querystring.missing", `{}`, ""},
		{"${request.header.Missing}-${request.body.action}", `{"action":"a"}`, "-a"},
		{"${request.querystring.api}", `not json`, "beta"},
	}
	for _, tc := range tests {
		sel, err := parseSelection(tc.expr)
		if err != nil {
			t.Fatalf("%s: %v", tc.expr, err)
		}
		b, _ := parseBody([]byte(tc.body))
		if got := string(sel.appendKey(nil, b, sel.requestValues(req))); got != tc.want {
			t.Errorf("%s on %s = %q, want %q", tc.expr, tc.body, got, tc.want)
		}
	}
	for _, bad := range []string{"$request.querystring.", "$request.header.", "$request.header.a b", "$request.header.a:b",
		"${request.querystring.a{}", "$request.paths", "$request.query.a", "${request.header.}"} {
		if _, err := parseSelection(bad); !errors.Is(err, ErrSelection) {
			t.Errorf("parseSelection(%q) = %v, want ErrSelection", bad, err)
		}
	}
	// A selection of the body alone keeps nothing of the upgrade.
	sel, _ := parseSelection("$request.body.action")
	if v := sel.requestValues(req); v != nil {
		t.Errorf("requestValues = %q, want nil", v)
	}
}

// FuzzSelectionRequest selects keys from any expression, upgrade request
// query string, header and path and message: a single request variable is
// its value exactly, and a template is its parts in order.
func FuzzSelectionRequest(f *testing.F) {
	f.Add("${request.querystring.v}/${request.body.action}", "v=2&x=1", "h", "/p", []byte(`{"action":"send"}`))
	f.Add("$request.header.X-A", "", "v\xff", "/", []byte(`{}`))
	f.Add("$request.path", "a=%zz", "", "/a%2Fb/../c", []byte(`x`))
	f.Add("${request.path}${request.header.x-a}${request.querystring.v}", "v=%00", "\t", "//", []byte(`{"v":1}`))
	f.Fuzz(func(t *testing.T, expr, rawQuery, header, path string, data []byte) {
		sel, err := parseSelection(expr)
		if err != nil {
			if !errors.Is(err, ErrSelection) {
				t.Fatalf("parseSelection(%q): %v", expr, err)
			}
			return
		}
		req := &http.Request{URL: &url.URL{Path: path, RawQuery: rawQuery}, Header: http.Header{}}
		q := req.URL.Query()
		for _, p := range sel.req {
			if p.from == fromHeader {
				req.Header[p.name] = []string{header}
			}
		}
		vals := sel.requestValues(req)
		if len(vals) != len(sel.req) {
			t.Fatalf("%d values for %d request parts", len(vals), len(sel.req))
		}
		b, _ := parseBody(data)
		key := string(sel.appendKey(nil, b, vals))
		var want strings.Builder
		for _, p := range sel.parts {
			switch p.from {
			case fromQuery:
				want.WriteString(q.Get(p.name))
			case fromHeader:
				want.WriteString(header)
			case fromPath:
				want.WriteString(path)
			default:
				if p.path != nil {
					v, _ := b.scalar(p.path)
					want.WriteString(v)
				} else {
					want.WriteString(p.text)
				}
			}
		}
		if key != want.String() {
			t.Fatalf("key %q, want %q", key, want.String())
		}
	})
}
