package wamp

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// msgpackSerializer is wamp.2.msgpack: a message is a MessagePack array in
// a binary frame [WAMP "MessagePack"].
//
// github.com/vmihailenco/msgpack/v5 is the MessagePack library: maintained,
// widely used, pure Go, and it exposes the low-level reads (PeekCode,
// DecodeArrayLen, ...) that let us walk a message ourselves. We do not let
// it decode into interface values: its generic decoding has no depth limit
// and would allocate a declared length before reading the elements. Our
// walker checks depth, refuses extension types and maps with non-string
// keys, and never reserves more elements than there are bytes left.
type msgpackSerializer struct{}

func (msgpackSerializer) Subprotocol() string { return SubprotocolMsgpack }
func (msgpackSerializer) Text() bool          { return false }

func (msgpackSerializer) Decode(b []byte, l Limits) ([]any, error) {
	if len(b) > l.MaxBytes {
		return nil, fmt.Errorf("%w: %d bytes, max %d", ErrTooLarge, len(b), l.MaxBytes)
	}
	r := bytes.NewReader(b)
	w := mpWalker{d: msgpack.NewDecoder(r), b: b, r: r, max: l.MaxDepth}
	v, err := w.value(1)
	if err != nil {
		return nil, err
	}
	if r.Len() != 0 {
		return nil, fmt.Errorf("%w: %d bytes after the message", ErrMalformed, r.Len())
	}
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("%w: not a MessagePack array", ErrMalformed)
	}
	return list, nil
}

func (msgpackSerializer) Append(b []byte, v []any) ([]byte, error) {
	buf := bytes.NewBuffer(b)
	enc := msgpack.NewEncoder(buf)
	enc.UseCompactInts(true)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("wamp: msgpack: %w", err)
	}
	return buf.Bytes(), nil
}

// mpWalker decodes one MessagePack value into the value model.
type mpWalker struct {
	d   *msgpack.Decoder
	b   []byte        // the whole message
	r   *bytes.Reader // what is left: every element takes at least a byte
	max int
}

func (w *mpWalker) fail(err error) error {
	return fmt.Errorf("%w: msgpack: %v", ErrMalformed, err)
}

func (w *mpWalker) value(depth int) (any, error) {
	c, err := w.d.PeekCode()
	if err != nil {
		return nil, w.fail(err)
	}
	switch {
	case c == msgpcode.Nil:
		return nil, w.d.DecodeNil()
	case c == msgpcode.False || c == msgpcode.True:
		v, err := w.d.DecodeBool()
		if err != nil {
			return nil, w.fail(err)
		}
		return v, nil
	case msgpcode.IsFixedNum(c) || c == msgpcode.Int8 || c == msgpcode.Int16 || c == msgpcode.Int32 || c == msgpcode.Int64 ||
		c == msgpcode.Uint8 || c == msgpcode.Uint16 || c == msgpcode.Uint32:
		v, err := w.d.DecodeInt64()
		if err != nil {
			return nil, w.fail(err)
		}
		return v, nil
	case c == msgpcode.Uint64:
		v, err := w.d.DecodeUint64()
		if err != nil {
			return nil, w.fail(err)
		}
		if v <= math.MaxInt64 {
			return int64(v), nil
		}
		return v, nil
	case c == msgpcode.Float || c == msgpcode.Double:
		v, err := w.d.DecodeFloat64()
		if err != nil {
			return nil, w.fail(err)
		}
		return v, nil
	case msgpcode.IsString(c):
		if err := w.fits(c); err != nil {
			return nil, err
		}
		v, err := w.d.DecodeString()
		if err != nil {
			return nil, w.fail(err)
		}
		return v, nil
	case msgpcode.IsBin(c):
		if err := w.fits(c); err != nil {
			return nil, err
		}
		v, err := w.d.DecodeBytes()
		if err != nil {
			return nil, w.fail(err)
		}
		if v == nil {
			v = []byte{}
		}
		return v, nil
	case msgpcode.IsFixedArray(c) || c == msgpcode.Array16 || c == msgpcode.Array32:
		if depth > w.max {
			return nil, fmt.Errorf("%w: more than %d levels", ErrTooDeep, w.max)
		}
		n, err := w.d.DecodeArrayLen()
		if err != nil {
			return nil, w.fail(err)
		}
		if n > w.r.Len() {
			return nil, fmt.Errorf("%w: msgpack array of %d elements in %d bytes", ErrMalformed, n, w.r.Len())
		}
		list := make([]any, n)
		for i := range list {
			if list[i], err = w.value(depth + 1); err != nil {
				return nil, err
			}
		}
		return list, nil
	case msgpcode.IsFixedMap(c) || c == msgpcode.Map16 || c == msgpcode.Map32:
		if depth > w.max {
			return nil, fmt.Errorf("%w: more than %d levels", ErrTooDeep, w.max)
		}
		n, err := w.d.DecodeMapLen()
		if err != nil {
			return nil, w.fail(err)
		}
		if 2*n > w.r.Len() {
			return nil, fmt.Errorf("%w: msgpack map of %d pairs in %d bytes", ErrMalformed, n, w.r.Len())
		}
		m := make(map[string]any, n)
		for range n {
			kc, err := w.d.PeekCode()
			if err != nil {
				return nil, w.fail(err)
			}
			if !msgpcode.IsString(kc) {
				return nil, fmt.Errorf("%w: msgpack map key is not a string", ErrMalformed)
			}
			if err := w.fits(kc); err != nil {
				return nil, err
			}
			k, err := w.d.DecodeString()
			if err != nil {
				return nil, w.fail(err)
			}
			if m[k], err = w.value(depth + 1); err != nil {
				return nil, err
			}
		}
		return m, nil
	}
	return nil, fmt.Errorf("%w: msgpack type 0x%02x not supported", ErrMalformed, c)
}

// fits checks that the string or binary whose code c is next declares no
// more bytes than the message has left, before the library allocates
// them.
func (w *mpWalker) fits(c byte) error {
	rest := w.b[len(w.b)-w.r.Len():] // the decoder reads straight from r
	var n, hdr int
	switch {
	case msgpcode.IsFixedString(c):
		n, hdr = int(c&msgpcode.FixedStrMask), 1
	case c == msgpcode.Str8 || c == msgpcode.Bin8:
		hdr = 2
	case c == msgpcode.Str16 || c == msgpcode.Bin16:
		hdr = 3
	case c == msgpcode.Str32 || c == msgpcode.Bin32:
		hdr = 5
	}
	if len(rest) < hdr {
		return fmt.Errorf("%w: msgpack: truncated length", ErrMalformed)
	}
	switch hdr {
	case 2:
		n = int(rest[1])
	case 3:
		n = int(binary.BigEndian.Uint16(rest[1:]))
	case 5:
		n = int(binary.BigEndian.Uint32(rest[1:]))
	}
	if n > len(rest)-hdr {
		return fmt.Errorf("%w: msgpack: %d bytes declared, %d left", ErrMalformed, n, len(rest)-hdr)
	}
	return nil
}
