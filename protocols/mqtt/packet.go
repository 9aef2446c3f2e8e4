package mqtt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"unicode/utf8"
)

// Packet types (MQTT 5.0 section 2.1.2; 3.1.1 section 2.2.1).
const (
	CONNECT     byte = 1
	CONNACK     byte = 2
	PUBLISH     byte = 3
	PUBACK      byte = 4
	PUBREC      byte = 5
	PUBREL      byte = 6
	PUBCOMP     byte = 7
	SUBSCRIBE   byte = 8
	SUBACK      byte = 9
	UNSUBSCRIBE byte = 10
	UNSUBACK    byte = 11
	PINGREQ     byte = 12
	PINGRESP    byte = 13
	DISCONNECT  byte = 14
	AUTH        byte = 15
)

// Protocol levels of CONNECT.
const (
	V31  byte = 3
	V311 byte = 4
	V5   byte = 5
)

// maxRemaining is the largest Remaining Length four bytes encode.
const maxRemaining = 268_435_455

// Codec errors. A malformed packet wraps ErrMalformed; the session answers
// it with reason code 0x81 (v5) or a close (3.1.1).
var (
	ErrMalformed = errors.New("mqtt: malformed packet")
	ErrTooLarge  = errors.New("mqtt: packet too large")
	ErrProtocol  = errors.New("mqtt: protocol error")
	// errIncomplete says the buffer holds only part of a packet.
	errIncomplete = errors.New("mqtt: incomplete packet")
)

// Packet is one MQTT control packet of any type; only the fields of its
// type are used. Strings and byte slices never alias the decoder's input.
type Packet struct {
	Type  byte
	Flags byte   // low nibble of the fixed header
	ID    uint16 // packet identifier (PUBLISH QoS>0, acks, SUBSCRIBE...)
	// Reason is a v5 reason code (acks, DISCONNECT, AUTH) or the CONNACK
	// return code.
	Reason byte
	Props  Properties

	Connect        *Connect // CONNECT
	SessionPresent bool     // CONNACK

	// PUBLISH
	Topic   string
	Payload []byte
	QoS     byte
	Retain  bool
	Dup     bool

	Filters []Filter // SUBSCRIBE, UNSUBSCRIBE (Filter only)
	Reasons []byte   // SUBACK, UNSUBACK (v5)
}

// Connect is the variable header and payload of CONNECT.
type Connect struct {
	ProtocolName string
	Level        byte // V31, V311 or V5
	CleanStart   bool
	KeepAlive    uint16 // seconds
	ClientID     string
	Will         *Will
	Username     string
	HasUsername  bool
	Password     []byte
	HasPassword  bool
}

// Will is the will message of CONNECT.
type Will struct {
	Topic   string
	Payload []byte
	QoS     byte
	Retain  bool
	Props   Properties
}

// Filter is one topic filter of SUBSCRIBE or UNSUBSCRIBE with its options.
type Filter struct {
	Filter            string
	QoS               byte
	NoLocal           bool
	RetainAsPublished bool
	RetainHandling    byte
}

// decoder reads the variable header and payload of one packet.
type decoder struct {
	b   []byte
	off int
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s at offset %d", ErrMalformed, what, d.off)
	}
}

func (d *decoder) left() int { return len(d.b) - d.off }

func (d *decoder) byte() byte {
	if d.err != nil || d.left() < 1 {
		d.fail("short byte")
		return 0
	}
	d.off++
	return d.b[d.off-1]
}

func (d *decoder) u16() uint16 {
	if d.err != nil || d.left() < 2 {
		d.fail("short two-byte integer")
		return 0
	}
	d.off += 2
	return binary.BigEndian.Uint16(d.b[d.off-2:])
}

func (d *decoder) u32() uint32 {
	if d.err != nil || d.left() < 4 {
		d.fail("short four-byte integer")
		return 0
	}
	d.off += 4
	return binary.BigEndian.Uint32(d.b[d.off-4:])
}

