package socketio

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
)

// Engine.IO v4 packet types: the first character of a text packet
// [Engine.IO v4 "Protocol", "Packet types"].
const (
	eioOpen    = '0'
	eioClose   = '1'
	eioPing    = '2'
	eioPong    = '3'
	eioMessage = '4'
	eioUpgrade = '5'
	eioNoop    = '6'
)

// PacketType is a Socket.IO v5 packet type [Socket.IO v5 "Packet types"].
type PacketType byte

// The packet types.
const (
	Connect      PacketType = 0
	Disconnect   PacketType = 1
	Event        PacketType = 2
	Ack          PacketType = 3
	ConnectError PacketType = 4
	BinaryEvent  PacketType = 5
	BinaryAck    PacketType = 6
)

var typeNames = [...]string{"CONNECT", "DISCONNECT", "EVENT", "ACK", "CONNECT_ERROR", "BINARY_EVENT", "BINARY_ACK"}

// String is the type's name in the specification ("BINARY_EVENT").
func (t PacketType) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return "UNKNOWN(" + strconv.Itoa(int(t)) + ")"
}

// Errors of the decoder. Every error it returns wraps ErrMalformed or
// ErrTooLarge.
var (
	ErrMalformed = errors.New("socketio: malformed packet")
	ErrTooLarge  = errors.New("socketio: packet too large")
)

// Decoder limits.
const (
	// maxNamespaceLen bounds a namespace name, its '/' included: its
	// subject token must fit subjects.MaxTokenLen.
	maxNamespaceLen = 200
	// maxAckIDDigits bounds an acknowledgement id: up to 2^53, as the
	// JavaScript client counts.
	maxAckIDDigits = 16
	// maxAttachmentsDigits bounds the attachment count's digits; the
	// count itself is checked against the configured limit.
	maxAttachmentsDigits = 4
)

// Packet is one decoded Socket.IO packet. Data is the JSON payload as it
// came, not decoded (nil when absent); it aliases the decoded input.
//
// Wire format: <type>[<attachments>-][<namespace>,][<ack id>][<JSON data>],
// for example 2/shop,12["order.create",{"sku":"A1"}] [Socket.IO v5
// "Packet encoding"].
type Packet struct {
	Type        PacketType
	Attachments int
	Namespace   string // "/" when absent
	ID          uint64 // acknowledgement id; valid when HasID
	HasID       bool
	Data        []byte
}

// DecodePacket decodes the text of a Socket.IO packet (the Engine.IO
// message packet without its leading '4'). It checks the framing and the
// payload's JSON syntax and shape for the type [socket.io-parser
// isPayloadValid]; it allocates only the namespace name.
func DecodePacket(b []byte, maxAttachments int) (*Packet, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: empty", ErrMalformed)
	}
	if b[0] < '0' || b[0] > '6' {
		return nil, fmt.Errorf("%w: unknown packet type %q", ErrMalformed, b[0])
	}
	p := &Packet{Type: PacketType(b[0] - '0'), Namespace: "/"}
	i := 1
	if p.Type == BinaryEvent || p.Type == BinaryAck {
		j := bytes.IndexByte(b[i:], '-')
		if j < 1 || j > maxAttachmentsDigits || !digits(b[i:i+j]) {
			return nil, fmt.Errorf("%w: %s needs an attachment count and '-'", ErrMalformed, p.Type)
		}
		n, _ := strconv.Atoi(string(b[i : i+j]))
		if n > maxAttachments {
			return nil, fmt.Errorf("%w: %d attachments, at most %d", ErrTooLarge, n, maxAttachments)
		}
		p.Attachments = n
		i += j + 1
	}
	if i < len(b) && b[i] == '/' {
		j := bytes.IndexByte(b[i:], ',')
		end := i + j
		if j < 0 {
			end = len(b)
		}
		if end-i > maxNamespaceLen {
			return nil, fmt.Errorf("%w: namespace longer than %d bytes", ErrTooLarge, maxNamespaceLen)
		}
		p.Namespace = string(b[i:end])
		i = end
		if j >= 0 {
			i++
		}
	}
	j := i
	for j < len(b) && b[j] >= '0' && b[j] <= '9' {
		j++
	}
	if j > i {
		if j-i > maxAckIDDigits {
			return nil, fmt.Errorf("%w: acknowledgement id longer than %d digits", ErrMalformed, maxAckIDDigits)
		}
		id, err := strconv.ParseUint(string(b[i:j]), 10, 64)
		if err != nil || id > 1<<53 {
			return nil, fmt.Errorf("%w: acknowledgement id out of range", ErrMalformed)
		}
		p.ID, p.HasID = id, true
		i = j
	}
	if i < len(b) {
		p.Data = b[i:]
	}
	if err := p.check(); err != nil {
		return nil, err
	}
	return p, nil
}

// check validates the payload for the packet type.
func (p *Packet) check() error {
	d := p.Data
	if d != nil && !validJSON(d) {
		return fmt.Errorf("%w: %s payload is not JSON", ErrMalformed, p.Type)
	}
	first := firstByte(d)
	switch p.Type {
	case Connect:
		if d != nil && first != '{' {
			return fmt.Errorf("%w: CONNECT payload must be an object", ErrMalformed)
		}
	case Disconnect:
		if d != nil {
			return fmt.Errorf("%w: DISCONNECT has no payload", ErrMalformed)
		}
	case ConnectError:
		return fmt.Errorf("%w: CONNECT_ERROR is the server's", ErrMalformed)
	case Event, BinaryEvent:
		if first != '[' {
			return fmt.Errorf("%w: %s payload must be an array", ErrMalformed, p.Type)
		}
		name, _, err := splitEvent(d)
		if err != nil {
			return err
		}
		if reservedEvent(name) {
			return fmt.Errorf("%w: %q is a reserved event name", ErrMalformed, name)
		}
	case Ack, BinaryAck:
		if first != '[' {
			return fmt.Errorf("%w: %s payload must be an array", ErrMalformed, p.Type)
		}
		if !p.HasID {
			return fmt.Errorf("%w: %s without an id", ErrMalformed, p.Type)
		}
	}
	return nil
}

// reservedEvent reports an event name Socket.IO keeps for itself, which
// no EVENT may carry [socket.io-parser RESERVED_EVENTS]: a client's
// decoder refuses an EVENT named so, and closes its connection.
func reservedEvent(name string) bool {
	switch name {
	case "connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener":
		return true
	}
	return false
}

func digits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(b) > 0
}

// firstByte is the first non-space byte of d, or 0.
func firstByte(d []byte) byte {
	for _, c := range d {
		if !isSpace(c) {
			return c
		}
	}
	return 0
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// AppendPacket appends the text of a Socket.IO packet with the given JSON
// data (which may be nil) to dst, with the Engine.IO message type first.
func AppendPacket(dst []byte, t PacketType, attachments int, nsp string, id uint64, hasID bool, data []byte) []byte {
	dst = append(dst, eioMessage, byte('0'+t))
	if t == BinaryEvent || t == BinaryAck {
		dst = strconv.AppendInt(dst, int64(attachments), 10)
		dst = append(dst, '-')
	}
	if nsp != "/" && nsp != "" {
		dst = append(dst, nsp...)
		dst = append(dst, ',')
	}
	if hasID {
		dst = strconv.AppendUint(dst, id, 10)
	}
	return append(dst, data...)
}
