package mqtt

import (
	"encoding/binary"
	"fmt"
)

// Property identifiers (MQTT 5.0 section 2.2.2.2).
const (
	propPayloadFormat     = 0x01
	propMessageExpiry     = 0x02
	propContentType       = 0x03
	propResponseTopic     = 0x08
	propCorrelationData   = 0x09
	propSubscriptionID    = 0x0B
	propSessionExpiry     = 0x11
	propAssignedClientID  = 0x12
	propServerKeepAlive   = 0x13
	propAuthMethod        = 0x15
	propAuthData          = 0x16
	propRequestProblem    = 0x17
	propWillDelay         = 0x18
	propRequestResponse   = 0x19
	propResponseInfo      = 0x1A
	propServerReference   = 0x1C
	propReasonString      = 0x1F
	propReceiveMaximum    = 0x21
	propTopicAliasMaximum = 0x22
	propTopicAlias        = 0x23
	propMaximumQoS        = 0x24
	propRetainAvailable   = 0x25
	propUser              = 0x26
	propMaximumPacketSize = 0x27
	propWildcardAvailable = 0x28
	propSubIDAvailable    = 0x29
	propSharedAvailable   = 0x2A
)

// UserProperty is one v5 User Property name-value pair.
type UserProperty struct{ Key, Value string }

// Properties are the v5 properties of a packet. A numeric property is
// present when its Has bit is set (see the has* constants).
type Properties struct {
	Has uint64 // presence bits of the numeric properties

	PayloadFormat     byte
	MessageExpiry     uint32
	ContentType       string
	ResponseTopic     string
	CorrelationData   []byte
	SubscriptionIDs   []uint32
	SessionExpiry     uint32
	AssignedClientID  string
	ServerKeepAlive   uint16
	AuthMethod        string
	AuthData          []byte
	RequestProblem    byte
	WillDelay         uint32
	RequestResponse   byte
	ResponseInfo      string
	ServerReference   string
	ReasonString      string
	ReceiveMaximum    uint16
	TopicAliasMaximum uint16
	TopicAlias        uint16
	MaximumQoS        byte
	RetainAvailable   byte
	User              []UserProperty
	MaximumPacketSize uint32
	WildcardAvailable byte
	SubIDAvailable    byte
	SharedAvailable   byte
}

// Presence bits of Properties.Has: 1 << property identifier.
const (
	HasPayloadFormat     = 1 << propPayloadFormat
	HasMessageExpiry     = 1 << propMessageExpiry
	HasSessionExpiry     = 1 << propSessionExpiry
	HasServerKeepAlive   = 1 << propServerKeepAlive
	HasRequestProblem    = 1 << propRequestProblem
	HasWillDelay         = 1 << propWillDelay
	HasRequestResponse   = 1 << propRequestResponse
	HasReceiveMaximum    = 1 << propReceiveMaximum
	HasTopicAliasMaximum = 1 << propTopicAliasMaximum
	HasTopicAlias        = 1 << propTopicAlias
	HasMaximumQoS        = 1 << propMaximumQoS
	HasRetainAvailable   = 1 << propRetainAvailable
	HasMaximumPacketSize = 1 << propMaximumPacketSize
	HasWildcardAvailable = 1 << propWildcardAvailable
	HasSubIDAvailable    = 1 << propSubIDAvailable
	HasSharedAvailable   = 1 << propSharedAvailable
)

// bit is the presence bit of a numeric property id.
func bit(id byte) uint64 { return 1 << (id & 63) }

func (p *Properties) empty() bool {
	return p.Has == 0 && p.ContentType == "" && p.ResponseTopic == "" && p.CorrelationData == nil &&
		len(p.SubscriptionIDs) == 0 && p.AssignedClientID == "" && p.AuthMethod == "" && p.AuthData == nil &&
		p.ResponseInfo == "" && p.ServerReference == "" && p.ReasonString == "" && len(p.User) == 0
}

// maxUserProperties bounds the user properties of one packet.
const maxUserProperties = 64

