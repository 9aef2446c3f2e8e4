package jsonws

import (
	"encoding/json"
	"strconv"
	"sync"

	"github.com/wsgate/wsgate/internal/jsondepth"
)

// body is a client message read without being decoded: scanTop validates it
// and records where each top-level member is, and deeper paths, strings'
// text and payloads are worked out from the bytes only when asked for, so a
// payload is forwarded byte for byte as the client wrote it.
//
// What body answers is what decoding the message with encoding/json into
// map[string]json.RawMessage (and each nested object and array likewise)
// would answer, duplicate keys (the last wins), escapes, invalid UTF-8 and
// lone surrogates (U+FFFD) included: refBody in body_ref_test.go is that
// implementation, and FuzzBodyDifferential holds the two to the same answers.
//
// The slices body returns (lookup, payload) share raw's bytes: they are
// valid as long as raw is (for a client message, during the HandleMessage
// call; clone a body that must outlive it). Strings are copies.
type body struct {
	raw  []byte
	top  []member // every top-level member in order; nil when raw is not a JSON object
	deep bool     // not an object because nested deeper than maxDepth

	fixed [16]member // top's storage for the usual message, so parsing allocates nothing
}

// maxDepth is encoding/json's nesting limit; a deeper message is refused
// as too deep rather than reported as not being an object.
const maxDepth = 10000

// parseBody reads data into a new body; ok is false when data is not a JSON
// object.
func parseBody(data []byte) (b *body, ok bool) {
	b = new(body)
	return b, b.parse(data)
}

// parse reads data into b, forgetting what b held; it reports whether data
// is a JSON object.
func (b *body) parse(data []byte) bool {
	b.raw, b.top, b.deep = data, nil, false
	i := skipWS(data, 0)
	if i == len(data) || data[i] != '{' {
		d := data[i:]
		b.deep = len(d) > maxDepth && d[0] == '[' && jsondepth.Exceeds(d, maxDepth)
		return false
	}
	top, ok := scanTop(data, i, b.fixed[:0])
	if !ok {
		b.deep = jsondepth.Exceeds(data[i:], maxDepth)
		return false
	}
	b.top = top
	return true
}

// clone returns a copy of b that owns its bytes, for work that outlives the
// message (a two-way route runs beside the reader, whose buffer is reused).
func (b *body) clone() *body {
	nb := &body{raw: append([]byte(nil), b.raw...), deep: b.deep}
	if b.top != nil {
		nb.top = append(nb.fixed[:0], b.top...)
	}
	return nb
}

// bodies recycles the bodies of messages the reader is done with.
var bodies = sync.Pool{New: func() any { return new(body) }}

func getBody() *body { return bodies.Get().(*body) }

// putBody recycles b; nothing it returned may be used after.
func putBody(b *body) {
	b.raw, b.top = nil, nil
	bodies.Put(b)
}

// find returns the place in raw of the value at path: object members by
// name, array elements by decimal index.
func (b *body) find(path []string) (v0, v1 int, ok bool) {
	if b.top == nil || len(path) == 0 {
		return 0, 0, false
	}
	for j := len(b.top) - 1; j >= 0; j-- { // the last of duplicates wins
		if m := &b.top[j]; m.named(b.raw, path[0]) {
			v0, v1, ok = m.v0, m.v1, true
			break
		}
	}
	for _, seg := range path[1:] {
		if !ok {
			break
		}
		switch b.raw[v0] {
		case '{':
			v0, v1, ok = objectMember(b.raw, v0, seg)
		case '[':
			var n int
			if n, ok = arrayIndex(seg); ok {
				v0, v1, ok = arrayElement(b.raw, v0, n)
			}
		default:
			ok = false
		}
	}
	return v0, v1, ok
}

// findDotted is find for a path written with dots (meta.kind), split
// without allocating for up to 8 segments.
func (b *body) findDotted(p string) (v0, v1 int, ok bool) {
	var buf [8]string
	path := buf[:0]
	for {
		i := 0
		for i < len(p) && p[i] != '.' {
			i++
		}
		path = append(path, p[:i])
		if i == len(p) {
			break
		}
		p = p[i+1:]
	}
	return b.find(path)
}

// lookup returns the raw JSON at path.
func (b *body) lookup(path []string) (json.RawMessage, bool) {
	v0, v1, ok := b.find(path)
	if !ok {
		return nil, false
	}
	return json.RawMessage(b.raw[v0:v1:v1]), true
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
	v0, v1, ok := b.find(path)
	return b.text(v0, v1, ok, false)
}

// scalarDotted is scalar for a path written with dots, as in a subject
// template's {body.meta.kind}.
func (b *body) scalarDotted(p string) (string, bool) {
	v0, v1, ok := b.findDotted(p)
	return b.text(v0, v1, ok, false)
}

// str returns the value at path when it is a JSON string: where a client
// names a whole subject or queue, a number or boolean is a mistake to
// report, not a name to take.
func (b *body) str(path []string) (string, bool) {
	v0, v1, ok := b.find(path)
	return b.text(v0, v1, ok, true)
}

// text is the text of the value at raw[v0:v1] if found and a scalar (a
// string if onlyString).
func (b *body) text(v0, v1 int, found, onlyString bool) (string, bool) {
	if !found {
		return "", false
	}
	switch v := b.raw[v0:v1]; v[0] {
	case '"':
		if s := v[1 : len(v)-1]; !plain(s) {
			var buf [64]byte
			return string(appendUnquote(buf[:0], s)), true
		}
		return string(v[1 : len(v)-1]), true
	case 't', 'f', '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		if !onlyString {
			return string(v), true
		}
	}
	return "", false
}

// appendScalar appends the text scalar would return for path to dst.
func (b *body) appendScalar(dst []byte, path []string) []byte {
	v0, v1, ok := b.find(path)
	if !ok {
		return dst
	}
	switch v := b.raw[v0:v1]; v[0] {
	case '"':
		return appendUnquote(dst, v[1:len(v)-1])
	case 't', 'f', '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return append(dst, v...)
	}
	return dst
}

// payload returns the bytes a route forwards from path: a JSON string's
// content (so text reaches NATS as plain text), any other value as its raw
// JSON, and nothing for an absent value.
func (b *body) payload(path []string) []byte {
	v0, v1, ok := b.find(path)
	if !ok {
		return nil
	}
	v := b.raw[v0:v1:v1]
	if v[0] != '"' {
		return v
	}
	if s := v[1 : len(v)-1 : len(v)-1]; plain(s) {
		return s
	}
	return appendUnquote(nil, v[1:len(v)-1])
}
