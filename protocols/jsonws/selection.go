package jsonws

import (
	"errors"
	"fmt"
	"strings"
)

// ErrSelection is wrapped by every selection expression parse error.
var ErrSelection = errors.New("jsonws: invalid route selection expression")

// selection is a parsed route selection expression: either one
// $request.body.<path>, or text with ${request.body.<path>} variables, such
// as ${request.body.service}/${request.body.action}.
type selection struct {
	src   string
	parts []selPart
}

type selPart struct {
	text string   // literal text, when path is nil
	path []string // body path of a variable
}

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
		path, err := parseBodyPath(src[1:])
		if err != nil {
			return nil, fmt.Errorf("%w: %q: %v", ErrSelection, src, err)
		}
		sel.parts = []selPart{{path: path}}
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
		path, err := parseBodyPath(rest[i+2 : i+end])
		if err != nil {
			return nil, fmt.Errorf("%w: %q: %v", ErrSelection, src, err)
		}
		sel.parts = append(sel.parts, selPart{path: path})
		rest = rest[i+end+1:]
	}
	return sel, nil
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
			if r <= ' ' || r == '$' || r == '{' || r == '}' || r == 0x7f {
				return nil, fmt.Errorf("bad character %q in %q", r, s)
			}
		}
	}
	return path, nil
}

// eval computes the route key of a message. A missing or non-scalar value
// selects as "" (as the managed gateway does).
func (sel *selection) eval(b *body) string {
	var buf [64]byte
	return string(sel.appendKey(buf[:0], b))
}

// appendKey appends the route key of a message to dst: a connection looks
// its route up with it without making a string of it.
func (sel *selection) appendKey(dst []byte, b *body) []byte {
	for _, p := range sel.parts {
		if p.path == nil {
			dst = append(dst, p.text...)
			continue
		}
		dst = b.appendScalar(dst, p.path)
	}
	return dst
}