// varint reads a Variable Byte Integer (1.5.5): at most four bytes, minimal.
func (d *decoder) varint() uint32 {
	v, n, err := uvarint(d.b[d.off:])
	if d.err == nil && err != nil {
		d.fail("variable byte integer")
	}
	if d.err != nil {
		return 0
	}
	d.off += n
	return v
}

func (d *decoder) binary() []byte {
	n := int(d.u16())
	if d.err != nil || d.left() < n {
		d.fail("short binary data")
		return nil
	}
	d.off += n
	v := make([]byte, n)
	copy(v, d.b[d.off-n:])
	return v
}

// str reads a UTF-8 Encoded String: valid UTF-8 without NUL [MQTT-1.5.4-1/2].
func (d *decoder) str() string {
	n := int(d.u16())
	if d.err != nil || d.left() < n {
		d.fail("short string")
		return ""
	}
	b := d.b[d.off : d.off+n]
	if !utf8.Valid(b) {
		d.fail("string is not valid UTF-8")
		return ""
	}
	for _, c := range b {
		if c == 0 {
			d.fail("string holds NUL")
			return ""
		}
	}
	d.off += n
	return string(b)
}

// uvarint decodes a Variable Byte Integer from b. n is 0 with a nil error
// when b ends first.
func uvarint(b []byte) (v uint32, n int, err error) {
	var mul uint32 = 1
	for i := 0; i < 4; i++ {
		if i >= len(b) {
			return 0, 0, nil
		}
		c := b[i]
		v += uint32(c&0x7f) * mul
		if c&0x80 == 0 {
			if i > 0 && c == 0 {
				return 0, 0, fmt.Errorf("%w: non-minimal variable byte integer", ErrMalformed)
			}
			return v, i + 1, nil
		}
		mul *= 128
	}
	return 0, 0, fmt.Errorf("%w: variable byte integer longer than 4 bytes", ErrMalformed)
}

// appendVarint appends v as a Variable Byte Integer.
func appendVarint(b []byte, v uint32) []byte {
	for {
		c := byte(v % 128)
		v /= 128
		if v > 0 {
			c |= 0x80
		}
		b = append(b, c)
		if v == 0 {
			return b
		}
	}
}

// Decode reads one packet from the front of b. version is the connection's
// protocol level (0 before CONNECT: then only CONNECT is accepted). A packet
// larger than max bytes is refused from its fixed header, before anything is
// allocated. It returns the bytes used; with only part of a packet in b it
// returns errIncomplete.
func Decode(b []byte, version byte, max int) (*Packet, int, error) {
	return decodeInto(nil, b, version, max)
}

// decodeInto is Decode into into when it is not nil and the packet is one
// of reuse's types (the packets a connection gets for every message), else
// into a new Packet. into is overwritten whole.
func decodeInto(into *Packet, b []byte, version byte, max int) (*Packet, int, error) {
	if len(b) < 2 {
		return nil, 0, errIncomplete
	}
	rl, n, err := uvarint(b[1:])
	if err != nil {
		return nil, 0, err
	}
	if n == 0 {
		return nil, 0, errIncomplete
	}
	total := 1 + n + int(rl)
	if max > 0 && total > max {
		return nil, 0, fmt.Errorf("%w: %d bytes, max %d", ErrTooLarge, total, max)
	}
	if len(b) < total {
		return nil, 0, errIncomplete
	}
	var p *Packet
	if into != nil && reuse(b[0]>>4) {
		p = into
		*p = Packet{Type: b[0] >> 4, Flags: b[0] & 0x0f}
	} else {
		p = &Packet{Type: b[0] >> 4, Flags: b[0] & 0x0f}
	}
	d := &decoder{b: b[1+n : total]}
	if version == 0 && p.Type != CONNECT {
		return nil, total, fmt.Errorf("%w: first packet is type %d, not CONNECT", ErrProtocol, p.Type) // [MQTT-3.1.0-1]
	}
	if err := p.decode(d, version); err != nil {
		return nil, total, err
	}
	return p, total, nil
}

