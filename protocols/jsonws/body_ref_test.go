package jsonws

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
)

// refBody is the encoding/json implementation of body that the scanner
// replaced, kept frozen as the reference the differential fuzz test
// (FuzzBodyDifferential) and the "before" benchmarks measure against: every
// answer of body must be the answer refBody gives. Do not "fix" it; it is
// the contract.
type refBody struct {
	raw  []byte
	top  map[string]json.RawMessage // nil when raw is not a JSON object
	deep bool                       // not decoded: nested deeper than maxDepth
}

// parseRefBody is the reference parseBody.
func parseRefBody(data []byte) (b *refBody, ok bool) {
	b = &refBody{raw: data}
	d := bytes.TrimLeft(data, " \t\r\n")
	if len(d) == 0 || d[0] != '{' {
		b.deep = len(d) > maxDepth && d[0] == '[' && refTooDeep(d)
		return b, false
	}
	if err := json.Unmarshal(data, &b.top); err != nil {
		b.top = nil
		b.deep = refTooDeep(d)
		return b, false
	}
	return b, true
}

func refTooDeep(data []byte) bool {
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

func (b *refBody) lookup(path []string) (json.RawMessage, bool) {
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
			i, ok := refArrayIndex(seg)
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

func refArrayIndex(seg string) (int, bool) {
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

func (b *refBody) scalar(path []string) (string, bool) {
	raw, ok := b.lookup(path)
	if !ok {
		return "", false
	}
	return refScalarText(raw)
}

func (b *refBody) str(path []string) (string, bool) {
	raw, ok := b.lookup(path)
	if raw = bytes.TrimSpace(raw); !ok || len(raw) == 0 || raw[0] != '"' {
		return "", false
	}
	return refScalarText(raw)
}

func refScalarText(raw json.RawMessage) (string, bool) {
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

func (b *refBody) payload(path []string) []byte {
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

// evalRef is the reference selection.eval.
func (sel *selection) evalRef(b *refBody) string {
	if len(sel.parts) == 1 && sel.parts[0].path != nil {
		v, _ := b.scalar(sel.parts[0].path)
		return v
	}
	var sb strings.Builder
	for _, p := range sel.parts {
		if p.path == nil {
			sb.WriteString(p.text)
			continue
		}
		v, _ := b.scalar(p.path)
		sb.WriteString(v)
	}
	return sb.String()
}

// refClientID is the reference clientID.
func refClientID(b *refBody) json.RawMessage {
	if b.top == nil {
		return nil
	}
	id, ok := b.top["id"]
	if !ok {
		return nil
	}
	return append(json.RawMessage(nil), id...)
}
