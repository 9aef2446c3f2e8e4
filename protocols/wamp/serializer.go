package wamp

// Serializer encodes and decodes WAMP messages in one of the encodings a
// client negotiates through the WebSocket subprotocol [WAMP "WebSocket
// Transport"].
type Serializer interface {
	// Subprotocol is the Sec-WebSocket-Protocol token: wamp.2.json,
	// wamp.2.msgpack or wamp.2.cbor.
	Subprotocol() string
	// Text reports whether messages travel in text frames (JSON) or binary
	// frames (MessagePack, CBOR).
	Text() bool
	// Decode parses one message as a list of values (value.go), within
	// the limits.
	Decode(b []byte, l Limits) ([]any, error)
	// Append encodes a list of values after b.
	Append(b []byte, v []any) ([]byte, error)
}

// Subprotocol tokens.
const (
	SubprotocolJSON    = "wamp.2.json"
	SubprotocolMsgpack = "wamp.2.msgpack"
	SubprotocolCBOR    = "wamp.2.cbor"
)

// Serializers, in order of the gateway's preference.
var (
	JSON    Serializer = jsonSerializer{}
	Msgpack Serializer = msgpackSerializer{}
	CBOR    Serializer = cborSerializer{}
)

// serializerFor returns the serializer of a negotiated subprotocol; a
// client that offered none (the /wamp path) speaks JSON.
func serializerFor(subprotocol string) Serializer {
	switch subprotocol {
	case SubprotocolMsgpack:
		return Msgpack
	case SubprotocolCBOR:
		return CBOR
	}
	return JSON
}
