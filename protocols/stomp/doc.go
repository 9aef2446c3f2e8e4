// Package stomp is wsgate's STOMP protocol: STOMP 1.0, 1.1 and 1.2 over
// WebSocket (subprotocols v10.stomp, v11.stomp, v12.stomp, or the path
// /stomp), mapped onto NATS subjects through the bridge Session API.
//
// The specification is at https://stomp.github.io/stomp-specification-1.2.html
// (1.1: https://stomp.github.io/stomp-specification-1.1.html, 1.0:
// https://stomp.github.io/stomp-specification-1.0.html). Clauses quoted
// inline in this package as "[STOMP-1.2 <section>]" are from the 1.2 text.
//
// The codec (frame.go, escape.go) knows nothing of sessions: it parses one
// frame at a time from a byte slice, within limits checked before anything
// is allocated, and encodes frames with the header escaping of a version.
// The connection (conn.go) is the state machine, one concern per file: the
// CONNECT handshake, version and heart-beat negotiation and in-band
// authentication (connect.go), destinations (destination.go), SEND and
// request-reply through /temp-queue (send.go), subscriptions, acks and the
// encode-once MESSAGE frames (subscribe.go, message.go), transactions
// (transaction.go), JetStream-backed durable queues (durable.go) and the
// one heart-beat walker per protocol (heartbeat.go).
//
// Destinations:
//
//	/topic/<subject>       publish-subscribe on <subject>; SUBSCRIBE may use * and >
//	/queue/<subject>       each message to one subscriber (a NATS queue group named <subject>)
//	/temp-queue/<name>     in a SEND's reply-to: the SEND becomes a NATS request and
//	                       its reply comes back as a MESSAGE on /temp-queue/<name>
//	/user/<name>           local to the connection: SUBSCRIBE to receive workers'
//	                       pushes (wsgate.conn.<id>.send) whose destination is it
//	<subject>              a bare subject, publish-subscribe
//
// A name that is not a valid subject is refused with an ERROR frame; it is
// never cleaned up into another subject.
package stomp
