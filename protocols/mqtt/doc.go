// Package mqtt is wsgate's MQTT 3.1, 3.1.1 and 5.0 protocol over WebSocket
// (subprotocols "mqtt" and "mqttv3.1", path /mqtt), mapped onto NATS the
// way nats-server maps it: topics become subjects by
// subjects.MQTTTopicToSubject, filters become patterns by
// subjects.MQTTFilterToPatterns.
//
// packet.go and properties.go are the codec, with no I/O and no dependency
// on the bridge; conn.go is the per-connection state machine; publish.go
// (in) and deliver.go with outbound.go (out, QoS 1/2 window), alias.go
// (out, topic aliases) and msgexpiry.go (Message Expiry Interval) move
// messages; sweep.go enforces keep-alive for every connection from one
// goroutine; retain.go (retained messages), session.go and expiry.go
// (persistent sessions and their end), will.go (delayed wills) and
// takeover.go (client id takeover across gateways) keep their state in
// JetStream through the bridge's facade. README.md is the user's guide.
//
// Specifications:
//   - MQTT 3.1.1: https://docs.oasis-open.org/mqtt/mqtt/v3.1.1/os/mqtt-v3.1.1-os.html
//   - MQTT 5.0:   https://docs.oasis-open.org/mqtt/mqtt/v5.0/os/mqtt-v5.0-os.html
//
// Clauses are cited inline as [MQTT-x.y.z-n].
package mqtt
