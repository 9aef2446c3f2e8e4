package jsonws

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// body is a client message parsed lazily: the top-level object is split into
// raw members once, and deeper paths are decoded only when asked for, so a
// payload is forwarded byte for byte as the client wrote it.
type body struct {
	raw  []byte
	top  map[string]json.RawMessage // nil when raw is not a JSON object
	deep bool                       // not decoded: nested deeper than maxDepth
}

// maxDepth is encoding/json's nesting limit; a deeper message is refused
// as too deep rather than reported as not being an object.
const maxDepth = 10000

// parseBody splits data into members; ok is false when data is not a JSON
// object.
func parseBody(data []byte) (b *body, ok bool) {
	b = &body{raw: data}
	d := bytes.TrimLeft(data, " \t\r\n")
	if len(d) == 0 || d[0] != '{' {
		b.deep = len(d) > maxDepth && d[0] == '[' && tooDeep(d)
		return b, false
	}
	if err := json.Unmarshal(data, &b.top); err != nil {
		b.top = nil
		b.deep = tooDeep(d)
		return b, false
	}
	return b, true
}

// tooDeep reports whether data opens more than maxDepth arrays and objects
// at once, outside strings.
func tooDeep(data []byte) bool {
	depth, inStr, esc := 0, false, false
	for _, c := range data {
		switch {
		case inStr:
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"':
				inStr = false
			}
		case c == '"':
			inStr = true
		case c == '{' || c == '[':
			if depth++; depth > maxDepth {
				return true
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return false
}

// lookup returns the raw JSON at path: object members by name, array
// elements by decimal index.
func (b *body) lookup(path []string) (json.RawMessage, bool) {
	if b.top == nil || len(path) == 0 {
		return nil, false
	}
	cur, ok := b.top[path[0]]
	if !ok {
		return nil, false
	}
	for _, seg := range path[1:] {
		cur = bytes.TrimLeft(cur, " \t\r\n")
		if len(cur) == 0 {
			return nil, false
		}
		switch cur[0] {
		case '{':
			var m map[string]json.RawMessage
			if json.Unmarshal(cur, &m) != nil {
				return nil, false
			}
			if cur, ok = m[seg]; !ok {
				return nil, false
			}
		case '[':
			i, ok := arrayIndex(seg)
			if !ok {
				return nil, false
			}
			var a []json.RawMessage
			if json.Unmarshal(cur, &a) != nil || i >= len(a) {
				return nil, false
			}
			cur = a[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

// arrayIndex parses a path segment as a plain decimal index: digits only,
// no sign, no leading zero.
func arrayIndex(seg string) (int, bool) {
	if seg == "" || len(seg) > 9 || (len(seg) > 1 && seg[0] == '0') {
		return 0, false
	}
	for i := 0; i < len(seg); i++ {
		if seg[i] < '0' || seg[i] > '9' {
			return 0, false
		}
	}
	i, err := strconv.Atoi(seg)
	return i, err == nil
}

// scalar returns the value at path as text: a string's content, a number's
// or a boolean's literal. Objects, arrays, null and absent values are not
// scalars.
func (b *body) scalar(path []string) (string, bool) {
	raw, ok := b.lookup(path)
	if !ok {
		return "", false
	}
	return scalarText(raw)
}

// str returns the value at path when it is a JSON string: where a client
// names a whole subject or queue, a number or boolean is a mistake to
// report, not a name to take.
func (b *body) str(path []string) (string, bool) {
	raw, ok := b.lookup(path)
	if raw = bytes.TrimSpace(raw); !ok || len(raw) == 0 || raw[0] != '"' {
		return "", false
	}
	return scalarText(raw)
}

func scalarText(raw json.RawMessage) (string, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "", false
	}
	switch raw[0] {
	case '"':
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return "", false
		}
		return s, true
	case 't', 'f', '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return string(raw), true
	}
	return "", false
}

// payload returns the bytes a route forwards from path: a JSON string's
// content (so text reaches NATS as plain text), any other value as its raw
// JSON, and nothing for an absent value.
func (b *body) payload(path []string) []byte {
	raw, ok := b.lookup(path)
	if !ok {
		return nil
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return []byte(s)
		}
	}
	return raw
}