// reuse reports whether a packet of type t may be decoded into a
// connection's reused Packet: nothing keeps such a packet once handled.
func reuse(t byte) bool {
	switch t {
	case PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP, PINGREQ:
		return true
	}
	return false
}

// fixedFlags are the required fixed-header flags of each type (2.1.3);
// PUBLISH has none fixed.
var fixedFlags = [16]byte{PUBREL: 2, SUBSCRIBE: 2, UNSUBSCRIBE: 2}

func (p *Packet) decode(d *decoder, v byte) error {
	if p.Type != PUBLISH && p.Flags != fixedFlags[p.Type] {
		return fmt.Errorf("%w: flags 0x%x on packet type %d", ErrMalformed, p.Flags, p.Type)
	}
	switch p.Type {
	case CONNECT:
		p.decodeConnect(d)
	case PUBLISH:
		p.QoS = p.Flags >> 1 & 3
		p.Dup, p.Retain = p.Flags&8 != 0, p.Flags&1 != 0
		if p.QoS == 3 {
			return fmt.Errorf("%w: PUBLISH QoS 3", ErrMalformed) // [MQTT-3.3.1-4]
		}
		if p.QoS == 0 && p.Dup {
			return fmt.Errorf("%w: DUP on QoS 0", ErrMalformed) // [MQTT-3.3.1-2]
		}
		p.Topic = d.str()
		if p.QoS > 0 {
			if p.ID = d.u16(); p.ID == 0 && d.err == nil {
				return fmt.Errorf("%w: packet identifier 0", ErrMalformed)
			}
		}
		if v == V5 {
			p.Props.decode(d, PUBLISH)
		}
		if d.err == nil {
			p.Payload = make([]byte, d.left())
			copy(p.Payload, d.b[d.off:])
			d.off = len(d.b)
		}
	case PUBACK, PUBREC, PUBREL, PUBCOMP:
		p.ID = d.u16()
		if v == V5 && d.left() > 0 {
			p.Reason = d.byte()
			if d.left() > 0 {
				p.Props.decode(d, p.Type)
			}
		}
	case SUBSCRIBE, UNSUBSCRIBE:
		if p.ID = d.u16(); p.ID == 0 && d.err == nil {
			return fmt.Errorf("%w: packet identifier 0", ErrMalformed)
		}
		if v == V5 {
			p.Props.decode(d, p.Type)
		}
		for d.err == nil && d.left() > 0 {
			f := Filter{Filter: d.str()}
			if p.Type == SUBSCRIBE {
				o := d.byte()
				f.QoS, f.NoLocal, f.RetainAsPublished, f.RetainHandling = o&3, o&4 != 0, o&8 != 0, o>>4&3
				if f.QoS == 3 || f.RetainHandling == 3 || o&0xc0 != 0 || (v != V5 && o&0xfc != 0) {
					return fmt.Errorf("%w: subscription options 0x%02x", ErrMalformed, o) // [MQTT-3.8.3-5]
				}
			}
			p.Filters = append(p.Filters, f)
			if len(p.Filters) > maxFilters {
				return fmt.Errorf("%w: more than %d filters", ErrMalformed, maxFilters)
			}
		}
		if d.err == nil && len(p.Filters) == 0 {
			return fmt.Errorf("%w: no topic filter", ErrProtocol) // [MQTT-3.8.3-3]
		}
	case PINGREQ, PINGRESP:
	case DISCONNECT, AUTH:
		if v == V5 && d.left() > 0 {
			p.Reason = d.byte()
			if d.left() > 0 {
				p.Props.decode(d, p.Type)
			}
		}
	case CONNACK:
		p.SessionPresent = d.byte()&1 != 0
		p.Reason = d.byte()
		if v == V5 {
			p.Props.decode(d, CONNACK)
		}
	case SUBACK, UNSUBACK:
		p.ID = d.u16()
		if v == V5 {
			p.Props.decode(d, p.Type)
		}
		if d.err == nil && d.left() > 0 && (v == V5 || p.Type == SUBACK) {
			p.Reasons = make([]byte, d.left())
			copy(p.Reasons, d.b[d.off:])
			d.off = len(d.b)
		}
	default:
		return fmt.Errorf("%w: reserved packet type 0", ErrMalformed)
	}
	if d.err != nil {
		return d.err
	}
	if d.left() != 0 {
		return fmt.Errorf("%w: %d bytes after packet type %d", ErrMalformed, d.left(), p.Type)
	}
	return nil
}

