package jsonws

import (
	"context"
	"net/http"
	"sync/atomic"
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
	c    atomic.Pointer[compiled] // swapped whole by Reload
	http *http.Client
}

var (
	_ bridge.Protocol     = (*Protocol)(nil)
	_ bridge.Admitter     = (*Protocol)(nil)
	_ bridge.OwnAccessLog = (*Protocol)(nil)
)

// OwnAccessLog implements bridge.OwnAccessLog: a route writes its own
// access log lines (conn.logAccess).
func (p *Protocol) OwnAccessLog() {}

// New validates cfg and returns the protocol.
func New(cfg Config) (*Protocol, error) {
	c, err := compile(cfg)
	if err != nil {
		return nil, err
	}
	p := &Protocol{http: newHTTPClient()}
	p.c.Store(c)
	return p, nil
}

// cur is the protocol's config as it is now: a message loads it once.
func (p *Protocol) cur() *compiled { return p.c.Load() }

// Reload validates cfg as New does and makes its routes (a stage's too),
// timeouts and limits those of every message from now on, on open
// connections as on new ones; a message being handled finishes with the
// routes it started with. The route selection expression is the one thing
// kept: open connections hold the upgrade values the old one names.
// Reload reports whether cfg asked to change it.
func (p *Protocol) Reload(cfg Config) (selectionKept bool, err error) {
	c, err := compile(cfg)
	if err != nil {
		return false, err
	}
	old := p.cur()
	if c.cfg.RouteSelectionExpression != old.cfg.RouteSelectionExpression {
		c.sel, c.cfg.RouteSelectionExpression = old.sel, old.cfg.RouteSelectionExpression
		selectionKept = true
	}
	p.c.Store(c)
	return selectionKept, nil
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
	c := &conn{p: p, s: s, subs: map[subKey]*bridge.Subscription{}, stage: stage}
	c.req, _ = s.AdapterState().([]string)
	if r := c.table()[routeDisconnect]; r != nil {
		c.recordDisconnect(r)
	}
	return c
}

// Admit implements bridge.Admitter: it keeps what the route selection
// expression names of the upgrade request ($request.querystring.<name>,
// $request.header.<name>, $request.path) and runs the $connect route, if
// any.
func (p *Protocol) Admit(ctx context.Context, req *bridge.ConnectRequest) (map[string]string, error) {
	if vals := p.cur().sel.requestValues(req.Request); vals != nil {
		req.Session.SetAdapterState(vals)
	}
	stage, _ := req.Session.Stage()
	r := p.cur().routesFor(stage)[routeConnect]
	if r == nil {
		return nil, nil
	}
	start := time.Now()
	defer func() { req.Session.Metrics().RouteDone(routeConnect, time.Since(start).Seconds()) }()
	return p.admit(ctx, r, req)
}
