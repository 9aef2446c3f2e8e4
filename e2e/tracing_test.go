package e2e

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	"github.com/go-stomp/stomp/v3"
	"github.com/gorilla/websocket"
	"github.com/nats-io/nats.go"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

func tracingConfig(collector, hook string) string {
	return `
tracing:
  enabled: true
  endpoint: ` + collector + `
  ratio: 1
  service_name: wsgate-e2e
  deliveries: true
json:
  routes:
    watch:
      integration: subscribe
      subject: "news.{body.topic}"
    ask:
      integration: request
      subject: svc.ask
    send:
      integration: publish
      subject: "chat.{body.room}"
    web:
      integration: http
      url: ` + hook + `/hook
`
}

// TestTracing runs the gateway with tracing on against an OTLP receiver
// and real workers: the spans it exports and the trace context it hands
// on must make one trace with the client's.
func TestTracing(t *testing.T) {
	rcv := startOTLPReceiver(t)
	hookSeen := make(chan string, 8)
	hln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hook := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hookSeen <- r.Header.Get("Traceparent")
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"hooked":true}`)
	})}
	go func() { _ = hook.Serve(hln) }()
	t.Cleanup(func() { _ = hook.Close() })

	g := startGateway(t, gwOpts{
		Config: tracingConfig(rcv.URL, "http://"+hln.Addr().String()),
		Env:    []string{"OTEL_BSP_SCHEDULE_DELAY=50"}, // export every 50ms, not 5s
	})
	nc := natsConn(t, g.NATSURL)
	asked := make(chan nats.Header, 8)
	if _, err := nc.Subscribe("svc.ask", func(m *nats.Msg) {
		asked <- m.Header
		_ = m.Respond([]byte(`{"answer":42}`))
	}); err != nil {
		t.Fatal(err)
	}
	chat, err := nc.SubscribeSync("chat.>")
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	c := dial(t, g.WS("/"), nil)

	// workerParent checks a traceparent a worker got: the client's trace,
	// and returns the span id it names as its parent.
	workerParent := func(t *testing.T, got string, traceID []byte) []byte {
		t.Helper()
		tid, parent, ok := parseTraceparent(got)
		if !ok {
			t.Fatalf("worker got traceparent %q, want a version-00 one", got)
		}
		if !bytes.Equal(tid, traceID) {
			t.Fatalf("worker got trace %x, want %x", tid, traceID)
		}
		return parent
	}

	t.Run("request", func(t *testing.T) {
		c := c.with(t)
		tp := newTraceparent(1)
		c.send(`{"action":"ask","traceparent":"` + tp.String() + `","tracestate":"vendor=abc","id":1}`)
		f := c.expect("reply")
		if !strings.Contains(string(f.Data), `"answer":42`) {
			t.Fatalf("reply %s", f.Data)
		}
		h := <-asked
		server := rcv.span(t, tp.trace[:], "route ask")
		if server.Kind != tracepb.Span_SPAN_KIND_SERVER || !bytes.Equal(server.ParentSpanId, tp.parent[:]) {
			t.Fatalf("server span kind %v parent %x, want SERVER with the client's parent %x", server.Kind, server.ParentSpanId, tp.parent)
		}
		if server.service != "wsgate-e2e" {
			t.Errorf("service.name %q, want wsgate-e2e", server.service)
		}
		wantAttrs(t, server, map[string]string{"wsgate.route": "ask", "wsgate.integration": "request",
			"messaging.destination.name": "svc.ask", "wsgate.outcome": "ok", "wsgate.protocol": "json"})
		client := rcv.child(t, server, "nats request")
		if client.Kind != tracepb.Span_SPAN_KIND_CLIENT {
			t.Errorf("NATS request span kind %v, want CLIENT", client.Kind)
		}
		wantAttrs(t, client, map[string]string{"messaging.system": "nats", "messaging.destination.name": "svc.ask"})
		if p := workerParent(t, h.Get("traceparent"), tp.trace[:]); !bytes.Equal(p, client.SpanId) {
			t.Fatalf("worker's traceparent names parent %x, want the gateway's client span %x", p, client.SpanId)
		}
		if ts := h.Get("tracestate"); ts != "vendor=abc" {
			t.Errorf("worker got tracestate %q, want the client's vendor=abc", ts)
		}
	})

	t.Run("http", func(t *testing.T) {
		c := c.with(t)
		tp := newTraceparent(2)
		c.send(`{"action":"web","traceparent":"` + tp.String() + `","id":2}`)
		f := c.expect("reply")
		if !strings.Contains(string(f.Data), `"hooked":true`) {
			t.Fatalf("reply %s", f.Data)
		}
		got := <-hookSeen
		server := rcv.span(t, tp.trace[:], "route web")
		wantAttrs(t, server, map[string]string{"wsgate.integration": "http", "wsgate.outcome": "ok"})
		call := rcv.child(t, server, "HTTP POST")
		if call.Kind != tracepb.Span_SPAN_KIND_CLIENT {
			t.Errorf("HTTP span kind %v, want CLIENT", call.Kind)
		}
		if p := workerParent(t, got, tp.trace[:]); !bytes.Equal(p, call.SpanId) {
			t.Fatalf("endpoint's traceparent names parent %x, want the gateway's HTTP span %x", p, call.SpanId)
		}
	})

	t.Run("publish", func(t *testing.T) {
		c := c.with(t)
		tp := newTraceparent(3)
		c.send(`{"action":"send","room":"r1","traceparent":"` + tp.String() + `","id":3}`)
		c.expect("published")
		m := nextMsg(t, chat)
		server := rcv.span(t, tp.trace[:], "route send")
		wantAttrs(t, server, map[string]string{"wsgate.integration": "publish", "messaging.destination.name": "chat.r1"})
		// The route's span is the publish's: no span of its own.
		if p := workerParent(t, m.Header.Get("traceparent"), tp.trace[:]); !bytes.Equal(p, server.SpanId) {
			t.Fatalf("subscriber's traceparent names parent %x, want the route's span %x", p, server.SpanId)
		}
	})

	t.Run("hostile", func(t *testing.T) {
		c := c.with(t)
		long := strings.Repeat("0", 10_000)
		for i, v := range []string{
			`"00-ZZZZ-0000-01"`, // malformed
			`"00-` + strings.Repeat("a", 32) + `-` + strings.Repeat("b", 16) + `-01-extra"`, // version 00 with more fields
			`"` + long + `"`,                  // very long
			"\"00-\xff\xfe\xfd-\xc3\x28-01\"", // not UTF-8 (sent in a binary message)
			`"\udcff\u0000-00"`,               // a lone surrogate and a NUL, escaped
			`42`,                              // not a string
			`"00-00000000000000000000000000000000-0000000000000000-01"`, // all-zero ids
		} {
			msg := fmt.Sprintf(`{"action":"ask","traceparent":%s,"tracestate":%s,"id":%d}`, v, v, 100+i)
			// A text message must be UTF-8 (RFC 6455 section 8.1); the
			// JSON protocol takes binary ones too.
			if err := c.Conn.WriteMessage(websocket.BinaryMessage, []byte(msg)); err != nil {
				t.Fatal(err)
			}
			f := c.expect("reply")
			if string(f.ID) != fmt.Sprint(100+i) {
				t.Fatalf("reply to id %s, want %d", f.ID, 100+i)
			}
			h := <-asked
			// A new trace: a valid traceparent of the gateway's own.
			tid, _, ok := parseTraceparent(h.Get("traceparent"))
			if !ok || bytes.Equal(tid, make([]byte, 16)) {
				t.Fatalf("hostile traceparent %.40q: worker got %q, want a new trace", v, h.Get("traceparent"))
			}
			if ts := h.Get("tracestate"); ts != "" {
				t.Errorf("hostile tracestate %.40q reached the worker as %q", v, ts)
			}
			root := rcv.span(t, tid, "route ask")
			if len(root.ParentSpanId) != 0 {
				t.Errorf("hostile traceparent %.40q: server span has parent %x, want none", v, root.ParentSpanId)
			}
		}
	})

	t.Run("upgrade", func(t *testing.T) {
		tp := newTraceparent(4)
		hdr := http.Header{"Traceparent": {tp.String()}}
		dial(t, g.WS("/"), hdr)
		up := rcv.span(t, tp.trace[:], "upgrade json")
		if up.Kind != tracepb.Span_SPAN_KIND_SERVER || !bytes.Equal(up.ParentSpanId, tp.parent[:]) {
			t.Fatalf("upgrade span kind %v parent %x, want SERVER under %x", up.Kind, up.ParentSpanId, tp.parent)
		}
		if attrString(up.Attributes, "wsgate.connection_id") == "" {
			t.Error("upgrade span has no wsgate.connection_id")
		}
	})

	t.Run("delivery", func(t *testing.T) {
		w := dial(t, g.WS("/"), nil)
		w.send(`{"action":"watch","topic":"x"}`)
		w.expect("subscribed")
		tp := newTraceparent(9)
		m := nats.NewMsg("news.x")
		m.Header.Set("traceparent", tp.String())
		m.Data = []byte(`{"n":1}`)
		if err := nc.PublishMsg(m); err != nil {
			t.Fatal(err)
		}
		if got := w.read(5 * time.Second); string(got) != `{"n":1}` && !strings.Contains(string(got), `"n":1`) {
			t.Fatalf("delivered %s", got)
		}
		d := rcv.span(t, tp.trace[:], "nats deliver")
		if d.Kind != tracepb.Span_SPAN_KIND_CONSUMER || !bytes.Equal(d.ParentSpanId, tp.parent[:]) {
			t.Fatalf("delivery span kind %v parent %x, want CONSUMER under the publisher's %x", d.Kind, d.ParentSpanId, tp.parent)
		}
		wantAttrs(t, d, map[string]string{"messaging.destination.name": "news.x", "messaging.destination.template": "news.x"})
	})

	t.Run("stomp", func(t *testing.T) {
		tp := newTraceparent(5)
		sc := dialSTOMP(t, g)
		if err := sc.Send("chat.stomp", "text/plain", []byte("hi"), stomp.SendOpt.Header("traceparent", tp.String())); err != nil {
			t.Fatal(err)
		}
		m := nextMsg(t, chat)
		producer := rcv.span(t, tp.trace[:], "nats publish")
		if !bytes.Equal(producer.ParentSpanId, tp.parent[:]) {
			t.Fatalf("STOMP publish span parent %x, want the client's %x", producer.ParentSpanId, tp.parent)
		}
		if p := workerParent(t, m.Header.Get("traceparent"), tp.trace[:]); !bytes.Equal(p, producer.SpanId) {
			t.Fatalf("subscriber's traceparent names parent %x, want the producer span %x", p, producer.SpanId)
		}
	})

	t.Run("mqtt5", func(t *testing.T) {
		tp := newTraceparent(6)
		mc := connectV5(t, g, nil)
		mc.publish(t, &paho.Publish{Topic: "chat/mqtt", QoS: 1, Payload: []byte("hi"),
			Properties: &paho.PublishProperties{User: paho.UserProperties{{Key: "traceparent", Value: tp.String()}}}})
		m := nextMsg(t, chat)
		producer := rcv.span(t, tp.trace[:], "nats publish")
		if !bytes.Equal(producer.ParentSpanId, tp.parent[:]) {
			t.Fatalf("MQTT publish span parent %x, want the client's %x", producer.ParentSpanId, tp.parent)
		}
		if p := workerParent(t, m.Header.Get("traceparent"), tp.trace[:]); !bytes.Equal(p, producer.SpanId) {
			t.Fatalf("subscriber's traceparent names parent %x, want the producer span %x", p, producer.SpanId)
		}
	})
}

// TestTracingGRPC: the otlp-grpc exporter reaches an OTLP/gRPC receiver.
func TestTracingGRPC(t *testing.T) {
	rcv := startGRPCReceiver(t)
	g := startGateway(t, gwOpts{
		Config: "tracing:\n  enabled: true\n  exporter: otlp-grpc\n  endpoint: " + rcv.URL + "\n" +
			"json:\n  routes:\n    send: {integration: publish, subject: grpc.test}\n",
		Env: []string{"OTEL_BSP_SCHEDULE_DELAY=50"},
	})
	c := dial(t, g.WS("/"), nil)
	tp := newTraceparent(10)
	c.send(`{"action":"send","traceparent":"` + tp.String() + `","id":1}`)
	c.expect("published")
	server := rcv.span(t, tp.trace[:], "route send")
	if server.service != "wsgate" {
		t.Errorf("service.name %q, want the default wsgate", server.service)
	}
	wantAttrs(t, server, map[string]string{"messaging.destination.name": "grpc.test", "wsgate.outcome": "ok"})
}

// TestTracingUpgrade: a traced upgrade's NATS authorizer request and
// $connect request are its children, and their workers continue the trace.
func TestTracingUpgrade(t *testing.T) {
	rcv := startOTLPReceiver(t)
	g := startGateway(t, gwOpts{
		Config: `
