package jsonws

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Errors of rendering an http integration's URL or headers from a message:
// the client's values do not fit, so the client gets a bad_request frame
// and no request is sent.
var (
	errTemplateValue = errors.New("jsonws: template value")
	errURLShape      = errors.New("jsonws: rendered URL changed shape")
)

// Bounds on what a template renders.
const (
	maxRenderedURL    = 8 << 10
	maxRenderedHeader = 8 << 10
)

// textTemplate is text with {name} placeholders (the variables of subject
// templates): a URL path segment, a query value or a header value. It does
// not escape: the caller escapes each value for its place.
type textTemplate struct {
	src   string
	parts []tpart
}

// tpart is literal text (name == "") or a placeholder.
type tpart struct{ lit, name string }

// parseText parses s; every placeholder must be a known variable.
func parseText(s string) (textTemplate, error) {
	t := textTemplate{src: s}
	lit := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '}':
			return t, fmt.Errorf("'}' at offset %d has no '{'", i)
		case '{':
			end := strings.IndexAny(s[i+1:], "{}")
			if end < 0 || s[i+1+end] == '{' {
				return t, fmt.Errorf("'{' at offset %d is not closed", i)
			}
			name := s[i+1 : i+1+end]
			if !knownVar(name) {
				return t, fmt.Errorf("unknown variable {%s} at offset %d: %s", name, i, varsHelp)
			}
			if i > lit {
				t.parts = append(t.parts, tpart{lit: s[lit:i]})
			}
			t.parts = append(t.parts, tpart{name: name})
			i += 1 + end
			lit = i + 1
		}
	}
	if lit < len(s) {
		t.parts = append(t.parts, tpart{lit: s[lit:]})
	}
	return t, nil
}

// hasVars reports whether t has a placeholder.
func (t textTemplate) hasVars() bool {
	for _, p := range t.parts {
		if p.name != "" {
			return true
		}
	}
	return false
}

// vars calls fn with each placeholder name.
func (t textTemplate) vars(fn func(string)) {
	for _, p := range t.parts {
		if p.name != "" {
			fn(p.name)
		}
	}
}

// appendRender appends t to dst with each value looked up and passed
// through escape. A name lookup does not know is an error.
func (t textTemplate) appendRender(dst []byte, lookup func(string) (string, bool), escape func([]byte, string) []byte) ([]byte, error) {
	for _, p := range t.parts {
		if p.name == "" {
			dst = append(dst, p.lit...)
			continue
		}
		v, ok := lookup(p.name)
		if !ok {
			return dst, fmt.Errorf("%w: {%s} has no value", errTemplateValue, p.name)
		}
		dst = escape(dst, v)
	}
	return dst, nil
}

// appendStrict percent-encodes every byte of v but the unreserved ones of
// RFC 3986 section 2.3 (ALPHA DIGIT - . _ ~): a value cannot end a path
// segment ('/'), start a query ('?') or fragment ('#'), add a parameter
// ('&', ';', '='), or smuggle an encoded character ('%' becomes %25), in a
// path segment or a query value alike.
func appendStrict(dst []byte, v string) []byte {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(v); i++ {
		c := v[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			dst = append(dst, c)
			continue
		}
		dst = append(dst, '%', hex[c>>4], hex[c&15])
	}
	return dst
}

// checkHeaderValue checks that a rendered header value cannot end the
// header or start another: control characters (CR, LF, NUL, ...) but
// the tab are refused. Bytes from 0x80 up are obs-text (RFC 9110 section
// 5.5) and pass.
func checkHeaderValue(v string) error {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return fmt.Errorf("%w: control character %#x cannot be in a header", errTemplateValue, c)
		}
	}
	return nil
}

// urlTemplate is an http integration's URL: a literal scheme and host, path
// segments and query values that may hold placeholders. Rendered, it has the
// scheme, host and number of path segments it was configured with, whatever
// the values.
type urlTemplate struct {
	src    string
	scheme string
	host   string
	prefix string // scheme://authority, literal
	segs   []textTemplate
	query  []queryParam
}

// queryParam is name=value in a query; name is literal and escaped at load.
type queryParam struct {
	name  string
	value textTemplate
}

