package wamp

import (
	"errors"
	"fmt"
	"math"
)

// Values. Every serializer decodes into the same small set of Go types, so
// the session never cares which one a client speaks:
//
//	nil, bool, int64, uint64 (only above math.MaxInt64), float64, string,
//	[]byte (binary), []any (a WAMP list), map[string]any (a WAMP dict)
//
// and encodes from them. Binary values are native in MessagePack (bin) and
// CBOR (byte strings); in JSON they are a string starting with a NUL
// character followed by the base64 of the bytes [WAMP "Binary Conversion of
// JSON Strings"].

// Errors of the codec. A decoding error wraps ErrMalformed, ErrTooLarge or
// ErrTooDeep.
var (
	ErrMalformed = errors.New("wamp: malformed message")
	ErrTooLarge  = errors.New("wamp: message too large")
	ErrTooDeep   = errors.New("wamp: message nested too deeply")
)

// Limits bound what a decoder accepts.
type Limits struct {
	// MaxBytes is the largest encoded message.
	MaxBytes int
	// MaxDepth is the deepest nesting of lists and dicts; the message
	// itself is level 1.
	MaxDepth int
}

// maxID is the largest WAMP id: "IDs [...] MUST be drawn [...] from
// [1, 2^53]" so that they survive a JavaScript number [WAMP "Identifiers"].
const maxID = 1 << 53

// asID reads an id: an integer in [1, 2^53].
func asID(v any) (uint64, bool) {
	switch x := v.(type) {
	case int64:
		if x >= 1 && x <= maxID {
			return uint64(x), true
		}
	case uint64:
		if x >= 1 && x <= maxID {
			return x, true
		}
	case float64:
		// JavaScript clients may send an integer-valued float in CBOR or
		// MessagePack.
		if x >= 1 && x <= maxID && x == math.Trunc(x) {
			return uint64(x), true
		}
	}
	return 0, false
}

// asInt reads a non-negative integer of any encoding.
func asInt(v any) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, x >= 0
	case uint64:
		return int64(min(x, math.MaxInt64)), true
	case float64:
		if x >= 0 && x == math.Trunc(x) && x < math.MaxInt64 {
			return int64(x), true
		}
	}
	return 0, false
}

// Dict is a WAMP dictionary.
type Dict = map[string]any

// List is a WAMP list.
type List = []any

// dictString returns the string under key, or "".
func dictString(d Dict, key string) string {
	s, _ := d[key].(string)
	return s
}

// dictBool reports whether key holds true.
func dictBool(d Dict, key string) bool {
	b, _ := d[key].(bool)
	return b
}

// dictDict returns the dict under key, or nil.
func dictDict(d Dict, key string) Dict {
	m, _ := d[key].(map[string]any)
	return m
}

// normalize converts a decoded value to the value model, or fails. It is
// used by decoders whose natural output differs (CBOR's integer types).
func normalize(v any, depth, max int) (any, error) {
	switch v.(type) {
	case []any, map[string]any:
		if depth > max {
			return nil, fmt.Errorf("%w: more than %d levels", ErrTooDeep, max)
		}
	}
	switch x := v.(type) {
	case nil, bool, int64, float64, string, []byte:
		return x, nil
	case uint64:
		if x <= math.MaxInt64 {
			return int64(x), nil
		}
		return x, nil
	case float32:
		return float64(x), nil
	case []any:
		for i, e := range x {
			n, err := normalize(e, depth+1, max)
			if err != nil {
				return nil, err
			}
			x[i] = n
		}
		return x, nil
	case map[string]any:
		for k, e := range x {
			n, err := normalize(e, depth+1, max)
			if err != nil {
				return nil, err
			}
			x[k] = n
		}
		return x, nil
	}
	return nil, fmt.Errorf("%w: unsupported value of type %T", ErrMalformed, v)
}
