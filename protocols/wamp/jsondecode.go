package wamp

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/wsgate/wsgate/internal/jsondepth"
)

// The JSON decoder. It builds the value model straight from the bytes in
// one recursive pass, with the nesting already bounded by decodeJSON: no
// reflection, no decoder or buffer per message, a string without escapes
// sliced rather than unquoted. It accepts exactly what json.Valid accepts
// (RFC 8259) and decodes as encoding/json with UseNumber followed by
// fromJSON did: a string with escapes or invalid UTF-8 is unquoted by
// encoding/json itself, so both agree on U+FFFD and lone surrogates, and
// of duplicate keys the last wins. FuzzJSONDifferential holds it to that.

// jsonParser reads one JSON document.
type jsonParser struct {
	b []byte
	i int
	// check only validates: no value is built, and a string with a
	// surrogate escaped (\ud800) is refused (errNotVerbatim), since
	// encoding/json would turn a lone one into U+FFFD.
	check bool
	// stack holds the elements of the arrays being read, each copied to
	// a slice of its exact length when it closes: one allocation an
	// array rather than one each time append grows it.
	stack []any
	first [16]any // stack's first backing store
}

// errNotVerbatim refuses a document that is valid JSON but would not
// decode and re-encode to the same text.
var errNotVerbatim = fmt.Errorf("%w: not passed verbatim", ErrMalformed)

// parseJSON decodes b, one JSON value with nothing but white space around
// it, whose nesting decodeJSON has checked.
func parseJSON(b []byte) (any, error) {
	p := &jsonParser{b: b}
	p.stack = p.first[:0]
	return p.document()
}

// verbatimArgs reports whether a NATS body is a JSON array of arguments
// that a JSON client may receive as it is: UTF-8, valid JSON nested at
// most maxDepth deep, with no number outside float64's range and no
// escaped surrogate, so that it means to the client what decoding and
// re-encoding it would (the depth check and the one below answer without
// allocating).
func verbatimArgs(b []byte, maxDepth int) ([]byte, bool) {
	t := bytes.TrimSpace(b)
	if len(t) == 0 || t[0] != '[' || len(t) > maxBodyBytes || !utf8.Valid(t) || jsondepth.Exceeds(t, maxDepth) {
		return nil, false
	}
	if _, err := (&jsonParser{b: t, check: true}).document(); err != nil {
		return nil, false
	}
	return t, true
}

func (p *jsonParser) document() (any, error) {
	p.space()
	v, err := p.value()
	if err != nil {
		return nil, err
	}
	p.space()
	if p.i != len(p.b) {
		return nil, p.fail("data after the JSON value")
	}
	return v, nil
}

func (p *jsonParser) fail(what string) error {
	return fmt.Errorf("%w: %s at offset %d", ErrMalformed, what, p.i)
}

func (p *jsonParser) space() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *jsonParser) value() (any, error) {
	if p.i >= len(p.b) {
		return nil, p.fail("unexpected end")
	}
	switch c := p.b[p.i]; {
	case c == '[':
		return p.array()
	case c == '{':
		return p.object()
	case c == '"':
		s, err := p.str()
		if err != nil || p.check {
			return nil, err
		}
		if bin, ok := binaryFromJSON(s); ok {
			return bin, nil
		}
		return s, nil
	case c == '-' || c >= '0' && c <= '9':
		return p.number()
	case c == 't':
		return true, p.literal("true")
	case c == 'f':
		return false, p.literal("false")
	case c == 'n':
		return nil, p.literal("null")
	}
	return nil, p.fail("invalid character")
}

func (p *jsonParser) literal(word string) error {
	if len(p.b)-p.i < len(word) || string(p.b[p.i:p.i+len(word)]) != word {
		return p.fail("invalid literal")
	}
	p.i += len(word)
	return nil
}

func (p *jsonParser) array() (any, error) {
	p.i++ // [
	p.space()
	if p.i < len(p.b) && p.b[p.i] == ']' {
		p.i++
		if p.check {
			return nil, nil
		}
		return []any{}, nil
	}
	mark := len(p.stack)
	for {
		p.space()
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		if !p.check {
			p.stack = append(p.stack, v)
		}
		p.space()
		if p.i >= len(p.b) {
			return nil, p.fail("unterminated array")
		}
		switch p.b[p.i] {
		case ',':
			p.i++
		case ']':
			p.i++
			if p.check {
				return nil, nil
			}
			list := make([]any, len(p.stack)-mark)
			copy(list, p.stack[mark:])
			clear(p.stack[mark:])
			p.stack = p.stack[:mark]
			return list, nil
		default:
			return nil, p.fail("expected , or ]")
		}
	}
}

