// Package wire is the WebSocket wire of the gateway (RFC 6455,
// https://www.rfc-editor.org/rfc/rfc6455): server frames built once and
// shared by every connection they go to (frame.go), an incremental parser
// of client frames that needs no goroutine blocked on a socket and fails
// every violation with the close code the RFC names (parse.go), and the
// epoll poller that wakes a connection only when its socket has bytes, so
// an idle connection owns no goroutine (poller_linux.go).
//
// permessage-deflate (RFC 7692, https://www.rfc-editor.org/rfc/rfc7692):
// negotiate.go answers the offers of an upgrade; deflate.go compresses a
// server frame once, without context takeover, so the compressed frame is
// shared like the plain one, and inflates client messages within the
// parser's message limit.
//
// It knows nothing of sessions, NATS or protocols: package bridge holds
// the connection state (reader and writer state machines, queues) and uses
// this package for the bytes.
package wire
