package jsonws

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"unicode/utf8"

	"github.com/wsgate/wsgate/bridge"
)

// What the gateway sends to a JSON client, unless a route is raw:
//
//	{"type":"message","subject":"chat.lobby","data":<payload>}
//	{"type":"reply","route":"getprofile","id":<id>,"data":<payload>}
//	{"type":"subscribed","route":"join","id":<id>,"subject":"chat.lobby"}
//	{"type":"unsubscribed","route":"leave","id":<id>,"subject":"chat.lobby"}
//	{"type":"published","route":"send","id":<id>,"subject":"chat.lobby"}
//	{"type":"error","route":"send","id":<id>,"error":"forbidden","message":"..."}
//	{"type":"error","route":"web","id":<id>,"error":"integration_failed","status":404,"message":"...","data":<body>}
//
// <payload> is the NATS message body itself when it is valid JSON, a JSON
// string when it is other UTF-8 text, and a base64 string with
// "encoding":"base64" beside it otherwise. "id" is echoed from the client's
// message when it has one, so a client can match replies to requests (which,
// as with any two-way route, may arrive out of order); "published" is sent
// only to a client that gave an id.

// Envelope is the shape of every gateway-to-client JSON frame.
type Envelope struct {
	Type     string          `json:"type"`
	Route    string          `json:"route,omitempty"`
	ID       json.RawMessage `json:"id,omitempty"`
	Subject  string          `json:"subject,omitempty"`
	Data     json.RawMessage `json:"data,omitempty"`
	Encoding string          `json:"encoding,omitempty"`
	Error    string          `json:"error,omitempty"`
	// Status is the HTTP status of an http integration's error answer.
	Status  int    `json:"status,omitempty"`
	Message string `json:"message,omitempty"`
}

// Error codes of error frames.
const (
	errBadJSON         = "bad_json"
	errNoRoute         = "no_route"
	errBadRequest      = "bad_request"
	errForbidden       = "forbidden"
	errTimeout         = "timeout"
	errNoResponders    = "no_responders"
	errIntegration     = "integration_failed"
	errNotSubbed       = "not_subscribed"
	errTooMany         = "too_many_requests"
	errRateLimited     = "rate_limited"
	errLimit           = "limit_exceeded"
	errTransformFailed = "transform_failed"
	errInternal        = "internal"
)

// dataField returns the JSON form of a payload for the data member and the
// encoding to name beside it ("" or "base64").
func dataField(p []byte) (json.RawMessage, string) {
	switch {
	case len(p) == 0:
		return json.RawMessage(`""`), ""
	case mayBeJSON(p) && utf8.Valid(p) && json.Valid(p):
		return p, ""
	case utf8.Valid(p):
		return quoteBytes(p), ""
	}
	b, _ := marshal(base64.StdEncoding.EncodeToString(p))
	return b, "base64"
}

// marshal is json.Marshal without HTML escaping: a frame is not HTML, and a
// subject such as "chat.>" must read "chat.>", not "chat.\u003e" (raw
// members such as data are passed through unescaped too).
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// quoteBytes is quote for text held in bytes, which must be valid UTF-8.
func quoteBytes(p []byte) []byte {
	if !safeASCII(p) {
		b, _ := marshal(string(p))
		return b
	}
	b := make([]byte, 0, len(p)+2)
	b = append(b, '"')
	b = append(b, p...)
	return append(b, '"')
}

// mayBeJSON is a quick necessary condition for json.Valid: the first and
// last bytes (white space aside) must be able to open and close one JSON
// value, and a number or literal must be only that. Text that fails it
// (most text) skips json.Valid, whose failure allocates an error.
func mayBeJSON(p []byte) bool {
	i, j := 0, len(p)
	for i < j && jsonSpace(p[i]) {
		i++
	}
	for j > i && jsonSpace(p[j-1]) {
		j--
	}
	if i == j {
		return false
	}
	v := p[i:j]
	switch c := v[0]; {
	case c == '{':
		return v[len(v)-1] == '}'
	case c == '[':
		return v[len(v)-1] == ']'
	case c == '"':
		return len(v) >= 2 && v[len(v)-1] == '"'
	case c == 't':
		return string(v) == "true"
	case c == 'f':
		return string(v) == "false"
	case c == 'n':
		return string(v) == "null"
	case c == '-' || c >= '0' && c <= '9':
		for _, c := range v {
			if !(c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E') {
				return false
			}
		}
		return true
	}
	return false
}

// jsonSpace reports whether c is JSON white space (RFC 8259).
func jsonSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// safeASCII reports whether s needs no escaping in a JSON string: printable
// ASCII without quotes or backslashes.
func safeASCII[T string | []byte](s T) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// frame encodes an envelope as a text frame.
func (e *Envelope) frame() *bridge.Frame {
	b, err := marshal(e)
	if err != nil {
		// Every field is a string or valid raw JSON; this cannot happen.
		b = []byte(`{"type":"error","error":"internal","message":"encoding failed"}`)
	}
	return bridge.TextFrame(b)
}

// messageFrame is the envelope of a subscription delivery, written straight
// into its frame: it is built once per message and shared by every JSON
// subscriber.
func messageFrame(m *bridge.Message) (*bridge.Frame, error) {
	const (
		head = `{"type":"message","subject":`
		mid  = `,"data":`
		encF = `,"encoding":"base64"`
	)
	// Subjects and text payloads that need no escaping are quoted as they
	// are written into the frame: no copies of their own.
	var subj []byte // the subject's JSON, when it needs escaping
	n := len(head) + len(mid) + 1 + len(m.Subject) + 2
	if !safeASCII(m.Subject) {
		var err error
		if subj, err = marshal(m.Subject); err != nil {
			return nil, err
		}
		n += len(subj) - len(m.Subject) - 2
	}
	text := len(m.Data) > 0 && !mayBeJSON(m.Data) && safeASCII(m.Data)
	var data json.RawMessage
	var enc string
	if text {
		n += len(m.Data) + 2
	} else {
		data, enc = dataField(m.Data)
		n += len(data)
		if enc != "" {
			n += len(encF)
		}
	}
	f, p := bridge.NewFrame(true, n)
	p = append(p[:0], head...)
	if subj != nil {
		p = append(p, subj...)
	} else {
		p = append(append(append(p, '"'), m.Subject...), '"')
	}
	p = append(p, mid...)
	if text {
		p = append(append(append(p, '"'), m.Data...), '"')
	} else {
		p = append(p, data...)
	}
	if enc != "" {
		p = append(p, encF...)
	}
	_ = append(p, '}')
	return f, nil
}

// rawFrame is a delivery's bare payload: text when it is UTF-8.
func rawFrame(m *bridge.Message) (*bridge.Frame, error) {
	return bridge.DataFrame(m.Data), nil
}

// Frame cache keys: one encoding of a message per kind, whoever receives it.
var (
	keyEnvelope = new(int)
	keyRaw      = new(int)
)
