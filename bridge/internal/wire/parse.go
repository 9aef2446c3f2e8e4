package wire

import (
	"encoding/binary"
	"errors"
	"strconv"
	"unicode/utf8"
)

// Parser decodes client-to-server WebSocket frames (RFC 6455 section
// 5) from bytes as they arrive, whatever their split, and hands out whole
// messages. It exists, instead of gorilla's reader, so that a connection can
// be read without a goroutine blocked on it: the poller wakes a reader only
// when bytes arrive, the parser keeps what is incomplete, and an idle
// connection holds no buffer at all.
//
// Every violation is a *CloseError with the code the RFC names; a length is
// checked against the limit before anything is buffered for it.
type Parser struct {
	Max int64 // largest message payload; larger closes with 1009

	msg   []byte // fragments of the data message being reassembled
	msgOp byte   // its opcode; 0 when no message is in progress
	msgZ  bool   // it is compressed (RSV1 on its first frame)
	valid int    // bytes of a fragmented text message known to be whole UTF-8

	z *inflateState // permessage-deflate, when negotiated (SetDeflate)
}

// CloseError ends a connection with a WebSocket close code and reason.
// Protocol handlers return one to close with a code of their choosing.
type CloseError struct {
	Code   int
	Reason string
}

func (e *CloseError) Error() string {
	return "websocket close " + strconv.Itoa(e.Code) + ": " + e.Reason
}

// errNeedMore says the buffer holds no complete frame yet.
var errNeedMore = errors.New("bridge: need more bytes")

// parsedFrame is one decoded frame; payload aliases the parser's input.
type parsedFrame struct {
	fin        bool
	compressed bool // RSV1: a permessage-deflate message's first frame
	op         byte
	payload    []byte
}

func protoErr(reason string) error {
	return &CloseError{Code: CloseProtocolError, Reason: reason}
}

// parseFrame decodes the first frame of b, unmasking its payload in place.
// It returns the frame and the bytes it used, errNeedMore, or a *CloseError.
func (p *Parser) parseFrame(b []byte) (parsedFrame, int, error) {
	var f parsedFrame
	if len(b) < 2 {
		return f, 0, errNeedMore
	}
	b0, b1 := b[0], b[1]
	f.fin = b0&0x80 != 0
	f.op = b0 & 0x0f
	if b0&0x30 != 0 {
		return f, 0, protoErr("reserved bits RSV2/RSV3 set: no extension uses them")
	}
	if b0&rsv1 != 0 {
		// [RFC 7692 6.1] RSV1 marks a compressed message on its first
		// frame only; never on a continuation or a control frame.
		switch {
		case p.z == nil:
			return f, 0, protoErr("reserved bit RSV1 set: no extension was negotiated")
		case f.op != OpText && f.op != OpBinary:
			return f, 0, protoErr("RSV1 set on a continuation or control frame")
		}
		f.compressed = true
	}
	if b1&0x80 == 0 {
		// [RFC 6455 5.1] a server MUST close on an unmasked client frame.
		return f, 0, protoErr("client frame not masked")
	}
	switch f.op {
	case 0x0, OpText, OpBinary:
	case OpClose, OpPing, OpPong:
		if !f.fin {
			return f, 0, protoErr("fragmented control frame")
		}
	default:
		return f, 0, protoErr("unknown opcode " + strconv.Itoa(int(f.op)))
	}
	n := uint64(b1 & 0x7f)
	h := 2
	switch n {
	case 126:
		if len(b) < 4 {
			return f, 0, errNeedMore
		}
		n, h = uint64(binary.BigEndian.Uint16(b[2:])), 4
	case 127:
		if len(b) < 10 {
			return f, 0, errNeedMore
		}
		n, h = binary.BigEndian.Uint64(b[2:]), 10
		if n>>63 != 0 {
			return f, 0, protoErr("payload length has its top bit set")
		}
	}
	if f.op >= OpClose && n > 125 {
		return f, 0, protoErr("control frame longer than 125 bytes")
	}
	if f.op < OpClose {
		limit := uint64(p.Max)
		if f.compressed || f.op == 0 && p.msgZ {
			// The inflated size is checked as it inflates; this bounds
			// what is buffered before.
			limit = p.compressedMax()
		}
		if n+uint64(len(p.msg)) > limit {
			return f, 0, &CloseError{Code: CloseTooBig, Reason: "message larger than " + strconv.Itoa(int(p.Max)) + " bytes"}
		}
	}
	total := uint64(h) + 4 + n
	if uint64(len(b)) < total {
		return f, 0, errNeedMore
	}
	key := b[h : h+4]
	f.payload = b[h+4 : total]
	mask(f.payload, key)
	return f, int(total), nil
}

// feed decodes every complete frame at the start of b and calls on with each
// whole data message and each control frame (op, payload); fragments are
// kept until their message is whole. It returns how many bytes of b it used:
// the rest is an incomplete frame for the next call. data is valid only
// during on.
func (p *Parser) Feed(b []byte, on func(op byte, data []byte) error) (int, error) {
	used := 0
	for {
		f, n, err := p.parseFrame(b[used:])
		if err == errNeedMore {
			return used, nil
		}
		if err != nil {
			return used, err
		}
		used += n
		op, data, err := p.message(f)
		if err != nil {
			p.releaseInflated()
			return used, err
		}
		if op == 0 {
			continue
		}
		err = on(op, data)
		p.releaseInflated()
		if err != nil {
			return used, err
		}
	}
}

