package jsonws

import (
	"context"
	"testing"
	"time"
)

// bench300 is a typical 300-byte client message.
const bench300 = `{"action":"pay","id":7,"order":{"id":"o-1234","amount":5000,"currency":"EUR","items":[{"sku":"A-1","qty":2,"price":1200},{"sku":"B-7","qty":1,"price":2600}]},"customer":{"id":"c-42","tier":"gold","country":"DE"},"note":"deliver after 5pm and ring twice, the bell is broken on the left door: ok!!!!!"}`

// benchFeature runs the reader's path of bench300 on route "pay" of cfg:
// parse, select, then step (what the feature adds).
func benchFeature(b *testing.B, cfg Config, step func(c *conn, r *route, bd *body) bool) {
	c := benchConn(b, cfg)
	data := []byte(bench300)
	run := func() bool {
		bd := getBody()
		defer putBody(bd)
		var kb [64]byte
		r, _, _ := c.selectRoute(bd, data, kb[:0])
		return r != nil && step(c, r, bd)
	}
	if !run() {
		b.Fatal("the feature did not work on the message")
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		run()
	}
}

// BenchmarkRouteFeatures measures what a condition, a transform and a
// cache hit add to a routed 300-byte message (parse and selection
// included; "plain" is the same route without them).
//
//	go test -run XXX -bench RouteFeatures -benchmem -count 3 ./protocols/jsonws/
//
// On 2 shared cores (Go 1.26, load average near 10; times vary by half
// from run to run, allocations do not):
//
//	plain        325-465 ns     0 B/op    0 allocs/op
//	condition    6.8-10.7 µs  4320 B/op   81 allocs/op  (decoding the message is most of it)
//	transform   10.5-21.3 µs  6824 B/op  101 allocs/op
//	cache_hit    663-805 ns    96 B/op    3 allocs/op
func BenchmarkRouteFeatures(b *testing.B) {
	if len(bench300) != 300 {
		b.Fatalf("bench300 is %d bytes", len(bench300))
	}
	b.Run("plain", func(b *testing.B) {
		benchFeature(b, Config{Routes: map[string]RouteConfig{"pay": {Integration: kindPublish, Subject: "payments.normal"}}},
			func(c *conn, r *route, bd *body) bool {
				p, err := c.forward(context.Background(), r, bd, nil)
				return err == nil && len(p) == len(bench300)
			})
	})
	b.Run("condition", func(b *testing.B) {
		benchFeature(b, Config{Routes: map[string]RouteConfig{"pay": {Integration: kindPublish, Subject: "payments.normal",
			Transforms: Transforms{Targets: []RouteConfig{{Integration: kindPublish, Subject: "payments.review",
				Transforms: Transforms{When: ".body.order.amount > 1000"}}}}}}},
			func(c *conn, r *route, bd *body) bool {
				t, err := c.choose(r, &jqInput{c: c, b: bd})
				return err == nil && t.subject.String() == "payments.review"
			})
	})
	b.Run("transform", func(b *testing.B) {
		benchFeature(b, Config{Routes: map[string]RouteConfig{"pay": {Integration: kindPublish, Subject: "payments.normal",
			Transforms: Transforms{RequestTransform: `{id: .body.order.id, total: .body.order.amount, items: [.body.order.items[] | {sku, qty}], by: .connectionId}`}}}},
			func(c *conn, r *route, bd *body) bool {
				p, err := c.forward(context.Background(), r, bd, &jqInput{c: c, b: bd})
				return err == nil && len(p) > 0
			})
	})
	b.Run("cache_hit", func(b *testing.B) {
		cfg := Config{Routes: map[string]RouteConfig{"pay": {Integration: kindRequest, Subject: "payments.quote",
			Cache: CacheConfig{TTL: time.Hour, Key: "{body.order.id}"}}}}
		primed := false
		benchFeature(b, cfg, func(c *conn, r *route, bd *body) bool {
			k, ok := c.cacheKey(r, bd, bd.raw)
			if !primed {
				r.cache.put(k, []byte(`{"price":12}`))
				primed = true
			}
			reply, hit := r.cache.get(k)
			return ok && hit && len(reply) > 0
		})
	})
}
