// Package wamp is wsgate's WAMP protocol: the gateway is a WAMP v2 router
// (Basic Profile plus the Advanced Profile features WELCOME announces)
// whose broker and dealer are NATS. A client offers the subprotocol
// wamp.2.json (text frames), wamp.2.msgpack or wamp.2.cbor (binary frames),
// or connects to the path /wamp.
//
// The specification is at https://wamp-proto.org/spec.html (the IETF draft
// "The Web Application Messaging Protocol"). Clauses quoted inline in this
// package as "[WAMP <section>]" are from it.
//
// The mapping onto NATS:
//
//	URI com.app.topic          subject com.app.topic (a realm may add a subject prefix)
//	SUBSCRIBE exact            subscription to the subject
//	SUBSCRIBE match=prefix     a.b: subscriptions to a.b and a.b.>
//	SUBSCRIBE match=wildcard   a..c: subscription to a.*.c
//	PUBLISH                    NATS publish; a NATS message on a subscribed subject is an EVENT
//	CALL                       NATS request on the procedure's subject; the reply is the RESULT
//	REGISTER                   subscription to the procedure's subject in the queue group "wamp";
//	                           a NATS request there is an INVOCATION, the YIELD its reply
//
// Payloads on NATS are JSON (body.go): the arguments alone as a JSON array
// when there are no keyword arguments, else {"args":[...],"kwargs":{...}};
// binary values use the WAMP JSON serializer's own convention, a string
// holding a NUL character followed by the base64 of the bytes. WAMP
// details that matter to a worker travel as NATS headers (Wamp-Procedure,
// Wamp-Topic, Wamp-Caller, Wamp-Error, Wamp-Progress, ...).
//
// The codec (message.go, value.go, json.go, msgpack.go, cbor.go, uri.go)
// knows nothing of sessions: it decodes one WebSocket message into one WAMP
// message within limits checked before anything is allocated, and encodes
// messages. The connection (conn.go) is the state machine, one concern per
// file: the HELLO handshake and authentication (hello.go), the broker
// (broker.go), the dealer's caller side (call.go, its calls beside the
// reader through bridge.Session.Beside) and callee side (callee.go,
// registry.go, cancel.go), the session meta API (meta.go).
package wamp
