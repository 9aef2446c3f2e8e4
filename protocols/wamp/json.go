package wamp

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/wsgate/wsgate/internal/jsondepth"
)

// jsonSerializer is wamp.2.json: a message is a JSON array in a text frame
// [WAMP "JSON"]. Decoding is our own parser (jsondecode.go) after a scan
// that checks the nesting depth, so a deeply nested message is refused
// before any value is built; encoding is our own appender, for the binary
// convention and to skip reflection.
type jsonSerializer struct{}

func (jsonSerializer) Subprotocol() string { return SubprotocolJSON }
func (jsonSerializer) Text() bool          { return true }

func (jsonSerializer) Decode(b []byte, l Limits) ([]any, error) {
	if len(b) > l.MaxBytes {
		return nil, fmt.Errorf("%w: %d bytes, max %d", ErrTooLarge, len(b), l.MaxBytes)
	}
	v, err := decodeJSON(b, l.MaxDepth)
	if err != nil {
		return nil, err
	}
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("%w: not a JSON array", ErrMalformed)
	}
	return list, nil
}

func (jsonSerializer) Append(b []byte, v []any) ([]byte, error) {
	return appendJSON(b, v)
}

// decodeJSON decodes one JSON value into the value model (jsondecode.go),
// after checking its nesting.
func decodeJSON(b []byte, maxDepth int) (any, error) {
	if jsondepth.Exceeds(b, maxDepth) {
		return nil, fmt.Errorf("%w: more than %d levels", ErrTooDeep, maxDepth)
	}
	return parseJSON(b)
}

// binaryFromJSON decodes a string in the binary convention: "\u0000"
// followed by standard base64. A NUL-led string that is not valid base64
// stays a string.
func binaryFromJSON(s string) ([]byte, bool) {
	if len(s) == 0 || s[0] != 0 {
		return nil, false
	}
	b, err := base64.StdEncoding.DecodeString(s[1:])
	if err != nil {
		return nil, false
	}
	return b, true
}

// appendJSON appends the JSON encoding of a value of the value model.
func appendJSON(b []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case bool:
		return strconv.AppendBool(b, x), nil
	case int64:
		return strconv.AppendInt(b, x, 10), nil
	case int:
		return strconv.AppendInt(b, int64(x), 10), nil
	case uint64:
		return strconv.AppendUint(b, x, 10), nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("wamp: %v cannot be encoded in JSON", x)
		}
		// As encoding/json: plain notation in [1e-6, 1e21), else exponent.
		if a := math.Abs(x); a != 0 && (a < 1e-6 || a >= 1e21) {
			return strconv.AppendFloat(b, x, 'e', -1, 64), nil
		}
		n := len(b)
		b = strconv.AppendFloat(b, x, 'f', -1, 64)
		if !bytes.ContainsAny(b[n:], ".e") {
			// Keep it a float on the way back: 2.0, not 2.
			b = append(b, ".0"...)
		}
		return b, nil
	case string:
		return appendJSONString(b, x), nil
	case []byte:
		b = append(b, `"\u0000`...)
		b = base64.StdEncoding.AppendEncode(b, x)
		return append(b, '"'), nil
	case []any:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendJSON(b, e); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	case map[string]any:
		b = append(b, '{')
		first := true
		for k, e := range x {
			if !first {
				b = append(b, ',')
			}
			first = false
			b = appendJSONString(b, k)
			b = append(b, ':')
			var err error
			if b, err = appendJSON(b, e); err != nil {
				return nil, err
			}
		}
		return append(b, '}'), nil
	case rawJSON:
		return append(b, x...), nil
	}
	return nil, fmt.Errorf("wamp: cannot encode %T", v)
}

// rawJSON is JSON text inserted as is by appendJSON (a worker's arguments
// array, already valid JSON, spliced into an EVENT or RESULT).
type rawJSON []byte

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string; invalid UTF-8 becomes
// U+FFFD, as encoding/json does.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20 || c == 0x7f:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b = append(b, "\ufffd"...)
		} else if r == '\u2028' || r == '\u2029' {
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		} else {
			b = append(b, s[i:i+n]...)
		}
		i += n
	}
	return append(b, '"')
}