// mask XORs payload with the 4-byte masking key (RFC 6455 section 5.3).
func mask(payload, key []byte) {
	k := binary.LittleEndian.Uint32(key)
	k64 := uint64(k) | uint64(k)<<32
	i := 0
	for ; i+8 <= len(payload); i += 8 {
		v := binary.LittleEndian.Uint64(payload[i:])
		binary.LittleEndian.PutUint64(payload[i:], v^k64)
	}
	for ; i < len(payload); i++ {
		payload[i] ^= key[i&3]
	}
}

// message folds frames into messages: it returns a complete data message
// (op, payload), or op 0 when the frame was a fragment kept for later.
// Control frames come back as they are.
func (p *Parser) message(f parsedFrame) (byte, []byte, error) {
	switch {
	case f.op >= OpClose:
		return f.op, f.payload, nil
	case f.op == 0: // continuation
		if p.msgOp == 0 {
			return 0, nil, protoErr("continuation frame without a message")
		}
		p.msg = append(p.msg, f.payload...)
		if !p.msgZ {
			if err := p.checkFragment(f.fin); err != nil {
				return 0, nil, err
			}
		}
		if !f.fin {
			return 0, nil, nil
		}
		op, data, z := p.msgOp, p.msg, p.msgZ
		p.msgOp, p.msg, p.msgZ, p.valid = 0, nil, false, 0
		if z {
			return p.inflated(op, data)
		}
		return op, data, nil
	default: // text or binary
		if p.msgOp != 0 {
			return 0, nil, protoErr("new message before the last one's final fragment")
		}
		if !f.fin {
			p.msgOp, p.msgZ = f.op, f.compressed
			p.msg = append(make([]byte, 0, len(f.payload)*2), f.payload...)
			p.valid = 0
			if p.msgZ {
				return 0, nil, nil // its text is checked once inflated
			}
			return 0, nil, p.checkFragment(false)
		}
		if f.compressed {
			return p.inflated(f.op, f.payload)
		}
		return f.op, f.payload, p.checkText(f.op, f.payload)
	}
}

// inflated inflates a whole compressed message and checks its text.
func (p *Parser) inflated(op byte, data []byte) (byte, []byte, error) {
	out, err := p.inflate(data)
	if err != nil {
		return 0, nil, err
	}
	return op, out, p.checkText(op, out)
}

// checkText enforces [RFC 6455 8.1]: a text message must be UTF-8.
func (p *Parser) checkText(op byte, data []byte) error {
	if op == OpText && !utf8.Valid(data) {
		return &CloseError{Code: CloseInvalidUTF8, Reason: "text message is not valid UTF-8"}
	}
	return nil
}

// checkFragment validates the text of a fragmented message as it grows, so
// that invalid UTF-8 fails at the fragment that breaks it, not after the
// whole message has been buffered (Autobahn's strict behaviour, [RFC 6455
// 8.1]). A rune split across fragments is fine until the last one.
func (p *Parser) checkFragment(fin bool) error {
	if p.msgOp != OpText {
		return nil
	}
	n, ok := validUTF8Prefix(p.msg[p.valid:])
	p.valid += n
	if !ok || fin && p.valid != len(p.msg) {
		return &CloseError{Code: CloseInvalidUTF8, Reason: "text message is not valid UTF-8"}
	}
	return nil
}

// validUTF8Prefix returns the length of the longest prefix of b made of
// whole, valid UTF-8 sequences. ok is false when b holds an invalid
// sequence; a sequence that is merely cut short at the end of b is not one.
func validUTF8Prefix(b []byte) (n int, ok bool) {
	for n < len(b) {
		if b[n] < utf8.RuneSelf {
			n++
			continue
		}
		if !utf8.FullRune(b[n:]) {
			return n, true // cut short: the next fragment may complete it
		}
		r, size := utf8.DecodeRune(b[n:])
		if r == utf8.RuneError && size == 1 {
			return n, false
		}
		n += size
	}
	return n, true
}

// parseClose reads a close frame's code and reason (RFC 6455 section 5.5.1).
func ParseClose(payload []byte) (int, string, error) {
	switch {
	case len(payload) == 0:
		return 1005, "", nil // no status received
	case len(payload) == 1:
		return 0, "", protoErr("close frame with a 1-byte payload")
	}
	code := int(binary.BigEndian.Uint16(payload))
	reason := payload[2:]
	if !validReceivedCode(code) {
		return 0, "", protoErr("invalid close code " + strconv.Itoa(code))
	}
	if !utf8.Valid(reason) {
		return 0, "", &CloseError{Code: CloseInvalidUTF8, Reason: "close reason is not valid UTF-8"}
	}
	return code, string(reason), nil
}

// validReceivedCode: codes a peer may send (RFC 6455 section 7.4).
func validReceivedCode(c int) bool {
	switch {
	case c >= 1000 && c <= 1003, c >= 1007 && c <= 1014:
		return true
	case c >= 3000 && c <= 4999:
		return true
	}
	return false
}
