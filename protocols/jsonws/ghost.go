package jsonws

import (
	"context"
	"encoding/json"

	"github.com/wsgate/wsgate/bridge"
)

// A connection's $disconnect route runs even when its gateway dies with
// it open (bridge.GhostHandler): the connection records the route and the
// subject it renders (from its context and principal) as its last words
// when it opens, and the gateway that cleans up runs the route with the
// disconnect info of a lost connection (close code 1006, "gateway lost").

// lastWords is what a JSON connection records.
type lastWords struct {
	Route   string `json:"r"`
	Subject string `json:"s,omitempty"` // publish routes
}

var _ bridge.GhostHandler = (*Protocol)(nil)

// recordDisconnect records the $disconnect route as the connection's last
// words.
func (c *conn) recordDisconnect(r *route) {
	lw := lastWords{Route: r.key}
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
	r := p.c.routes[routeDisconnect]
	if r == nil {
		return
	}
	body, _ := json.Marshal(g.Info)
	hdr := g.Header
	hdr.Set(bridge.HeaderRoute, r.key)
	var err error
	if r.kind == kindHTTP {
		ctx, cancel := context.WithTimeout(context.Background(), r.timeout)
		_, err = p.post(ctx, r, hdr, body)
		cancel()
	} else if lw.Subject != "" {
		err = g.Publish(lw.Subject, hdr, body)
	}
	if err != nil {
		g.Logger().Warn("$disconnect route of a lost connection failed", "err", err)
	}
}
