package socketio

import (
	"context"
	"fmt"
	"net/http"

	"github.com/wsgate/wsgate/bridge"
)

// Name is the protocol's name in metrics, logs and Wsgate-Protocol.
const Name = "socketio"

// Protocol is the Socket.IO protocol adapter.
type Protocol struct {
	cfg    Config
	routes map[string]*route
	hb     heartbeats
	polls  pollTable
	rec    recovery
}

var (
	_ bridge.Protocol            = (*Protocol)(nil)
	_ bridge.InBandAuthenticator = (*Protocol)(nil)
	_ bridge.Admitter            = (*Protocol)(nil)
)

// New validates cfg and returns the protocol.
func New(cfg Config) (*Protocol, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	p := &Protocol{cfg: cfg, routes: map[string]*route{}}
	for k, rc := range cfg.Routes {
		r, err := compileRoute(k, rc)
		if err != nil {
			return nil, fmt.Errorf("routes.%s: %w", k, err)
		}
		p.routes[k] = r
	}
	p.hb.init(cfg)
	return p, nil
}

// Name implements bridge.Protocol.
func (p *Protocol) Name() string { return Name }

// Subprotocols implements bridge.Protocol: Engine.IO offers none.
func (p *Protocol) Subprotocols() []string { return nil }

// Paths implements bridge.Protocol: the configured path, /socket.io/ by
// default.
func (p *Protocol) Paths() []string { return []string{p.cfg.Path} }

// AuthenticatesInBand implements bridge.InBandAuthenticator: CONNECT's
// auth object carries credentials.
func (p *Protocol) AuthenticatesInBand() bool { return true }

// Engine.IO error codes of a refused HTTP request [engine.io
// Server.errorMessages].
const (
	eioErrTransportUnknown = 0
	eioErrSessionUnknown   = 1
	eioErrBadHandshake     = 2
	eioErrBadRequest       = 3
	eioErrUnsupportedProto = 5
)

var eioErrMessages = map[int]string{
	eioErrTransportUnknown: "Transport unknown",
	eioErrSessionUnknown:   "Session ID unknown",
	eioErrBadHandshake:     "Bad handshake method",
	eioErrBadRequest:       "Bad request",
	eioErrUnsupportedProto: "Unsupported protocol version",
}

// eioError is the JSON body of a refused Engine.IO request.
func eioError(code int) string {
	return fmt.Sprintf(`{"code":%d,"message":%q}`, code, eioErrMessages[code])
}

// Admit implements bridge.Admitter: only Engine.IO v4 (EIO=4) is spoken,
// over the websocket or the polling transport (ServeHTTP sends the upgrade
// of a polling session elsewhere); an Engine.IO v3 client
// (socket.io-client 2.x) is refused with the code engine.io itself uses.
func (p *Protocol) Admit(_ context.Context, c *bridge.ConnectRequest) (map[string]string, error) {
	q := c.Request.URL.Query()
	refuse := func(code int) error {
		c.Session.Metrics().ProtocolError(Name, "handshake")
		return &bridge.AdmitError{Status: http.StatusBadRequest, Body: eioError(code)}
	}
	if q.Get("EIO") != "4" {
		return nil, refuse(eioErrUnsupportedProto)
	}
	if t := q.Get("transport"); t != "websocket" && t != "polling" {
		return nil, refuse(eioErrTransportUnknown)
	}
	if q.Get("sid") != "" {
		// A session's later requests never open another.
		return nil, refuse(eioErrSessionUnknown)
	}
	return nil, nil
}

// Open implements bridge.Protocol: the connection starts with the
// Engine.IO open packet.
func (p *Protocol) Open(s *bridge.Session) bridge.Handler {
	c := newConn(p, s)
	c.sendOpen()
	p.hb.Add(c)
	return c
}
