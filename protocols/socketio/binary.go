package socketio

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"unicode/utf8"

	"github.com/wsgate/wsgate/bridge"
)

// Binary attachments [Socket.IO v5 "Packet encoding", binary packets]: a
// BINARY_EVENT or BINARY_ACK names its attachments with placeholders
// {"_placeholder":true,"num":<n>} and is followed by as many binary
// messages (WebSocket binary frames; "b" and base64 packets on polling).
//
// On NATS, an event or acknowledgement whose one argument is an attachment
// is that attachment's bytes, untouched, with Socketio-Binary: true; an
// attachment nested in JSON arguments becomes a base64 string there. The
// other way, a message that is not valid UTF-8, or has Socketio-Binary:
// true, reaches the client as one binary argument (an ArrayBuffer in a
// browser, a Buffer in Node).

// HeaderBinary "true" says the body is one binary argument.
const HeaderBinary = "Socketio-Binary"

// placeholderArg is the one argument of a binary packet the gateway sends.
var placeholderArg = []byte(`{"_placeholder":true,"num":0}`)

// pendingBinary is a binary packet waiting for its attachments.
type pendingBinary struct {
	pk    *Packet
	atts  [][]byte
	bytes int
}

// onAttachment takes one binary message of the pending packet, and
// handles the packet once it has all of them. A binary message nobody
// announced, or attachments over max_payload in all, end the connection.
func (c *conn) onAttachment(data []byte) error {
	pb := c.pending
	if pb == nil {
		return c.violation(fmt.Errorf("%w: binary message without a binary packet", ErrMalformed))
	}
	if pb.bytes += len(data); pb.bytes > c.p.cfg.MaxPayload {
		return c.violation(fmt.Errorf("%w: attachments over max_payload (%d bytes)", ErrTooLarge, c.p.cfg.MaxPayload))
	}
	pb.atts = append(pb.atts, bytes.Clone(data))
	if len(pb.atts) < pb.pk.Attachments {
		return nil
	}
	c.pending = nil
	return c.dispatch(pb.pk, pb.atts)
}

// placeholder reports the attachment number of a placeholder object.
func placeholder(raw []byte) (int, bool) {
	if firstByte(raw) != '{' {
		return 0, false
	}
	var p struct {
		P   bool `json:"_placeholder"`
		Num *int `json:"num"`
	}
	if json.Unmarshal(raw, &p) != nil || !p.P || p.Num == nil {
		return 0, false
	}
	return *p.Num, true
}

// attachArgs puts the attachments in the arguments rest (the raw elements
// after an event name, or of an ACK): one argument that is an attachment
// is the body itself (binary); placeholders nested elsewhere become base64
// strings. rest is returned with them filled in, for route templates.
func attachArgs(rest []byte, atts [][]byte) (body []byte, spread, binary bool, filled []byte, err error) {
	arr := append(append([]byte{'['}, rest...), ']')
	els := elements(arr, -1)
	if len(els) == 1 {
		if n, ok := placeholder(els[0]); ok {
			if n < 0 || n >= len(atts) {
				return nil, false, false, nil, fmt.Errorf("%w: placeholder %d of %d attachments", ErrMalformed, n, len(atts))
			}
			return atts[n], false, true, rest, nil
		}
	}
	dec := json.NewDecoder(bytes.NewReader(arr))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, false, false, nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	used := 0
	v, err = fill(v, atts, &used)
	if err != nil {
		return nil, false, false, nil, err
	}
	if used == 0 {
		return nil, false, false, nil, fmt.Errorf("%w: a binary packet without a placeholder", ErrMalformed)
	}
	out, err := json.Marshal(v)
	if err != nil {
		return nil, false, false, nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	filled = bytes.TrimSpace(out[1 : len(out)-1])
	body, spread = argsBody(filled)
	return body, spread, false, filled, nil
}

// fill replaces placeholders in v by the base64 of their attachments.
func fill(v any, atts [][]byte, used *int) (any, error) {
	switch x := v.(type) {
	case []any:
		for i := range x {
			var err error
			if x[i], err = fill(x[i], atts, used); err != nil {
				return nil, err
			}
		}
	case map[string]any:
		if p, ok := x["_placeholder"].(bool); ok && p {
			num, _ := x["num"].(json.Number)
			n, err := num.Int64()
			if err != nil || n < 0 || n >= int64(len(atts)) {
				return nil, fmt.Errorf("%w: placeholder %v of %d attachments", ErrMalformed, x["num"], len(atts))
			}
			*used++
			return base64.StdEncoding.EncodeToString(atts[n]), nil
		}
		for k := range x {
			var err error
			if x[k], err = fill(x[k], atts, used); err != nil {
				return nil, err
			}
		}
	}
	return v, nil
}

// isBinary reports whether a NATS message reaches clients as one binary
// argument.
func isBinary(m *bridge.Message) bool {
	return m.Header.Get(HeaderBinary) == "true" || !utf8.Valid(m.Data)
}

// binaryEventPacket is the BINARY_EVENT of a binary message: the event
// name and a placeholder, to be followed by the attachment.
func binaryEventPacket(ns string, m *bridge.Message, id uint64, hasID bool, offset string) []byte {
	name := m.Header.Get(HeaderEvent)
	if name == "" {
		name = defaultEvent
	}
	data := append(appendString([]byte{'['}, name), ',')
	data = append(data, placeholderArg...)
	if offset != "" {
		data = appendString(append(data, ','), offset)
	}
	data = append(data, ']')
	return AppendPacket(nil, BinaryEvent, 1, ns, id, hasID, data)
}

// sendEvent sends a message as an EVENT, or as a BINARY_EVENT and its
// attachment.
func (c *conn) sendEvent(ns string, m *bridge.Message, id uint64, hasID bool) {
	if isBinary(m) {
		c.sendPair(binaryEventPacket(ns, m, id, hasID, ""), m.Data)
		return
	}
	_ = c.send(eventPacket(ns, m, id, hasID, ""))
}

// sendReply acknowledges an emit with a worker's reply: an ACK, or a
// BINARY_ACK and its attachment.
func (c *conn) sendReply(ns string, id uint64, m *bridge.Message) {
	if m.Header.Get(HeaderError) == "" && isBinary(m) {
		data := append(append([]byte{'['}, placeholderArg...), ']')
		c.sendPair(AppendPacket(nil, BinaryAck, 1, ns, id, true, data), m.Data)
		return
	}
	c.sendAck(ns, id, replyArgs(m))
}