func (p *jsonParser) object() (any, error) {
	p.i++ // {
	m := map[string]any{}
	p.space()
	if p.i < len(p.b) && p.b[p.i] == '}' {
		p.i++
		return m, nil
	}
	for {
		p.space()
		if p.i >= len(p.b) || p.b[p.i] != '"' {
			return nil, p.fail("expected a key")
		}
		k, err := p.str()
		if err != nil {
			return nil, err
		}
		p.space()
		if p.i >= len(p.b) || p.b[p.i] != ':' {
			return nil, p.fail("expected :")
		}
		p.i++
		p.space()
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		if !p.check {
			m[k] = v
		}
		p.space()
		if p.i >= len(p.b) {
			return nil, p.fail("unterminated object")
		}
		switch p.b[p.i] {
		case ',':
			p.i++
		case '}':
			p.i++
			return m, nil
		default:
			return nil, p.fail("expected , or }")
		}
	}
}

// str reads a string at p.b[p.i] == '"'.
func (p *jsonParser) str() (string, error) {
	start := p.i
	p.i++
	escaped, ascii := false, true
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			raw := p.b[start+1 : p.i-1]
			if p.check {
				return "", nil
			}
			if !escaped && (ascii || utf8.Valid(raw)) {
				return string(raw), nil
			}
			// Escapes or invalid UTF-8: encoding/json's own unquoting,
			// for its exact answers.
			var s string
			if err := json.Unmarshal(p.b[start:p.i], &s); err != nil {
				return "", fmt.Errorf("%w: %v", ErrMalformed, err)
			}
			return s, nil
		case c < 0x20:
			return "", p.fail("control character in a string")
		case c == '\\':
			escaped = true
			p.i++
			if p.i >= len(p.b) {
				return "", p.fail("unterminated string")
			}
			switch p.b[p.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				p.i++
			case 'u':
				if len(p.b)-p.i < 5 {
					return "", p.fail("short \\u escape")
				}
				for _, h := range p.b[p.i+1 : p.i+5] {
					if !isHex(h) {
						return "", p.fail("invalid \\u escape")
					}
				}
				if p.check && surrogate(p.b[p.i+1], p.b[p.i+2]) {
					return "", errNotVerbatim
				}
				p.i += 5
			default:
				return "", p.fail("invalid escape")
			}
		default:
			if c >= utf8.RuneSelf {
				ascii = false
			}
			p.i++
		}
	}
	return "", p.fail("unterminated string")
}

// surrogate reports whether a \u escape's first two hex digits are in
// D800-DFFF.
func surrogate(h0, h1 byte) bool {
	return (h0 == 'd' || h0 == 'D') && (h1 >= '8' && h1 <= '9' || h1 >= 'a' && h1 <= 'f' || h1 >= 'A' && h1 <= 'F')
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// number reads a number in JSON's grammar and converts it as fromJSON
// does: int64, else uint64, else float64; out of float64's range is
// malformed.
func (p *jsonParser) number() (any, error) {
	start := p.i
	integer := true
	if p.b[p.i] == '-' {
		p.i++
	}
	switch {
	case p.i < len(p.b) && p.b[p.i] == '0':
		p.i++
	case p.i < len(p.b) && p.b[p.i] >= '1' && p.b[p.i] <= '9':
		p.digits()
	default:
		return nil, p.fail("invalid number")
	}
	if p.i < len(p.b) && p.b[p.i] == '.' {
		integer = false
		p.i++
		if p.digits() == 0 {
			return nil, p.fail("invalid number")
		}
	}
	if p.i < len(p.b) && (p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		integer = false
		p.i++
		if p.i < len(p.b) && (p.b[p.i] == '+' || p.b[p.i] == '-') {
			p.i++
		}
		if p.digits() == 0 {
			return nil, p.fail("invalid number")
		}
	}
	s := p.b[start:p.i]
	if p.check && integer && len(s) <= 18 {
		return nil, nil // fits an int64
	}
	if integer {
		if n, err := strconv.ParseInt(string(s), 10, 64); err == nil {
			return n, nil
		}
		if n, err := strconv.ParseUint(string(s), 10, 64); err == nil {
			return n, nil
		}
	}
	f, err := strconv.ParseFloat(string(s), 64)
	if err != nil {
		return nil, fmt.Errorf("%w: number %.32q", ErrMalformed, s)
	}
	return f, nil
}

func (p *jsonParser) digits() int {
	n := 0
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		p.i++
		n++
	}
	return n
}
