package bridge

import (
	"context"
	"net/http"
)

// Protocol is one client wire protocol. cmd registers the protocols a
// gateway speaks; the bridge picks one per connection from the subprotocol
// the client offers, or from the request path.
type Protocol interface {
	// Name is a short lower-case name ("json", "mqtt"), used in metrics,
	// logs and the Wsgate-Protocol header.
	Name() string
	// Subprotocols are the Sec-WebSocket-Protocol tokens this protocol
	// answers to, most preferred first.
	Subprotocols() []string
	// Paths are request paths that select this protocol when the client
	// offers no subprotocol of ours ("/mqtt").
	Paths() []string
	// Open makes the handler of one new connection. It must not block.
	Open(s *Session) Handler
}

// Handler runs one connection of a protocol.
type Handler interface {
	// HandleMessage handles one client message, text or binary. data is
	// valid only during the call. Calls for one connection never overlap.
	// A returned error closes the connection: a *CloseError with its code
	// and reason, anything else with 1011. Handlers reading a stream (MQTT,
	// STOMP) keep what is incomplete themselves. Everything written goes
	// through the Session.
	HandleMessage(text bool, data []byte) error
	// Push delivers a worker's message (wsgate.conn.<id>.send or POST
	// /@connections/<id>) in the protocol's own form. It runs on a
	// dispatcher goroutine: it must not block.
	Push(m *Message)
}

// Admitter is implemented by protocols that decide during the HTTP upgrade
// whether a connection is admitted (the JSON protocol's $connect route).
type Admitter interface {
	// Admit runs before the upgrade. A nil error admits the connection; an
	// *AdmitError refuses it with its HTTP status. The returned context is
	// attached to the session.
	Admit(ctx context.Context, c *ConnectRequest) (map[string]string, error)
}

// Closer is implemented by handlers that act when their connection has
// closed (the JSON protocol's $disconnect route). OnClose runs once, after
// the session is unsubscribed from everything.
type Closer interface {
	OnClose(c CloseInfo)
}

// InBandAuthenticator is implemented by protocols whose clients present
// credentials inside the protocol (MQTT and STOMP CONNECT, WAMP HELLO). A
// connection of theirs that brings no credentials to the upgrade is admitted
// with no permissions at all, and the handler calls Session.Authenticate
// with what its CONNECT carries before anything else.
type InBandAuthenticator interface {
	AuthenticatesInBand() bool
}

// Goodbyer is implemented by handlers that tell their client why the server
// closes the connection in their protocol's own words (an MQTT 5 DISCONNECT
// with a reason code, a STOMP ERROR, a WAMP GOODBYE): the frame Goodbye
// returns, if any, is sent just before the WebSocket close frame. It may be
// called from any goroutine, at most once.
type Goodbyer interface {
	Goodbye(c CloseInfo) *Frame
}

// Controller is implemented by handlers that answer connection API verbs
// of their own on <prefix>.conn.<id>.<verb> besides send, close and info
// (Socket.IO's join, leave and emit). Control runs on the control
// dispatcher goroutine, only once the connection is live: it must not
// block. It answers a request itself (Session.Respond to m.Reply), now or
// later, and reports whether it knows the verb; an unknown verb is
// answered with an error.
type Controller interface {
	Control(verb string, m *Message) bool
}

// ConnectRequest is what an Admitter sees of a connection being upgraded.
type ConnectRequest struct {
	ConnID   string
	Protocol string
	Request  *http.Request
	Session  *Session // not yet serving; use it for identity and headers
}

// AdmitError refuses an upgrade with an HTTP status.
type AdmitError struct {
	Status int
	Body   string
}

func (e *AdmitError) Error() string {
	return "bridge: connection refused: " + http.StatusText(e.Status) + ": " + e.Body
}

// CloseInfo says how a connection ended.
type CloseInfo struct {
	Code   int    // WebSocket close code
	Reason string // close reason
	// By is who ended it: "client", "server", "worker", "error".
	By string
}