// decode reads a property length and the properties of a packet of type
// pt (0: will properties). A property not allowed in pt, or given twice
// where once is the rule, is malformed.
func (p *Properties) decode(d *decoder, pt byte) {
	n := int(d.varint())
	if d.err != nil {
		return
	}
	if d.left() < n {
		d.fail("short properties")
		return
	}
	end := d.off + n
	for d.err == nil && d.off < end {
		id := byte(d.varint())
		if d.err != nil {
			return
		}
		if !allowed(id, pt) {
			d.fail(fmt.Sprintf("property 0x%02x not allowed in packet type %d", id, pt))
			return
		}
		switch id {
		case propUser:
			if len(p.User) == maxUserProperties {
				d.fail("too many user properties")
				return
			}
			p.User = append(p.User, UserProperty{d.str(), d.str()})
			continue
		case propSubscriptionID:
			v := d.varint()
			if v == 0 && d.err == nil {
				d.fail("subscription identifier 0") // [MQTT-3.8.2.1.2]
			}
			if pt != PUBLISH && len(p.SubscriptionIDs) > 0 {
				d.fail("subscription identifier twice")
			}
			p.SubscriptionIDs = append(p.SubscriptionIDs, v)
			continue
		}
		if id <= 0x2A && bit(id)&p.Has != 0 || p.seen(id) {
			d.fail(fmt.Sprintf("property 0x%02x twice", id))
			return
		}
		switch id {
		case propPayloadFormat, propRequestProblem, propRequestResponse, propMaximumQoS,
			propRetainAvailable, propWildcardAvailable, propSubIDAvailable, propSharedAvailable:
			v := d.byte()
			if v > 1 {
				d.fail(fmt.Sprintf("property 0x%02x value %d", id, v))
			}
			p.setByte(id, v)
		case propMessageExpiry, propSessionExpiry, propWillDelay, propMaximumPacketSize:
			v := d.u32()
			if id == propMaximumPacketSize && v == 0 {
				d.fail("maximum packet size 0")
			}
			p.setU32(id, v)
		case propServerKeepAlive, propReceiveMaximum, propTopicAliasMaximum, propTopicAlias:
			v := d.u16()
			if id == propReceiveMaximum && v == 0 {
				d.fail("receive maximum 0")
			}
			p.setU16(id, v)
		case propContentType:
			p.ContentType = d.str()
		case propResponseTopic:
			p.ResponseTopic = d.str()
		case propCorrelationData:
			p.CorrelationData = d.binary()
		case propAssignedClientID:
			p.AssignedClientID = d.str()
		case propAuthMethod:
			p.AuthMethod = d.str()
		case propAuthData:
			p.AuthData = d.binary()
		case propResponseInfo:
			p.ResponseInfo = d.str()
		case propServerReference:
			p.ServerReference = d.str()
		case propReasonString:
			p.ReasonString = d.str()
		}
	}
	if d.err == nil && d.off != end {
		d.fail("property overruns its length")
	}
}

// seen reports whether a string or binary property id is already set.
func (p *Properties) seen(id byte) bool {
	switch id {
	case propContentType:
		return p.ContentType != ""
	case propResponseTopic:
		return p.ResponseTopic != ""
	case propCorrelationData:
		return p.CorrelationData != nil
	case propAuthMethod:
		return p.AuthMethod != ""
	case propAuthData:
		return p.AuthData != nil
	case propReasonString:
		return p.ReasonString != ""
	}
	return false
}

func (p *Properties) setByte(id, v byte) {
	p.Has |= bit(id)
	switch id {
	case propPayloadFormat:
		p.PayloadFormat = v
	case propRequestProblem:
		p.RequestProblem = v
	case propRequestResponse:
		p.RequestResponse = v
	case propMaximumQoS:
		p.MaximumQoS = v
	case propRetainAvailable:
		p.RetainAvailable = v
	case propWildcardAvailable:
		p.WildcardAvailable = v
	case propSubIDAvailable:
		p.SubIDAvailable = v
	case propSharedAvailable:
		p.SharedAvailable = v
	}
}

func (p *Properties) setU32(id byte, v uint32) {
	p.Has |= bit(id)
	switch id {
	case propMessageExpiry:
		p.MessageExpiry = v
	case propSessionExpiry:
		p.SessionExpiry = v
	case propWillDelay:
		p.WillDelay = v
	case propMaximumPacketSize:
		p.MaximumPacketSize = v
	}
}

