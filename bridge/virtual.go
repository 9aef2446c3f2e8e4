package bridge

import (
	"net"
	"net/http"

	"github.com/gorilla/websocket"
)

// HTTPHandler is implemented by protocols that serve the HTTP requests on
// their paths themselves: Engine.IO's long-polling transport, whose
// sessions live across many plain HTTP requests, and the upgrade of such a
// session to a WebSocket. The bridge hands them every request on one of
// the protocol's paths that offers no WebSocket subprotocol, with an
// Opener for the bridge's own ways to start a session.
type HTTPHandler interface {
	ServeHTTP(w http.ResponseWriter, r *http.Request, o *Opener)
}

// Opener starts sessions for an HTTPHandler, with the checks of every
// WebSocket upgrade.
type Opener struct {
	g  *Gateway
	p  Protocol
	st *stage // the request's stage, nil without one
}

// Upgrade serves r as the bridge serves any WebSocket upgrade, or refuses
// it as any other plain request on the path.
func (o *Opener) Upgrade(w http.ResponseWriter, r *http.Request) { o.g.serveUpgrade(w, r, o.st) }

// Virtual starts a session of the protocol over conn, a connection that
// carries the WebSocket frames of the RFC 6455 wire (the client's masked)
// but is no socket of the server: one end of a net.Pipe whose other end a
// long-polling transport pumps. The request is checked as an upgrade is
// (origin, credentials, connection limits, Admitter) and the session is
// the same as any other: the same outbound queue, its byte limit and the
// slow-consumer policy, the same reader, permissions and lifecycle. The
// socket-level optimisations (the poller, inline writes) do not apply. On
// a refusal Virtual has answered w with the HTTP error and returns nil; on
// success nothing is written to w. When it returns, NATS holds the
// session's control subscription, so the id may be handed to a client
// whose next request reaches another gateway and is relayed here (Relay).
func (o *Opener) Virtual(w http.ResponseWriter, r *http.Request, conn net.Conn) *Session {
	s := o.g.serveSession(w, r, o.p, "", o.st, nil, func(s *Session) (net.Conn, bool) {
		s.virtual = true
		return conn, true
	})
	if s != nil {
		if err := s.flushControl(r.Context()); err != nil {
			s.Logger().Debug("virtual session not yet reachable through NATS", "err", err)
		}
	}
	return s
}

// Accept does the WebSocket handshake of r, after the origin check, and
// returns the raw connection, which the caller owns: the transport to
// which a Virtual session moves (Engine.IO's upgrade from polling). On a
// refusal it has answered w and returns nil.
func (o *Opener) Accept(w http.ResponseWriter, r *http.Request) net.Conn {
	if !websocket.IsWebSocketUpgrade(r) {
		http.Error(w, "a WebSocket upgrade is expected", http.StatusBadRequest)
		return nil
	}
	if !o.g.originAllowed(r) {
		o.g.metrics.connects.WithLabelValues(o.p.Name(), "forbidden_origin").Inc()
		http.Error(w, "origin not allowed", http.StatusForbidden)
		return nil
	}
	conn, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return nil // gorilla has answered the client with an HTTP error
	}
	return conn.NetConn()
}

// Virtual reports whether the session runs over a virtual connection
// (Opener.Virtual) rather than a WebSocket of its own.
func (s *Session) Virtual() bool { return s.virtual }

// httpHandler is the HTTPHandler of the protocol of r's path, if it has
// one and r offers no subprotocol (which picks a protocol by its token).
func (g *Gateway) httpHandler(r *http.Request) (HTTPHandler, Protocol) {
	p := g.byPath[r.URL.Path]
	h, ok := p.(HTTPHandler)
	if !ok || len(websocket.Subprotocols(r)) > 0 {
		return nil, nil
	}
	return h, p
}

// Metrics lets the HTTPHandler count what it refuses.
func (o *Opener) Metrics() Metrics { return Metrics{o.g.metrics} }
