package jsonws

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/net/http/httpguts"
)

// hostileValues are what a client may put where a URL or header takes a
// value of its message.
var hostileValues = []string{
	"../", "..", ".", "", "../../admin", "a/b", "/", "//evil.example", "?x=1", "a?b", "#frag", "a#b",
	"%2F", "%2f", "%2e%2e", "%252F", "..%2F", "..;", "..;/admin", `..\..\`, `\`, "a;b=c", "a&b=c", "a=b",
	"@evil.example", "user:pw@evil.example", "evil.example:80", "http://evil.example/",
	"\r\nHost: evil.example", "\r", "\n", "\x00", "\x7f", "\xff\xfe", "\xc0\xaf", "é", "\u2028",
	" ", "+", "a b", "~", "-._~", strings.Repeat("x", 300),
}

func mustParseURL(t testing.TB, s string, query map[string]string) *urlTemplate {
	t.Helper()
	var extra []queryParam
	for k, v := range query {
		tt, err := parseText(v)
		if err != nil {
			t.Fatal(err)
		}
		extra = append(extra, queryParam{name: string(appendStrict(nil, k)), value: tt})
	}
	u, err := parseURL(s, extra)
	if err != nil {
		t.Fatalf("parseURL(%q): %v", s, err)
	}
	return u
}

// checkRendered asserts that out has the scheme and host of the template
// http://api.example:8443/v1/{body.id}/items?q={body.q}, exactly its
// three path segments, the value back from the second one and from q, and
// nothing else.
func checkRendered(t testing.TB, v, out string) {
	t.Helper()
	pu, err := url.Parse(out)
	if err != nil {
		t.Fatalf("%q: rendered %q does not parse: %v", v, out, err)
	}
	if pu.Scheme != "http" || pu.Host != "api.example:8443" || pu.User != nil || pu.Fragment != "" || pu.Opaque != "" {
		t.Fatalf("%q: rendered %q goes to %s://%s (user %v, fragment %q)", v, out, pu.Scheme, pu.Host, pu.User, pu.Fragment)
	}
	segs := strings.Split(pu.EscapedPath(), "/")
	if len(segs) != 4 || segs[0] != "" || segs[1] != "v1" || segs[3] != "items" {
		t.Fatalf("%q: rendered path %q, want /v1/<value>/items", v, pu.EscapedPath())
	}
	if got, err := url.PathUnescape(segs[2]); err != nil || got != v {
		t.Fatalf("%q: path segment %q decodes to %q (%v)", v, segs[2], got, err)
	}
	if segs[2] == "." || segs[2] == ".." {
		t.Fatalf("%q: relative path segment %q", v, segs[2])
	}
	q, err := url.ParseQuery(pu.RawQuery)
	if err != nil || len(q) != 1 || len(q["q"]) != 1 || q["q"][0] != v {
		t.Fatalf("%q: query %q parses to %v (%v)", v, pu.RawQuery, q, err)
	}
}

func TestURLRenderHostile(t *testing.T) {
	u := mustParseURL(t, "http://api.example:8443/v1/{body.id}/items?q={body.q}", nil)
	for _, v := range hostileValues {
		t.Run(v, func(t *testing.T) {
			out, err := u.render(func(string) (string, bool) { return v, true })
			switch v {
			case "", ".", "..":
				if !errors.Is(err, errTemplateValue) {
					t.Fatalf("render(%q) = %q, %v; want errTemplateValue", v, out, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("render(%q): %v", v, err)
			}
			checkRendered(t, v, out)
		})
	}
}

func TestURLRenderEscaping(t *testing.T) {
	u := mustParseURL(t, "https://h.example/a/{body.x}.json?k={body.y}&fixed=1", map[string]string{"extra": "{connectionId}"})
	vals := map[string]string{"body.x": "a b/c", "body.y": "1&2=3", "connectionId": "c1"}
	out, err := u.render(func(n string) (string, bool) { v, ok := vals[n]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	if want := "https://h.example/a/a%20b%2Fc.json?k=1%262%3D3&fixed=1&extra=c1"; out != want {
		t.Errorf("render = %q, want %q", out, want)
	}
	if _, err := u.render(func(n string) (string, bool) { return "", n != "body.y" }); !errors.Is(err, errTemplateValue) {
		t.Errorf("missing value: %v", err)
	}
	long := strings.Repeat("%", maxRenderedURL/3+1)
	if _, err := u.render(func(string) (string, bool) { return long, true }); !errors.Is(err, errTemplateValue) {
		t.Errorf("too long: %v", err)
	}
}

func TestParseURLErrors(t *testing.T) {
	for _, s := range []string{
		"", "/relative", "ftp://h/x", "http://", "http:///x", "http://{body.host}/x", "http://h{body.x}.example/",
		"http://{context.host}", "http://h/x#frag", "http://h/{body.x", "http://h/{nope}", "http://h/x?{body.k}=v",
		"http://h/x?=v", "http://h/{body.x}..", "http://h/..{body.x}", "http://[::1",
	} {
		if _, err := parseURL(s, nil); err == nil {
			t.Errorf("parseURL(%q) accepted", s)
		}
	}
	for _, s := range []string{"http://h", "http://h/", "https://h:1/a/b?x=1&y", "http://u:p@h/x", "http://[::1]:80/{body.id}", "http://h/{body.a}.{body.b}"} {
		if _, err := parseURL(s, nil); err != nil {
			t.Errorf("parseURL(%q): %v", s, err)
		}
	}
	// Two placeholders that each render "." make ".." from a literal dot:
	// the segment is refused at render time.
	u := mustParseURL(t, "http://h/{body.a}.{body.b}", nil)
	if out, err := u.render(func(string) (string, bool) { return "", true }); !errors.Is(err, errTemplateValue) {
		t.Errorf("render = %q, %v; want errTemplateValue for a segment of %q", out, err, ".")
	}
}

func TestCheckHeaderValue(t *testing.T) {
	for _, v := range hostileValues {
		err := checkHeaderValue(v)
		bad := strings.ContainsAny(v, "\r\n\x00\x7f")
		if bad != (err != nil) {
			t.Errorf("checkHeaderValue(%q) = %v", v, err)
		}
	}
	if err := checkHeaderValue("Bearer a\tb\xff"); err != nil {
		t.Errorf("tab and obs-text: %v", err)
	}
}

// FuzzURLRender holds render to its promise for any value: an error, or a
// URL to the configured host with the configured path shape that gives the
// value back.
func FuzzURLRender(f *testing.F) {
	for _, v := range hostileValues {
		f.Add(v)
	}
	u := mustParseURL(f, "http://api.example:8443/v1/{body.id}/items?q={body.q}", nil)
	f.Fuzz(func(t *testing.T, v string) {
		out, err := u.render(func(string) (string, bool) { return v, true })
		if err != nil {
			if !errors.Is(err, errTemplateValue) {
				t.Fatalf("render(%q): %v", v, err)
			}
			return
		}
		checkRendered(t, v, out)
	})
}

// FuzzHeaderTemplate renders a header template with any value: what is
// accepted is one valid header field value (so it can neither end the
// header nor start another, and the HTTP client sends it as it is), and
// what HTTP accepts is accepted unless it holds a control character.
func FuzzHeaderTemplate(f *testing.F) {
	for _, v := range hostileValues {
		f.Add(v)
	}
	tmpl, err := parseText("Bearer {context.token}; v={body.v}")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, v string) {
		out, err := tmpl.appendRender(nil, func(string) (string, bool) { return v, true },
			func(dst []byte, v string) []byte { return append(dst, v...) })
		if err != nil {
			t.Fatal(err)
		}
		err = checkHeaderValue(string(out))
		valid := httpguts.ValidHeaderFieldValue(string(out))
		if err == nil && !valid {
			t.Fatalf("accepted %q, which is not a header field value", out)
		}
		if err != nil && valid && !strings.ContainsAny(v, "\x00\x01\x02\x03\x04\x05\x06\x07\x08\n\x0b\x0c\r\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f\x7f") {
			t.Fatalf("refused %q: %v", out, err)
		}
	})
}