tracing:
  enabled: true
  endpoint: ` + rcv.URL + `
auth:
  authenticators:
    - type: nats
      nats:
        subject: auth.check
json:
  routes:
    $connect:
      integration: request
      subject: "users.{principal}.connect"
`,
		Env: []string{"OTEL_BSP_SCHEDULE_DELAY=50"},
	})
	nc := natsConn(t, g.NATSURL)
	authSeen, connectSeen := make(chan string, 1), make(chan string, 1)
	for subj, seen := range map[string]chan string{"auth.check": authSeen, "users.u1.connect": connectSeen} {
		answer := []byte(authorizerAllow)
		if subj != "auth.check" {
			answer = nil // admitted
		}
		if _, err := nc.Subscribe(subj, func(m *nats.Msg) {
			seen <- m.Header.Get("traceparent")
			_ = m.Respond(answer)
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	tp := newTraceparent(11)
	hdr := bearer("tok")
	hdr.Set("Traceparent", tp.String())
	dial(t, g.WS("/"), hdr)
	up := rcv.span(t, tp.trace[:], "upgrade json")
	if !bytes.Equal(up.ParentSpanId, tp.parent[:]) {
		t.Fatalf("upgrade span parent %x, want the client's %x", up.ParentSpanId, tp.parent)
	}
	for what, seen := range map[string]chan string{"authorizer": authSeen, "$connect": connectSeen} {
		got := <-seen
		tid, parent, ok := parseTraceparent(got)
		if !ok || !bytes.Equal(tid, tp.trace[:]) {
			t.Fatalf("%s worker got traceparent %q, want one of trace %x", what, got, tp.trace)
		}
		call := rcv.byID(t, parent)
		if call.Name != "nats request" || call.Kind != tracepb.Span_SPAN_KIND_CLIENT || !bytes.Equal(call.ParentSpanId, up.SpanId) {
			t.Errorf("%s worker's parent is %s span %q under %x, want a CLIENT nats request under the upgrade's %x", what, call.Kind, call.Name, call.ParentSpanId, up.SpanId)
		}
	}
}

// TestTracingOff: without tracing.enabled nothing reaches a collector, even
// one the standard environment names, and a client's traceparent member
// is not passed on.
func TestTracingOff(t *testing.T) {
	rcv := startOTLPReceiver(t)
	g := startGateway(t, gwOpts{
		Config: "json:\n  routes:\n    ask: {integration: request, subject: svc.ask}\n",
		Env:    []string{"OTEL_EXPORTER_OTLP_ENDPOINT=" + rcv.URL, "OTEL_BSP_SCHEDULE_DELAY=50"},
	})
	nc := natsConn(t, g.NATSURL)
	asked := make(chan nats.Header, 1)
	if _, err := nc.Subscribe("svc.ask", func(m *nats.Msg) {
		asked <- m.Header
		_ = m.Respond([]byte(`{}`))
	}); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	c := dial(t, g.WS("/"), http.Header{"Traceparent": {newTraceparent(7).String()}})
	c.send(`{"action":"ask","traceparent":"` + newTraceparent(8).String() + `","id":1}`)
	c.expect("reply")
	if h := <-asked; h.Get("traceparent") != "" {
		t.Errorf("worker got traceparent %q with tracing off", h.Get("traceparent"))
	}
	g.stop() // a gateway that traced would flush here
	if n := rcv.posts.Load(); n != 0 {
		t.Fatalf("the receiver got %d exports with tracing off", n)
	}
}
