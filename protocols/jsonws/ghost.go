package jsonws

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/wsgate/wsgate/bridge"
)

// A connection's $disconnect route runs even when its gateway dies with
// it open (bridge.GhostHandler): the connection records the route and the
// subject it renders (from its context and principal) as its last words
// when it opens, and the gateway that cleans up runs the route with the
// disconnect info of a lost connection (close code 1006, "gateway lost").

// lastWords is what a JSON connection records.
type lastWords struct {
	Route   string            `json:"r"`
	Subject string            `json:"s,omitempty"`  // publish routes
	Stage   string            `json:"st,omitempty"` // the connection's stage
	Vars    map[string]string `json:"v,omitempty"`  // its variables, for an http route's templates
}

var _ bridge.GhostHandler = (*Protocol)(nil)

// recordDisconnect records the $disconnect route as the connection's last
// words.
func (c *conn) recordDisconnect(r *route) {
	lw := lastWords{Route: r.key}
	lw.Stage, lw.Vars = c.s.Stage()
	if r.kind != kindHTTP {
		subj, err := c.subject(r, nil)
		if err != nil {
			return // OnClose will say so if the connection ends normally
		}
		lw.Subject = subj
	}
	b, _ := json.Marshal(lw)
	c.s.SetLastWords(b)
}

// Ghost implements bridge.GhostHandler: the $disconnect route of a
// connection whose gateway died, as this gateway's config has it.
func (p *Protocol) Ghost(g *bridge.Ghost) {
	var lw lastWords
	if json.Unmarshal(g.Data, &lw) != nil || lw.Route != routeDisconnect {
		return
	}
	r := p.cur().routesFor(lw.Stage)[routeDisconnect]
	if r == nil {
		return
	}
	body, _ := json.Marshal(g.Info)
	hdr := g.Header
	hdr.Set(bridge.HeaderRoute, r.key)
	var err error
	if r.kind == kindHTTP {
		ctx, cancel := context.WithTimeout(context.Background(), r.timeout*time.Duration(1+r.http.retries))
		var a *httpAnswer
		if a, err = p.callHTTP(ctx, r, ghostLookup(r, g, lw), hdr, body); err == nil && (a.status < 200 || a.status > 299) {
			err = fmt.Errorf("%w: %s answered HTTP %d", errUpstream, r.http.url.src, a.status)
		}
		cancel()
	} else if lw.Subject != "" {
		err = g.Publish(lw.Subject, hdr, body)
	}
	if err != nil {
		g.Logger().Warn("$disconnect route of a lost connection failed", "err", err)
	}
}

// ghostLookup resolves an http $disconnect route's template variables for
// a lost connection: its id, principal, context and stage variables (not
// its claims, which are not recorded).
func ghostLookup(r *route, g *bridge.Ghost, lw lastWords) func(string) (string, bool) {
	return func(name string) (string, bool) {
		switch {
		case name == "connectionId":
			return g.Info.ConnectionID, true
		case name == "principal":
			return g.Info.Principal, g.Info.Principal != ""
		case name == "route":
			return r.key, true
		case strings.HasPrefix(name, "context."):
			v, ok := g.Info.Context[name[len("context."):]]
			return v, ok
		case strings.HasPrefix(name, "stage."):
			v, ok := lw.Vars[name[len("stage."):]]
			return v, ok
		}
		return "", false
	}
}
