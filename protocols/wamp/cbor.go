package wamp

import (
	"fmt"
	"reflect"
	"sync"

	"github.com/fxamacker/cbor/v2"
)

// cborSerializer is wamp.2.cbor: a message is a CBOR array in a binary
// frame [WAMP "CBOR"].
//
// github.com/fxamacker/cbor/v2 is the CBOR library: maintained, fuzzed by
// its authors, pure Go, and its decoder takes the limits we need (nesting
// depth, array and map sizes, no tags, no duplicate keys) as options, so
// it refuses a hostile message before building it.
type cborSerializer struct{}

func (cborSerializer) Subprotocol() string { return SubprotocolCBOR }
func (cborSerializer) Text() bool          { return false }

var (
	cborEnc, _ = cbor.EncOptions{ShortestFloat: cbor.ShortestFloat16}.EncMode()
	mapType    = reflect.TypeOf(map[string]any(nil))
)

// cborDecModes caches a decoding mode per depth limit (the limit is part
// of the mode); every connection of a protocol shares one.
var cborDecModes sync.Map // max depth -> cbor.DecMode

func decModeFor(maxDepth int) (cbor.DecMode, error) {
	if dm, ok := cborDecModes.Load(maxDepth); ok {
		return dm.(cbor.DecMode), nil
	}
	dm, err := cbor.DecOptions{
		MaxNestedLevels:  max(maxDepth, 4),
		MaxArrayElements: 1 << 20,
		MaxMapPairs:      1 << 20,
		DupMapKey:        cbor.DupMapKeyEnforcedAPF,
		// Tags are decoded (cbor.Tag) and refused by cborValue, but for
		// tag 64, the uint8 typed array [RFC 8746] that JavaScript CBOR
		// encoders make of a Uint8Array: binary.
		TagsMd:         cbor.TagsAllowed,
		BigIntDec:      cbor.BigIntDecodePointer,
		DefaultMapType: mapType,
		IntDec:         cbor.IntDecConvertNone,
		UTF8:           cbor.UTF8RejectInvalid,
	}.DecMode()
	if err != nil {
		return nil, fmt.Errorf("wamp: cbor: %w", err)
	}
	cborDecModes.Store(maxDepth, dm)
	return dm, nil
}

func (cborSerializer) Decode(b []byte, l Limits) ([]any, error) {
	if len(b) > l.MaxBytes {
		return nil, fmt.Errorf("%w: %d bytes, max %d", ErrTooLarge, len(b), l.MaxBytes)
	}
	dm, err := decModeFor(l.MaxDepth)
	if err != nil {
		return nil, err
	}
	var v any
	if err := dm.Unmarshal(b, &v); err != nil {
		if _, ok := err.(*cbor.MaxNestedLevelError); ok {
			return nil, fmt.Errorf("%w: %v", ErrTooDeep, err)
		}
		return nil, fmt.Errorf("%w: cbor: %v", ErrMalformed, err)
	}
	// The decoder nests at most MaxNestedLevels (at least 4): check our
	// own limit when it is lower.
	v, err = cborValue(v)
	if err != nil {
		return nil, err
	}
	n, err := normalize(v, 1, l.MaxDepth)
	if err != nil {
		return nil, err
	}
	list, ok := n.([]any)
	if !ok {
		return nil, fmt.Errorf("%w: not a CBOR array", ErrMalformed)
	}
	return list, nil
}

func (cborSerializer) Append(b []byte, v []any) ([]byte, error) {
	p, err := cborEnc.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("wamp: cbor: %w", err)
	}
	return append(b, p...), nil
}

// cborValue replaces tag 64 holding a byte string by the bytes and refuses
// every other tag (dates, bignums, typed arrays of wider numbers: values
// the other serializers have no form for).
func cborValue(v any) (any, error) {
	switch x := v.(type) {
	case cbor.Tag:
		if b, ok := x.Content.([]byte); ok && x.Number == 64 {
			return b, nil
		}
		return nil, fmt.Errorf("%w: cbor tag %d is not supported", ErrMalformed, x.Number)
	case []any:
		for i, e := range x {
			n, err := cborValue(e)
			if err != nil {
				return nil, err
			}
			x[i] = n
		}
	case map[string]any:
		for k, e := range x {
			n, err := cborValue(e)
			if err != nil {
				return nil, err
			}
			x[k] = n
		}
	}
	return v, nil
}
