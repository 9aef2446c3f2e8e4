package wire

import (
	"encoding/binary"
	"strings"
	"sync/atomic"
	"unicode/utf8"
)

// WebSocket opcodes (RFC 6455 section 5.2).
const (
	OpText   = 0x1
	OpBinary = 0x2
	OpClose  = 0x8
	OpPing   = 0x9
	OpPong   = 0xA
)

// Close codes (RFC 6455 section 7.4.1) the gateway sends or checks.
const (
	CloseNormal         = 1000
	CloseGoingAway      = 1001
	CloseProtocolError  = 1002
	CloseUnsupported    = 1003
	CloseAbnormal       = 1006 // never on the wire: the connection just ended
	CloseInvalidUTF8    = 1007
	ClosePolicy         = 1008
	CloseTooBig         = 1009
	CloseInternal       = 1011
	CloseServiceRestart = 1012
	CloseTryLater       = 1013
)

// Frame is one complete, unmasked server-to-client WebSocket frame, header
// and payload, ready for the wire. A Frame is immutable once built, so one
// Frame can be queued to any number of connections: a message fanned out to
// a thousand clients is encoded once.
//
// We build frames ourselves rather than through gorilla's writer so that the
// connection writer can hand several queued frames to one writev call;
// server frames are never masked (RFC 6455 section 5.1), which makes the
// encoding a few lines.
type Frame struct {
	b []byte
	z atomic.Pointer[Frame] // the permessage-deflate twin, once made (Deflated)
}

// TextFrame builds a text frame holding payload. The payload must be valid
// UTF-8 (RFC 6455 section 5.6); protocols that cannot promise it use
// BinaryFrame or DataFrame.
func TextFrame(payload []byte) *Frame { return newFrame(OpText, payload) }

// BinaryFrame builds a binary frame holding payload.
func BinaryFrame(payload []byte) *Frame { return newFrame(OpBinary, payload) }

// DataFrame builds a text frame when payload is valid UTF-8 and a binary
// frame otherwise.
func DataFrame(payload []byte) *Frame {
	if utf8.Valid(payload) {
		return newFrame(OpText, payload)
	}
	return newFrame(OpBinary, payload)
}

// Len is the frame's size on the wire.
func (f *Frame) Len() int { return len(f.b) }

// Payload returns the frame's payload (for tests and logs).
func (f *Frame) Payload() []byte {
	return f.b[headerLen(f.b):]
}

// IsText reports whether the frame is a text frame.
func (f *Frame) IsText() bool { return f.b[0]&0x0f == OpText }

// Op is the frame's opcode.
func (f *Frame) Op() byte { return f.b[0] & 0x0f }

// Bytes is the whole frame as it goes on the wire; it must not be changed.
func (f *Frame) Bytes() []byte { return f.b }

func headerLen(b []byte) int {
	switch b[1] & 0x7f {
	case 126:
		return 4
	case 127:
		return 10
	}
	return 2
}

func newFrame(op byte, payload []byte) *Frame {
	f, p := NewFrame(op == OpText, len(payload))
	f.b[0] = 0x80 | op
	copy(p, payload)
	return f
}

// CloseFrame builds a close frame with a status code and a reason, cut to
// fit the 125-byte control frame limit (RFC 6455 section 5.5) on a rune
// boundary.
func CloseFrame(code int, reason string) *Frame {
	switch code {
	case 0, 1005, 1006, 1015: // never sent on the wire (RFC 6455 section 7.4.1)
		return newFrame(OpClose, nil)
	}
	const max = 125 - 2
	reason = strings.ToValidUTF8(reason, "?")
	if len(reason) > max {
		reason = reason[:max]
		for len(reason) > 0 && !utf8.ValidString(reason) {
			reason = reason[:len(reason)-1]
		}
	}
	p := make([]byte, 2+len(reason))
	binary.BigEndian.PutUint16(p, uint16(code))
	copy(p[2:], reason)
	return newFrame(OpClose, p)
}

// PingFrame is a ping with no application data, shared by every connection.
var PingFrame = newFrame(OpPing, nil)

// PongFrame answers a ping with its application data (RFC 6455 section
// 5.5.3).
func PongFrame(appData string) *Frame {
	if len(appData) > 125 {
		appData = appData[:125]
	}
	return newFrame(OpPong, []byte(appData))
}

// NewFrame makes a frame with room for an n-byte payload and returns the
// payload slice for the caller to fill before the frame is sent, so an
// encoder writes a message straight into its frame. text selects a text
// frame; its payload must then be valid UTF-8.
func NewFrame(text bool, n int) (*Frame, []byte) {
	op := byte(OpBinary)
	if text {
		op = OpText
	}
	var hdr [10]byte
	hdr[0] = 0x80 | op
	h := 2
	switch {
	case n < 126:
		hdr[1] = byte(n)
	case n <= 0xffff:
		hdr[1] = 126
		binary.BigEndian.PutUint16(hdr[2:], uint16(n))
		h = 4
	default:
		hdr[1] = 127
		binary.BigEndian.PutUint64(hdr[2:], uint64(n))
		h = 10
	}
	b := make([]byte, h+n)
	copy(b, hdr[:h])
	return &Frame{b: b}, b[h:]
}
