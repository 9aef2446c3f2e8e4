// Package asyncapi describes a configured gateway as an AsyncAPI 3.0.0
// document (https://www.asyncapi.com/docs/reference/specification/v3.0.0),
// for `wsgate asyncapi` and GET /asyncapi.json.
//
// The document is written from a client's point of view: a send operation
// is a message the client sends, a receive operation one it gets. It has
// one server per WebSocket endpoint (the JSON, STOMP, MQTT, WAMP and
// Socket.IO paths, with the subprotocol tokens that select each), one
// channel per JSON route (its address the route's NATS subject, with a
// parameter per template variable), a send operation per route (with a
// reply for the frames the gateway answers with), a receive operation per
// subscribe route, the route's schema: as the payload of its message, and
// the security schemes the auth config accepts.
//
// The package is pure: Build takes a description (Input) and returns the
// document; it reads no file and opens no connection.
package asyncapi
