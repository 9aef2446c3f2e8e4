package mqtt

import (
	"encoding/binary"
	"fmt"
)

// CONNECT's variable header and payload (MQTT 5.0 section 3.1; 3.1.1
// section 3.1), apart because they are the longest.

func (p *Packet) decodeConnect(d *decoder) {
	c := &Connect{ProtocolName: d.str(), Level: d.byte()}
	p.Connect = c
	if d.err != nil {
		return
	}
	switch {
	case c.ProtocolName == "MQTT" && (c.Level == V311 || c.Level == V5):
	case c.ProtocolName == "MQIsdp" && c.Level == V31:
	default:
		// The session answers with CONNACK 0x01 / 0x84 [MQTT-3.1.2-2].
		d.err = &UnsupportedVersionError{Name: c.ProtocolName, Level: c.Level}
		return
	}
	flags := d.byte()
	if flags&1 != 0 {
		d.fail("reserved connect flag") // [MQTT-3.1.2-3]
		return
	}
	c.CleanStart = flags&2 != 0
	c.KeepAlive = d.u16()
	if c.Level == V5 {
		p.Props.decode(d, CONNECT)
	}
	c.ClientID = d.str()
	if flags&4 != 0 {
		w := &Will{QoS: flags >> 3 & 3, Retain: flags&0x20 != 0}
		if w.QoS == 3 {
			d.fail("will QoS 3") // [MQTT-3.1.2-14]
		}
		if c.Level == V5 {
			w.Props.decode(d, 0)
		}
		w.Topic = d.str()
		w.Payload = d.binary()
		c.Will = w
	} else if flags&0x38 != 0 {
		d.fail("will flags without will") // [MQTT-3.1.2-11/13/15]
	}
	if flags&0x80 != 0 {
		c.Username, c.HasUsername = d.str(), true
	}
	if flags&0x40 != 0 {
		if c.Level != V5 && !c.HasUsername {
			d.fail("password without user name") // [MQTT-3.1.2-22]
		}
		c.Password, c.HasPassword = d.binary(), true
	}
}

// UnsupportedVersionError is a CONNECT whose protocol name or level the
// gateway does not speak.
type UnsupportedVersionError struct {
	Name  string
	Level byte
}

func (e *UnsupportedVersionError) Error() string {
	return fmt.Sprintf("mqtt: unsupported protocol %q level %d", e.Name, e.Level)
}

func (c *Connect) encode(b []byte, props *Properties) []byte {
	name := "MQTT"
	if c.Level == V31 {
		name = "MQIsdp"
	}
	b = append(appendString(b, name), c.Level)
	var flags byte
	if c.CleanStart {
		flags |= 2
	}
	if w := c.Will; w != nil {
		flags |= 4 | w.QoS<<3
		if w.Retain {
			flags |= 0x20
		}
	}
	if c.HasPassword {
		flags |= 0x40
	}
	if c.HasUsername {
		flags |= 0x80
	}
	b = binary.BigEndian.AppendUint16(append(b, flags), c.KeepAlive)
	if c.Level == V5 {
		b = props.encode(b)
	}
	b = appendString(b, c.ClientID)
	if w := c.Will; w != nil {
		if c.Level == V5 {
			b = w.Props.encode(b)
		}
		b = appendBinary(appendString(b, w.Topic), w.Payload)
	}
	if c.HasUsername {
		b = appendString(b, c.Username)
	}
	if c.HasPassword {
		b = appendBinary(b, c.Password)
	}
	return b
}
