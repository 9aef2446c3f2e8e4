package main

import (
	"fmt"
	"log/slog"
	"math"
	"strings"
)

// headerRoom is what the NATS headers of a client's message may take
// beyond the client's own bytes: Wsgate-Connection-Id, -Protocol, -Event,
// -Route, the principal and the authorizer's context. NATS counts them in
// its max_payload.
const headerRoom = 64 << 10

// maxClientMessage is the largest client limit NATS can carry: its
// max_payload is a 32-bit number.
const maxClientMessage = math.MaxInt32 - headerRoom

// The protocols' defaults of their size limits (stomp.Config and
// mqtt.Config document them).
const (
	stompDefaultFrame  = 1 << 20
	mqttDefaultPacket  = 1 << 20
	wampDefaultMessage = 1 << 20
	sioDefaultPayload  = 1000000
	natsDefaultPayload = 1 << 20 // nats-server's max_payload
)

// clientLimit is a key that bounds the size of a client's message, and so
// of what the gateway publishes for it.
type clientLimit struct {
	key   string
	bytes int64       // in effect: the configured value or the default
	isSet bool        // the config sets it
	set   func(int64) // changes it
}

// clientLimits are the keys bounding a client message, defaults applied.
// A message may span WebSocket messages (MQTT, STOMP), so each counts.
func (c *config) clientLimits() []clientLimit {
	l := func(key string, v, def int64, set func(int64)) clientLimit {
		if v == 0 {
			return clientLimit{key, def, false, set}
		}
		return clientLimit{key, v, true, set}
	}
	return []clientLimit{
		l("gateway.max_message_bytes", c.Gateway.MaxMessageBytes, c.Gateway.WithDefaults().MaxMessageBytes,
			func(n int64) { c.Gateway.MaxMessageBytes = n }),
		l("stomp.max_frame_bytes", int64(c.STOMP.MaxFrameBytes), stompDefaultFrame,
			func(n int64) { c.STOMP.MaxFrameBytes = int(n) }),
		l("mqtt.max_packet_size", int64(c.MQTT.MaxPacketSize), mqttDefaultPacket,
			func(n int64) { c.MQTT.MaxPacketSize = int(n) }),
		l("wamp.max_message_bytes", int64(c.WAMP.MaxMessageBytes), wampDefaultMessage,
			func(n int64) { c.WAMP.MaxMessageBytes = int(n) }),
		l("socketio.max_payload", int64(c.SocketIO.MaxPayload), sioDefaultPayload,
			func(n int64) { c.SocketIO.MaxPayload = int(n) }),
	}
}

// embeddedPayload is the max_payload of the embedded server: the largest
// client message plus header room, and never below nats-server's default,
// which bounds what workers send to clients too.
func (c *config) embeddedPayload() int32 {
	need := int64(natsDefaultPayload)
	for _, l := range c.clientLimits() {
		need = max(need, min(l.bytes, maxClientMessage)+headerRoom)
	}
	return int32(need)
}

// fitPayload makes sure that a client message at every limit, with its
// headers, fits in maxPayload, the largest message NATS accepts (an
// external server's max_payload). A limit the config leaves at its
// default is lowered to fit, with a warning; one the config sets is never
// changed: if it does not fit, the gateway refuses to start.
func fitPayload(c *config, maxPayload int64, log *slog.Logger) error {
	const minFit = 1 << 10 // below this, lowering would leave nothing usable
	fit := maxPayload - headerRoom
	var tooBig []string
	var need int64
	var lowered []any
	for _, l := range c.clientLimits() {
		switch {
		case l.bytes <= fit:
		case l.isSet || fit < minFit:
			tooBig = append(tooBig, fmt.Sprintf("%s (%d)", l.key, l.bytes))
			need = max(need, l.bytes+headerRoom)
		default:
			l.set(fit)
			lowered = append(lowered, l.key, fit)
		}
	}
	if len(tooBig) > 0 {
		keys := strings.Join(tooBig, ", ")
		fix := fmt.Sprintf("raise max_payload on the NATS servers to at least %d", need)
		if fit >= minFit {
			fix += fmt.Sprintf(", or set %s to at most %d", keys, fit)
		}
		return fmt.Errorf("NATS max_payload is %d bytes, too small for a client message at %s with %d bytes of header room: %s",
			maxPayload, keys, headerRoom, fix)
	}
	if len(lowered) > 0 {
		log.Warn("client message limits lowered to fit NATS max_payload (set them, or raise max_payload)",
			append([]any{"max_payload", maxPayload, "header_room", headerRoom}, lowered...)...)
	}
	return nil
}