func (p *Properties) setU16(id byte, v uint16) {
	p.Has |= bit(id)
	switch id {
	case propServerKeepAlive:
		p.ServerKeepAlive = v
	case propReceiveMaximum:
		p.ReceiveMaximum = v
	case propTopicAliasMaximum:
		p.TopicAliasMaximum = v
	case propTopicAlias:
		p.TopicAlias = v
	}
}

// allowed reports whether property id may appear in packet type pt (0 for
// will properties), after the table in MQTT 5.0 section 2.2.2.2.
func allowed(id, pt byte) bool {
	switch id {
	case propPayloadFormat, propMessageExpiry, propContentType, propResponseTopic, propCorrelationData:
		return pt == PUBLISH || pt == 0
	case propWillDelay:
		return pt == 0
	case propSubscriptionID:
		return pt == PUBLISH || pt == SUBSCRIBE
	case propTopicAlias:
		return pt == PUBLISH
	case propSessionExpiry:
		return pt == CONNECT || pt == CONNACK || pt == DISCONNECT
	case propAuthMethod, propAuthData:
		return pt == CONNECT || pt == CONNACK || pt == AUTH
	case propRequestProblem, propRequestResponse:
		return pt == CONNECT
	case propReceiveMaximum, propTopicAliasMaximum, propMaximumPacketSize:
		return pt == CONNECT || pt == CONNACK
	case propAssignedClientID, propServerKeepAlive, propResponseInfo, propMaximumQoS, propRetainAvailable,
		propWildcardAvailable, propSubIDAvailable, propSharedAvailable:
		return pt == CONNACK
	case propServerReference:
		return pt == CONNACK || pt == DISCONNECT
	case propReasonString:
		return pt != CONNECT && pt != PUBLISH && pt != SUBSCRIBE && pt != UNSUBSCRIBE && pt != 0
	case propUser:
		return true
	}
	return false
}

// encode appends the property length and the properties.
func (p *Properties) encode(b []byte) []byte {
	var body []byte
	byteProp := func(id, v byte) {
		if p.Has&bit(id) != 0 {
			body = append(body, id, v)
		}
	}
	u16 := func(id byte, v uint16) {
		if p.Has&bit(id) != 0 {
			body = binary.BigEndian.AppendUint16(append(body, id), v)
		}
	}
	u32 := func(id byte, v uint32) {
		if p.Has&bit(id) != 0 {
			body = binary.BigEndian.AppendUint32(append(body, id), v)
		}
	}
	str := func(id byte, v string) {
		if v != "" {
			body = appendString(append(body, id), v)
		}
	}
	bin := func(id byte, v []byte) {
		if v != nil {
			body = appendBinary(append(body, id), v)
		}
	}
	byteProp(propPayloadFormat, p.PayloadFormat)
	u32(propMessageExpiry, p.MessageExpiry)
	str(propContentType, p.ContentType)
	str(propResponseTopic, p.ResponseTopic)
	bin(propCorrelationData, p.CorrelationData)
	for _, id := range p.SubscriptionIDs {
		body = appendVarint(append(body, propSubscriptionID), id)
	}
	u32(propSessionExpiry, p.SessionExpiry)
	str(propAssignedClientID, p.AssignedClientID)
	u16(propServerKeepAlive, p.ServerKeepAlive)
	str(propAuthMethod, p.AuthMethod)
	bin(propAuthData, p.AuthData)
	byteProp(propRequestProblem, p.RequestProblem)
	u32(propWillDelay, p.WillDelay)
	byteProp(propRequestResponse, p.RequestResponse)
	str(propResponseInfo, p.ResponseInfo)
	str(propServerReference, p.ServerReference)
	str(propReasonString, p.ReasonString)
	u16(propReceiveMaximum, p.ReceiveMaximum)
	u16(propTopicAliasMaximum, p.TopicAliasMaximum)
	u16(propTopicAlias, p.TopicAlias)
	byteProp(propMaximumQoS, p.MaximumQoS)
	byteProp(propRetainAvailable, p.RetainAvailable)
	for _, u := range p.User {
		body = appendString(appendString(append(body, propUser), u.Key), u.Value)
	}
	u32(propMaximumPacketSize, p.MaximumPacketSize)
	byteProp(propWildcardAvailable, p.WildcardAvailable)
	byteProp(propSubIDAvailable, p.SubIDAvailable)
	byteProp(propSharedAvailable, p.SharedAvailable)
	return append(appendVarint(b, uint32(len(body))), body...)
}