// parseURL parses an http integration's url; extra are the query: map's
// entries, added after the URL's own parameters.
func parseURL(s string, extra []queryParam) (*urlTemplate, error) {
	u := &urlTemplate{src: s}
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok || (scheme != "http" && scheme != "https") {
		return nil, fmt.Errorf("an http integration needs an absolute http:// or https:// URL, got %q", s)
	}
	if strings.ContainsAny(s, "#") {
		return nil, fmt.Errorf("%q: a URL sent to an endpoint has no fragment", s)
	}
	end := strings.IndexAny(rest, "/?")
	if end < 0 {
		end = len(rest)
	}
	authority := rest[:end]
	if strings.ContainsAny(authority, "{}") {
		return nil, fmt.Errorf("%q: the host cannot hold a variable: a message must never choose where a request goes", s)
	}
	pu, err := url.Parse(scheme + "://" + authority)
	if err != nil || pu.Host == "" || pu.Hostname() == "" {
		return nil, fmt.Errorf("an http integration needs an absolute http:// or https:// URL, got %q", s)
	}
	u.scheme, u.host, u.prefix = scheme, pu.Host, scheme+"://"+authority
	rest = rest[end:]
	path, query, _ := strings.Cut(rest, "?")
	if path != "" {
		for _, seg := range strings.Split(path[1:], "/") {
			t, err := parseText(seg)
			if err != nil {
				return nil, fmt.Errorf("%q: path: %w", s, err)
			}
			if t.hasVars() && (strings.Contains(seg, "..") || seg == "." || seg == "..") {
				return nil, fmt.Errorf("%q: path segment %q: dots next to a variable could make a relative segment", s, seg)
			}
			u.segs = append(u.segs, t)
		}
	}
	if query != "" {
		for _, kv := range strings.Split(query, "&") {
			k, v, _ := strings.Cut(kv, "=")
			if k == "" || strings.ContainsAny(k, "{}") {
				return nil, fmt.Errorf("%q: query parameter %q: the name must be literal text", s, kv)
			}
			t, err := parseText(v)
			if err != nil {
				return nil, fmt.Errorf("%q: query %s: %w", s, k, err)
			}
			u.query = append(u.query, queryParam{name: k, value: t})
		}
	}
	u.query = append(u.query, extra...)
	// The skeleton (every value "x") must be a URL of this scheme and host.
	skel, err := u.render(func(string) (string, bool) { return "x", true })
	if err != nil {
		return nil, fmt.Errorf("%q: %w", s, err)
	}
	if _, err := url.Parse(skel); err != nil {
		return nil, fmt.Errorf("%q: %w", s, err)
	}
	return u, nil
}

// render builds the URL of one request. Each value is escaped with
// appendStrict; a path segment holding a placeholder must not render empty
// or as "." or "..", which would change the path's shape. The result is
// parsed again and must have the configured scheme, host and number of path
// segments: that cannot fail, and is the last line of defence.
func (u *urlTemplate) render(lookup func(string) (string, bool)) (string, error) {
	buf := make([]byte, 0, len(u.src)+32)
	buf = append(buf, u.prefix...)
	var err error
	for _, seg := range u.segs {
		buf = append(buf, '/')
		start := len(buf)
		if buf, err = seg.appendRender(buf, lookup, appendStrict); err != nil {
			return "", err
		}
		if s := string(buf[start:]); seg.hasVars() && (s == "" || s == "." || s == "..") {
			return "", fmt.Errorf("%w: path segment %q would be %q", errTemplateValue, seg.src, s)
		}
	}
	for i, q := range u.query {
		if i == 0 {
			buf = append(buf, '?')
		} else {
			buf = append(buf, '&')
		}
		buf = append(buf, q.name...)
		buf = append(buf, '=')
		if buf, err = q.value.appendRender(buf, lookup, appendStrict); err != nil {
			return "", err
		}
	}
	if len(buf) > maxRenderedURL {
		return "", fmt.Errorf("%w: the URL would be %d bytes, more than %d", errTemplateValue, len(buf), maxRenderedURL)
	}
	out := string(buf)
	pu, err := url.Parse(out)
	if err != nil || pu.Scheme != u.scheme || pu.Host != u.host || pu.Fragment != "" || pu.User.String() != "" && !strings.Contains(u.prefix, "@") ||
		strings.Count(pu.EscapedPath(), "/") != len(u.segs) {
		return "", fmt.Errorf("%w: %q from %q", errURLShape, out, u.src)
	}
	return out, nil
}
