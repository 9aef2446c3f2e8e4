// Package socketio is wsgate's Socket.IO protocol: the gateway is a
// Socket.IO v4 server (Socket.IO protocol v5 over Engine.IO v4) whose
// namespaces, events, rooms and acknowledgements are NATS subjects and
// requests. socket.io-client connects to the path /socket.io/
// (Config.Path) with its defaults: HTTP long-polling, then the upgrade to
// a WebSocket; or a WebSocket from the start (transports: ["websocket"]).
// An Engine.IO v3 client (socket.io-client 2.x) is refused.
//
// The specifications are at https://socket.io/docs/v4/engine-io-protocol/
// and https://socket.io/docs/v4/socket-io-protocol/; clauses quoted inline
// as "[Engine.IO v4 <section>]" and "[Socket.IO v5 <section>]" are from
// them, and "[socket.io-parser ...]" names the reference implementation
// where the specification is silent.
//
// The mapping onto NATS:
//
//	CONNECT /shop {token}      the connection authenticates (once); the socket
//	                           joins sio-room.shop, everyone in the namespace
//	emit("order.create", x)    NATS publish of x on sio.shop.order.create
//	emit(..., ack)             NATS request; the reply is the ACK
//	room r1 of /shop           subscription to sio-room.shop.r1
//	NATS message on a room     EVENT named by the Socketio-Event header
//	wsgate.conn.<id>.emit      EVENT to one connection; a request gets its ACK
//
// Namespace, event and room names become subject tokens through
// subjects.EscapeToken: a name never adds a token or a wildcard, and one
// that cannot be mapped is refused (the main namespace "/" is the token
// "_").
//
// The codec (packet.go, args.go, binary.go) knows nothing of connections;
// the connection (conn.go) is the state machine, one concern per file:
// CONNECT, authentication and the $connect route (connect.go, admit.go),
// emits and acknowledgements (emit.go), binary attachments (binary.go),
// deliveries and the connection API (deliver.go), rooms (rooms.go),
// routes (routes.go), Engine.IO heartbeats (heartbeat.go), the
// long-polling transport and the upgrade (polling.go, wsframe.go), and
// connection state recovery in JetStream (recovery.go).
package socketio