// maxFilters bounds the filters of one SUBSCRIBE or UNSUBSCRIBE.
const maxFilters = 256

// Encode appends the packet, as protocol level v writes it, to b. The body
// is written after room for the longest fixed header, which then moves up
// against it: no buffer of its own.
func (p *Packet) Encode(b []byte, v byte) []byte {
	const room = 5 // the type byte and at most four of remaining length
	start := len(b)
	b = slices.Grow(b, room+16+len(p.Topic)+len(p.Payload))
	b = append(b, make([]byte, room)...)
	b, flags := p.appendBody(b, v)
	n := len(b) - start - room
	var h [room]byte
	hdr := appendVarint(append(h[:0], p.Type<<4|flags), uint32(n))
	gap := room - len(hdr)
	copy(b[start+gap:], hdr)
	copy(b[start:], b[start+gap:])
	return b[:len(b)-gap]
}

// appendBody appends the packet's variable header and payload, and returns
// the flags of its fixed header.
func (p *Packet) appendBody(body []byte, v byte) ([]byte, byte) {
	flags := fixedFlags[p.Type]
	switch p.Type {
	case CONNACK:
		sp := byte(0)
		if p.SessionPresent {
			sp = 1
		}
		body = append(body, sp, p.Reason)
		if v == V5 {
			body = p.Props.encode(body)
		}
	case PUBLISH:
		flags = p.QoS << 1
		if p.Dup {
			flags |= 8
		}
		if p.Retain {
			flags |= 1
		}
		body = appendString(body, p.Topic)
		if p.QoS > 0 {
			body = binary.BigEndian.AppendUint16(body, p.ID)
		}
		if v == V5 {
			body = p.Props.encode(body)
		}
		body = append(body, p.Payload...)
	case PUBACK, PUBREC, PUBREL, PUBCOMP:
		body = binary.BigEndian.AppendUint16(body, p.ID)
		if v == V5 {
			if p.Props.empty() {
				if p.Reason != 0 {
					body = append(body, p.Reason)
				}
			} else {
				body = p.Props.encode(append(body, p.Reason))
			}
		}
	case SUBACK, UNSUBACK:
		body = binary.BigEndian.AppendUint16(body, p.ID)
		if v == V5 {
			body = p.Props.encode(body)
		}
		if v == V5 || p.Type == SUBACK {
			body = append(body, p.Reasons...)
		}
	case SUBSCRIBE, UNSUBSCRIBE:
		body = binary.BigEndian.AppendUint16(body, p.ID)
		if v == V5 {
			body = p.Props.encode(body)
		}
		for _, f := range p.Filters {
			body = appendString(body, f.Filter)
			if p.Type == SUBSCRIBE {
				o := f.QoS | f.RetainHandling<<4
				if f.NoLocal {
					o |= 4
				}
				if f.RetainAsPublished {
					o |= 8
				}
				body = append(body, o)
			}
		}
	case DISCONNECT, AUTH:
		if v == V5 && !p.Props.empty() {
			body = p.Props.encode(append(body, p.Reason))
		} else if v == V5 && p.Reason != 0 {
			body = append(body, p.Reason)
		}
	case CONNECT:
		body = p.Connect.encode(body, &p.Props)
	}
	return body, flags
}

func appendString(b []byte, s string) []byte {
	return append(binary.BigEndian.AppendUint16(b, uint16(len(s))), s...)
}

func appendBinary(b, v []byte) []byte {
	return append(binary.BigEndian.AppendUint16(b, uint16(len(v))), v...)
}
