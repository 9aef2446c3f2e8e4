package jsonws

import (
	"context"
	"encoding/json"
	"testing"
)

// routeRequest is the per-message path of a request route up to
// Session.Request: what the reader does (parse, select, id, the copy that
// goes beside it) and what twoWay does before it asks (payload, cache
// lookup, subject).
func routeRequest(c *conn, data []byte) (string, []byte, json.RawMessage) {
	b := getBody()
	defer putBody(b)
	var kb [64]byte
	r, _, _ := c.selectRoute(b, data, kb[:0])
	if r == nil {
		return "", nil, nil
	}
	var in *jqInput
	if r.xf != nil {
		in = &jqInput{c: c, b: b}
	}
	nb := b.clone()
	id := clientID(nb)
	if in != nil {
		in.b = nb
	}
	p, _ := c.forward(context.Background(), r, nb, in)
	if r.cache != nil {
		if k, ok := c.cacheKey(r, nb, p); ok {
			r.cache.get(k)
		}
	}
	subj, _ := c.subject(r, nb)
	return subj, p, id
}

// BenchmarkRouteRequest is BenchmarkRoutePublish for a two-way request
// route (the built-in one, and one with a subject template).
//
//	go test -run XXX -bench 'RouteRequest|RoutePublish' -benchmem -count 5 ./protocols/jsonws/
func BenchmarkRouteRequest(b *testing.B) {
	const builtinReq = `{"action":"request","subject":"svc.time","data":{"text":"hello everyone, the meeting moves to 3pm","from":"ada","ts":1718000000123},"id":7}`
	tmpl := Config{Routes: map[string]RouteConfig{"send": {Integration: kindRequest, Subject: "svc.rooms.{body.room}"}}}
	b.Run("builtin", func(b *testing.B) { benchRoute(b, Config{}, builtinReq, routeRequest) })
	b.Run("template", func(b *testing.B) { benchRoute(b, tmpl, benchTemplate, routeRequest) })
}
