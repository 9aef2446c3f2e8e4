package socketio

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// Arguments of an EVENT or ACK on NATS. A message whose header
// Socketio-Spread is "true" holds a JSON array whose elements are the
// arguments; any other message is one argument: its JSON as it is, or, if
// it is not JSON, a string (valid UTF-8) or binary data. So an emit with
// one argument publishes that argument untouched, which every other
// protocol's subscriber reads as it would its own, and a worker's reply of
// plain JSON is the one argument of the ACK.

func validJSON(d []byte) bool { return json.Valid(d) }

// skipValue returns the end of the JSON value starting at d[i], which must
// be valid JSON (checked before): strings, and brackets nested in any
// depth, are skipped as a whole.
func skipValue(d []byte, i int) int {
	depth := 0
	for ; i < len(d); i++ {
		switch c := d[i]; c {
		case '"':
			i = endString(d, i)
			if depth == 0 {
				return i
			}
			i--
		case '[', '{':
			depth++
		case ']', '}':
			if depth == 0 {
				return i // the end of the array holding a scalar
			}
			depth--
			if depth == 0 {
				return i + 1
			}
		case ',', ' ', '\t', '\n', '\r', ':':
			if depth == 0 {
				return i
			}
		}
	}
	return i
}

// endString returns the index after the string starting at d[i] ('"').
func endString(d []byte, i int) int {
	for i++; i < len(d); i++ {
		switch d[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return i
}

func skipSpace(d []byte, i int) int {
	for i < len(d) && isSpace(d[i]) {
		i++
	}
	return i
}

// elements splits a valid JSON array into its elements' raw bytes, at
// most limit of them (limit < 0: all).
func elements(arr []byte, limit int) [][]byte {
	i := skipSpace(arr, 0)
	if i >= len(arr) || arr[i] != '[' {
		return nil
	}
	var out [][]byte
	i = skipSpace(arr, i+1)
	for i < len(arr) && arr[i] != ']' && (limit < 0 || len(out) < limit) {
		j := skipValue(arr, i)
		out = append(out, arr[i:j])
		i = skipSpace(arr, j)
		if i < len(arr) && arr[i] == ',' {
			i = skipSpace(arr, i+1)
		}
	}
	return out
}

// splitEvent parses an EVENT's payload ["name", args...]: the event name
// and the raw arguments after it (the bytes between the name's comma and
// the closing bracket, maybe empty). d must be valid JSON.
func splitEvent(d []byte) (name string, rest []byte, err error) {
	i := skipSpace(d, 0)
	if i >= len(d) || d[i] != '[' {
		return "", nil, fmt.Errorf("%w: EVENT payload must be an array", ErrMalformed)
	}
	i = skipSpace(d, i+1)
	if i >= len(d) || d[i] != '"' {
		return "", nil, fmt.Errorf("%w: EVENT needs an event name (a string) first", ErrMalformed)
	}
	j := endString(d, i)
	raw := d[i:j]
	if bytes.IndexByte(raw, '\\') < 0 {
		name = string(raw[1 : len(raw)-1])
	} else if err := json.Unmarshal(raw, &name); err != nil {
		return "", nil, fmt.Errorf("%w: event name: %w", ErrMalformed, err)
	}
	i = skipSpace(d, j)
	if i < len(d) && d[i] == ',' {
		i++
	}
	end := bytes.LastIndexByte(d, ']')
	if end < i {
		end = i
	}
	return name, bytes.TrimSpace(d[i:end]), nil
}

// argsBody is what an emit's arguments (the raw bytes between the brackets
// after the event name) publish: one argument as it is; none or several
// as a JSON array, spread reporting it.
func argsBody(rest []byte) (body []byte, spread bool) {
	if len(rest) > 0 {
		if end := skipValue(rest, 0); skipSpace(rest, end) == len(rest) {
			return rest, false
		}
	}
	b := make([]byte, 0, len(rest)+2)
	b = append(b, '[')
	b = append(b, rest...)
	return append(b, ']'), true
}

// ackBody is what a client's ACK arguments (a JSON array) publish: the
// reply to a worker's request.
func ackBody(arr []byte) (body []byte, spread bool) {
	i := skipSpace(arr, 0)
	end := bytes.LastIndexByte(arr, ']')
	if i >= len(arr) || end <= i {
		return []byte("[]"), true
	}
	return argsBody(bytes.TrimSpace(arr[i+1 : end]))
}

// appendArgs appends a NATS message's arguments, comma-separated, to dst
// (the inside of an EVENT or ACK array): the elements of a spread array,
// else the body as one argument. Binary data that is not valid UTF-8 is
// sent as a base64 string, as JSON has nothing better; an empty body is
// no argument.
func appendArgs(dst []byte, body []byte, spread bool) []byte {
	if spread && firstByte(body) == '[' && validJSON(body) {
		t := bytes.TrimSpace(body)
		return append(dst, bytes.TrimSpace(t[1:len(t)-1])...)
	}
	if len(body) == 0 {
		return dst
	}
	if validJSON(body) {
		return append(dst, bytes.TrimSpace(body)...)
	}
	if utf8.Valid(body) {
		return appendQuoted(dst, body)
	}
	dst = append(dst, '"')
	dst = appendBase64(dst, body)
	return append(dst, '"')
}

// appendQuoted appends s as a JSON string.
func appendQuoted(dst, s []byte) []byte {
	b, _ := json.Marshal(string(s))
	return append(dst, b...)
}

// appendString appends s as a JSON string: as it is when it needs no
// escaping (the common case, without allocating), else through
// encoding/json.
func appendString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			b, _ := json.Marshal(s)
			return append(dst, b...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

// appendBase64 appends the standard base64 of b.
func appendBase64(dst, b []byte) []byte {
	return base64.StdEncoding.AppendEncode(dst, b)
}
