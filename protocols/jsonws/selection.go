package jsonws

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// ErrSelection is wrapped by every selection expression parse error.
var ErrSelection = errors.New("jsonws: invalid route selection expression")

// selection is a parsed route selection expression: either one variable,
// or text with ${...} variables, such as
// ${request.body.service}/${request.body.action}. A variable is
// request.body.<path> (a member of the message), request.querystring.<name>
// or request.header.<name> (the first value of that upgrade request query
// parameter or header), or request.path (the upgrade request's path).
type selection struct {
	src   string
	parts []selPart
	req   []selPart // the parts naming the upgrade request, in order
}

type selPart struct {
	text string   // literal text, when path is nil and from is 0
	path []string // body path of a variable
	from reqPart  // which part of the upgrade request, if any
	name string   // the query parameter's or header's name
	ri   int      // index of the value in a connection's request values
}

// reqPart names where a variable's value comes from in the upgrade request.
type reqPart uint8

const (
	fromQuery reqPart = 1 + iota
	fromHeader
	fromPath
)

const bodyPrefix = "request.body"

// parseSelection parses a route selection expression.
func parseSelection(src string) (*selection, error) {
	if src == "" {
		return nil, fmt.Errorf("%w: empty", ErrSelection)
	}
	sel := &selection{src: src}
	if !strings.Contains(src, "${") {
		if !strings.HasPrefix(src, "$") {
			return nil, fmt.Errorf("%w: %q must be $request.body.<path> or text with ${request.body.<path>} variables", ErrSelection, src)
		}
		p, err := parseVar(src[1:])
		if err != nil {
			return nil, fmt.Errorf("%w: %q: %v", ErrSelection, src, err)
		}
		sel.add(p)
		return sel, nil
	}
	rest := src
	for rest != "" {
		i := strings.Index(rest, "${")
		if i < 0 {
			sel.parts = append(sel.parts, selPart{text: rest})
			break
		}
		if i > 0 {
			sel.parts = append(sel.parts, selPart{text: rest[:i]})
		}
		end := strings.IndexByte(rest[i:], '}')
		if end < 0 {
			return nil, fmt.Errorf("%w: %q: unclosed ${ at offset %d", ErrSelection, src, len(src)-len(rest)+i)
		}
		p, err := parseVar(rest[i+2 : i+end])
		if err != nil {
			return nil, fmt.Errorf("%w: %q: %v", ErrSelection, src, err)
		}
		sel.add(p)
		rest = rest[i+end+1:]
	}
	return sel, nil
}

// add appends a variable part.
func (sel *selection) add(p selPart) {
	if p.from != 0 {
		p.ri = len(sel.req)
		sel.req = append(sel.req, p)
	}
	sel.parts = append(sel.parts, p)
}

// parseVar parses one variable: request.body.<path>,
// request.querystring.<name>, request.header.<name> or request.path.
func parseVar(s string) (selPart, error) {
	switch {
	case s == "request.path":
		return selPart{from: fromPath}, nil
	case strings.HasPrefix(s, "request.querystring."):
		name := s[len("request.querystring."):]
		if name == "" || strings.ContainsFunc(name, badNameRune) {
			return selPart{}, fmt.Errorf("bad query parameter name in %q", s)
		}
		return selPart{from: fromQuery, name: name}, nil
	case strings.HasPrefix(s, "request.header."):
		name := s[len("request.header."):]
		if !validToken(name) {
			return selPart{}, fmt.Errorf("bad header name in %q", s)
		}
		return selPart{from: fromHeader, name: http.CanonicalHeaderKey(name)}, nil
	}
	path, err := parseBodyPath(s)
	if err != nil {
		return selPart{}, fmt.Errorf("variable %q must be request.body.<path>, request.querystring.<name>, request.header.<name> or request.path", s)
	}
	return selPart{path: path}, nil
}

func badNameRune(r rune) bool { return r <= ' ' || r == '$' || r == '{' || r == '}' || r == 0x7f }

// requestValues are the upgrade request's values the selection names, in
// the order of sel.req: what a connection keeps of its upgrade request
// (nothing, for a selection of the body alone).
func (sel *selection) requestValues(r *http.Request) []string {
	if len(sel.req) == 0 {
		return nil
	}
	vals := make([]string, len(sel.req))
	var q url.Values
	for i, p := range sel.req {
		switch p.from {
		case fromQuery:
			if q == nil {
				q = r.URL.Query()
			}
			vals[i] = q.Get(p.name)
		case fromHeader:
			vals[i] = r.Header.Get(p.name)
		case fromPath:
			vals[i] = r.URL.Path
		}
	}
	return vals
}

// parseBodyPath parses request.body.a.b into [a b].
func parseBodyPath(s string) ([]string, error) {
	if !strings.HasPrefix(s, bodyPrefix+".") {
		return nil, fmt.Errorf("variable %q must start with %s.", s, bodyPrefix)
	}
	path := strings.Split(s[len(bodyPrefix)+1:], ".")
	for _, seg := range path {
		if seg == "" {
			return nil, fmt.Errorf("empty path segment in %q", s)
		}
		for _, r := range seg {
			if badNameRune(r) {
				return nil, fmt.Errorf("bad character %q in %q", r, s)
			}
		}
	}
	return path, nil
}

// eval computes the route key of a message. A missing or non-scalar value
// selects as "" (as the managed gateway does); so does an upgrade request
// value when req (the connection's requestValues) is nil.
func (sel *selection) eval(b *body) string {
	var buf [64]byte
	return string(sel.appendKey(buf[:0], b, nil))
}

// appendKey appends the route key of a message to dst: a connection looks
// its route up with it without making a string of it.
func (sel *selection) appendKey(dst []byte, b *body, req []string) []byte {
	for _, p := range sel.parts {
		switch {
		case p.path != nil:
			dst = b.appendScalar(dst, p.path)
		case p.from != 0:
			if p.ri < len(req) {
				dst = append(dst, req[p.ri]...)
			}
		default:
			dst = append(dst, p.text...)
		}
	}
	return dst
}
