package socketio

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
)

// The few WebSocket frames [RFC 6455 section 5.2] the polling transport
// handles itself: it pumps a virtual connection whose other end is the
// bridge, which speaks the WebSocket wire, and it answers the probe of an
// upgrade before the WebSocket joins the session.
const (
	opText   = 0x1
	opBinary = 0x2
	opClose  = 0x8
	opPing   = 0x9
	opPong   = 0xA
)

// readFrame reads one unfragmented frame, unmasking a masked one, of at
// most max payload bytes (checked before allocating).
func readFrame(br *bufio.Reader, max int) (op byte, payload []byte, err error) {
	var h [2]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		return 0, nil, err
	}
	if h[0]&0x80 == 0 || h[0]&0x70 != 0 {
		return 0, nil, fmt.Errorf("%w: fragmented or extended WebSocket frame", ErrMalformed)
	}
	op = h[0] & 0x0F
	n := uint64(h[1] & 0x7F)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(br, b[:]); err != nil {
			return 0, nil, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(br, b[:]); err != nil {
			return 0, nil, err
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	if n > uint64(max) {
		return 0, nil, fmt.Errorf("%w: WebSocket frame of %d bytes", ErrTooLarge, n)
	}
	var key [4]byte
	masked := h[1]&0x80 != 0
	if masked {
		if _, err := io.ReadFull(br, key[:]); err != nil {
			return 0, nil, err
		}
	}
	payload = make([]byte, n)
	if _, err := io.ReadFull(br, payload); err != nil {
		return 0, nil, err
	}
	if masked {
		for i := range payload {
			payload[i] ^= key[i&3]
		}
	}
	return op, payload, nil
}

// appendFrame appends one unfragmented frame. A masked frame (a client's)
// has the all-zero key: it travels over a pipe inside the process, where
// masking protects nothing, and its payload is written as it is.
func appendFrame(dst []byte, op byte, payload []byte, masked bool) []byte {
	dst = append(dst, 0x80|op)
	var m byte
	if masked {
		m = 0x80
	}
	switch n := len(payload); {
	case n < 126:
		dst = append(dst, m|byte(n))
	case n <= 0xFFFF:
		dst = append(dst, m|126)
		dst = binary.BigEndian.AppendUint16(dst, uint16(n))
	default:
		dst = append(dst, m|127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	if masked {
		dst = append(dst, 0, 0, 0, 0)
	}
	return append(dst, payload...)
}
