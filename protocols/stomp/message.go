package stomp

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/wsgate/wsgate/bridge"
)

// Custom headers cross between STOMP and NATS both ways, except STOMP's
// own headers, which mean something to the protocol, and the gateway's
// Wsgate-* headers, which a client may neither forge nor read. A body's
// content-type travels as the NATS header Content-Type.

// contentTypeNATS is the NATS header that holds a STOMP content-type.
const contentTypeNATS = "Content-Type"

// stompHeaders are the headers of the protocol itself.
var stompHeaders = map[string]bool{
	"destination": true, "content-length": true, "content-type": true,
	"receipt": true, "receipt-id": true, "transaction": true, "reply-to": true,
	"message-id": true, "subscription": true, "ack": true, "id": true,
	"message": true, "version": true, "heart-beat": true, "session": true,
	"server": true, "login": true, "passcode": true, "host": true,
	"accept-version": true,
}

// gatewayHeader reports whether name is one of the gateway's own headers.
func gatewayHeader(name string) bool {
	return len(name) >= 7 && strings.EqualFold(name[:7], "wsgate-")
}

// toNATS makes the NATS headers of a SEND frame. Names NATS cannot carry
// (a colon, white space or a control character) and values with a line
// break are left out.
func toNATS(f *Frame) bridge.Header {
	var h bridge.Header
	for _, hf := range f.Headers {
		if stompHeaders[strings.ToLower(hf.Name)] || gatewayHeader(hf.Name) ||
			!natsHeaderName(hf.Name) || strings.ContainsAny(hf.Value, "\r\n") {
			continue
		}
		if h == nil {
			h = bridge.Header{}
		}
		if _, seen := h[hf.Name]; seen {
			continue // only the first of repeated headers counts
		}
		h[hf.Name] = []string{hf.Value}
	}
	if ct, ok := f.Get("content-type"); ok && !strings.ContainsAny(ct, "\r\n") {
		if h == nil {
			h = bridge.Header{}
		}
		h[contentTypeNATS] = []string{ct}
	}
	return h
}

// natsHeaderName reports whether name can be a NATS header name.
func natsHeaderName(name string) bool {
	if name == "" || !utf8.ValidString(name) {
		return false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c <= ' ' || c == ':' || c == 0x7f {
			return false
		}
	}
	return true
}

// messageTail encodes everything of a MESSAGE frame after its subscription
// and destination lines: message-id, ack (1.2, when the subscription acks),
// custom headers, content-type, content-length, the blank line, the body
// and the NUL. id, if set, is the message-id and ack value; otherwise a new
// one is made.
func (p *Protocol) messageTail(m *bridge.Message, v Version, withAck bool, id string) []byte {
	if id == "" {
		id = p.newID()
	}
	esc := v >= V11
	b := make([]byte, 0, 96+len(m.Data))
	b = appendHeader(b, "message-id", id, v, esc)
	if withAck {
		b = appendHeader(b, "ack", id, v, esc)
	}
	for name, vals := range m.Header {
		if len(vals) == 0 || stompHeaders[strings.ToLower(name)] || gatewayHeader(name) ||
			strings.EqualFold(name, bridge.HeaderMsgID) { // a durable SEND's store id

			continue
		}
		for _, val := range vals {
			if headerSafe(name, val, v) {
				b = appendHeader(b, name, val, v, esc)
			}
		}
	}
	if ct := m.Header.Get(contentTypeNATS); ct != "" && headerSafe("content-type", ct, v) {
		b = appendHeader(b, "content-type", ct, v, esc)
	}
	b = appendHeader(b, "content-length", strconv.Itoa(len(m.Data)), v, esc)
	b = append(b, '\n')
	b = append(b, m.Data...)
	return append(b, 0)
}

// Push destination and subscription of a worker's message to a connection
// (wsgate.conn.<id>.send, POST /@connections/<id>).
const (
	pushDestination  = "/user/queue/push"
	pushSubscription = "push"
	// pushDestHeader is the NATS header a worker may set to choose the
	// MESSAGE's destination.
	pushDestHeader = "destination"
	maxEarlyPushes = 64
)

// Push implements bridge.Handler: a worker's message reaches the client as
// a MESSAGE. Its destination is the pushed message's destination NATS
// header if it has one, else /user/queue/push; its subscription is the id
// of the client's subscription to that destination if there is one (a
// client subscribes to /user/queue/push to receive pushes, which takes
// nothing on NATS), else "push". Pushes before CONNECTED wait for it.
func (c *conn) Push(m *bridge.Message) {
	c.mu.Lock()
	if !c.live {
		if len(c.early) < maxEarlyPushes {
			c.early = append(c.early, m)
		}
		c.mu.Unlock()
		return
	}
	dest := m.Header.Get(pushDestHeader)
	if dest == "" || !utf8.ValidString(dest) || strings.ContainsAny(dest, "\x00\r\n") {
		dest = pushDestination
	}
	subID := pushSubscription
	for id, sub := range c.subs {
		if sub.raw == dest {
			subID = id
			break
		}
	}
	c.mu.Unlock()
	v := c.ver()
	tail := bridge.DataFrame(c.p.messageTail(m, v, false, ""))
	_ = c.sendFrame(messageFrame(subID, dest, v, tail))
}

// goLive marks the connection CONNECTED and sends the pushes that waited.
func (c *conn) goLive() {
	c.mu.Lock()
	c.live = true
	early := c.early
	c.early = nil
	c.mu.Unlock()
	for _, m := range early {
		c.Push(m)
	}
}

// newID makes a message-id, unique in the gateway process.
func (p *Protocol) newID() string { return strconv.FormatUint(p.msgID.Add(1), 10) }
