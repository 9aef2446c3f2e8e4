package jsonws

import (
	"context"
	"encoding/json"
	"testing"
)

// Typical client messages: a publish through the built-in routes (the
// client names the subject, the payload is "data") and one through a
// configured route with a subject template and the whole message as payload.
const (
	benchBuiltin  = `{"action":"publish","subject":"chat.lobby","data":{"text":"hello everyone, the meeting moves to 3pm","from":"ada","ts":1718000000123},"id":7}`
	benchTemplate = `{"action":"send","room":"lobby","data":{"text":"hello everyone, the meeting moves to 3pm","from":"ada","ts":1718000000123},"id":7}`
)

// benchConn is a connection of a protocol with cfg, without a session: it
// can select routes and work out subjects from the message alone.
func benchConn(tb testing.TB, cfg Config) *conn {
	tb.Helper()
	p, err := New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return &conn{p: p}
}

var benchTemplateCfg = Config{Routes: map[string]RouteConfig{
	"send": {Integration: kindPublish, Subject: "chat.rooms.{body.room}"},
}}

// refRoutePublish is the per-message path of a publish as it was before the
// scanner: parse, select, find the id, work out the subject and the payload.
func refRoutePublish(c *conn, data []byte) (string, []byte, json.RawMessage) {
	b, isObject := parseRefBody(data)
	var key string
	var r *route
	if isObject {
		key = c.p.cur().sel.evalRef(b)
		r = c.p.cur().routes[key]
	}
	if r == nil {
		return "", nil, nil
	}
	id := refClientID(b)
	var subj string
	if r.subject == nil {
		subj, _ = b.str(r.subjVar)
	} else {
		subj, _ = r.subject.Expand(func(name string) (string, bool) {
			if len(name) > 5 && name[:5] == "body." {
				return b.scalar(splitPath(name[5:]))
			}
			return "", false
		})
	}
	p := b.raw
	if r.payload != nil {
		p = b.payload(r.payload)
	}
	return subj, p, id
}

// routePublish is the same path through the code the connection runs.
func routePublish(c *conn, data []byte) (string, []byte, json.RawMessage) {
	b := getBody()
	defer putBody(b)
	var kb [64]byte
	r, _, _ := c.selectRoute(b, data, kb[:0])
	if r == nil {
		return "", nil, nil
	}
	id := clientID(b)
	var in *jqInput // as handle does: only for routes with transforms or conditions
	if r.xf != nil {
		in = &jqInput{c: c, b: b}
	}
	subj, _ := c.subject(r, b)
	p, _ := c.forward(context.Background(), r, b, in)
	return subj, p, id
}

var benchSink struct {
	subj string
	p    []byte
	id   json.RawMessage
}

func benchRoute(b *testing.B, cfg Config, msg string, route func(*conn, []byte) (string, []byte, json.RawMessage)) {
	c := benchConn(b, cfg)
	data := []byte(msg)
	if subj, _, _ := route(c, data); subj == "" {
		b.Fatalf("%s selects no route or subject", msg)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		benchSink.subj, benchSink.p, benchSink.id = route(c, data)
	}
}

// BenchmarkRoutePublish measures what this package does for each client
// publish before handing it to Session.Publish: parse, route selection,
// id, subject and payload. "ref" is the same path through encoding/json, as
// it was before the scanner (issue 12).
//
//	go test -run XXX -bench 'RoutePublish|ParseBody' -benchmem -benchtime 1s -count 3 ./protocols/jsonws/
//
// On 2 shared cores (AMD, Go 1.26; times vary by a third from run to run,
// allocations do not), for a 141-byte message:
//
//	builtin/ref    2.9-4.1 µs  1224 B/op  26 allocs/op
//	builtin        243-304 ns    16 B/op   1 allocs/op  (the subject string)
//	template/ref   5.0-6.4 µs  1216 B/op  28 allocs/op
//	template       354-624 ns    21 B/op   2 allocs/op  ({body.room} and the subject)
//	ParseBody/ref  2.0-3.9 µs   872 B/op  19 allocs/op
//	ParseBody/scan 135-164 ns     0 B/op   0 allocs/op
//
// What a routed publish allocates beyond this is Session.Publish's (its
// header map, the nats.Msg, nats.go's header encoding) and, for a message
// with an id, the "published" envelope (BenchmarkPublishedEnvelope: about
// 650 ns, 377 B/op, 6 allocs/op).
func BenchmarkRoutePublish(b *testing.B) {
	b.Run("builtin/ref", func(b *testing.B) { benchRoute(b, Config{}, benchBuiltin, refRoutePublish) })
	b.Run("builtin", func(b *testing.B) { benchRoute(b, Config{}, benchBuiltin, routePublish) })
	b.Run("template/ref", func(b *testing.B) { benchRoute(b, benchTemplateCfg, benchTemplate, refRoutePublish) })
	b.Run("template", func(b *testing.B) { benchRoute(b, benchTemplateCfg, benchTemplate, routePublish) })
}

// BenchmarkParseBody is the parse alone: validating the message and finding
// its members.
func BenchmarkParseBody(b *testing.B) {
	data := []byte(benchBuiltin)
	b.Run("ref", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			if _, ok := parseRefBody(data); !ok {
				b.Fatal("not an object")
			}
		}
	})
	b.Run("scan", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		var body body
		for b.Loop() {
			if !body.parse(data) {
				b.Fatal("not an object")
			}
		}
	})
}

// BenchmarkPublishedEnvelope is the answer to a publish that has an id.
func BenchmarkPublishedEnvelope(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		env := Envelope{Type: "published", Route: "publish", ID: json.RawMessage("7"), Subject: "chat.lobby"}
		if env.frame() == nil {
			b.Fatal("no frame")
		}
	}
}
