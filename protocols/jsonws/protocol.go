package jsonws

import (
	"context"
	"net/http"
	"time"

	"github.com/wsgate/wsgate/bridge"
)

// Name is the protocol's name in metrics, logs and Wsgate-Protocol.
const Name = "json"

// Subprotocol is the Sec-WebSocket-Protocol token that selects the JSON
// protocol on any path; a connection that offers none of wsgate's tokens
// on / or /ws gets it too.
const Subprotocol = "wsgate.json"

// Protocol is the JSON protocol adapter.
type Protocol struct {
	c    *compiled
	http *http.Client
}

var (
	_ bridge.Protocol = (*Protocol)(nil)
	_ bridge.Admitter = (*Protocol)(nil)
)

// New validates cfg and returns the protocol.
func New(cfg Config) (*Protocol, error) {
	c, err := compile(cfg)
	if err != nil {
		return nil, err
	}
	return &Protocol{c: c, http: newHTTPClient()}, nil
}

// Name implements bridge.Protocol.
func (p *Protocol) Name() string { return Name }

// Subprotocols implements bridge.Protocol.
func (p *Protocol) Subprotocols() []string { return []string{Subprotocol} }

// Paths implements bridge.Protocol.
func (p *Protocol) Paths() []string { return []string{"/", "/ws"} }

// Open implements bridge.Protocol.
func (p *Protocol) Open(s *bridge.Session) bridge.Handler {
	stage, _ := s.Stage()
	c := &conn{p: p, s: s, subs: map[subKey]*bridge.Subscription{}, routes: p.c.routesFor(stage)}
	c.req, _ = s.AdapterState().([]string)
	if r := c.routes[routeDisconnect]; r != nil {
		c.recordDisconnect(r)
	}
	return c
}

// Admit implements bridge.Admitter: it keeps what the route selection
// expression names of the upgrade request ($request.querystring.<name>,
// $request.header.<name>, $request.path) and runs the $connect route, if
// any.
func (p *Protocol) Admit(ctx context.Context, req *bridge.ConnectRequest) (map[string]string, error) {
	if vals := p.c.sel.requestValues(req.Request); vals != nil {
		req.Session.SetAdapterState(vals)
	}
	stage, _ := req.Session.Stage()
	r := p.c.routesFor(stage)[routeConnect]
	if r == nil {
		return nil, nil
	}
	start := time.Now()
	defer func() { req.Session.Metrics().RouteDone(routeConnect, time.Since(start).Seconds()) }()
	return p.admit(ctx, r, req)
}
