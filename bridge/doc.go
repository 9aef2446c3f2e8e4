// Package bridge holds WebSocket connections and joins them to NATS.
//
// It owns the HTTP server and the WebSocket upgrade (RFC 6455), protocol
// dispatch by Sec-WebSocket-Protocol and path, the Session every protocol
// adapter talks to, the fan-out hub (one NATS subscription per distinct
// subject per process, shared by every local session that wants it), the
// reserved control subjects (wsgate.conn.<id>.send|close|info), lifecycle
// events, the @connections HTTP API, health endpoints, Prometheus metrics,
// the admin console (console.go: an embedded page and its JSON endpoints)
// and the embedded nats-server.
//
// bridge never parses a client protocol frame: protocol packages do, and
// talk to a Session. Names come from package subjects, identities from
// package auth.
//
// The WebSocket bytes — frames built once and shared, the incremental
// parser of client frames, the epoll poller — are package
// bridge/internal/wire; the connection state around them (the reader and
// writer state machines in read.go and writer.go, the queue, the session)
// is here. Frames to clients are encoded once and written by one writer
// per connection, several queued frames per system call (per TLS write,
// writetls.go). TLS connections accepted through TLSListener are read
// through the poller too (tlspoll.go).
package bridge
