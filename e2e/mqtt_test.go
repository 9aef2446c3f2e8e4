package e2e

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	mqtt3 "github.com/eclipse/paho.mqtt.golang"
	"github.com/gorilla/websocket"
	"github.com/nats-io/nats.go"

	"github.com/wsgate/wsgate/protocols/mqtt"
)

// tcpOverWS gives paho.golang a *net.TCPConn whose far end relays to ws:
// every read chunk becomes one binary WebSocket message (so packets arrive
// split and coalesced as the kernel pleases) and every message is written
// back. paho writes a packet as several buffers from more than one
// goroutine; only a real socket's writev keeps a packet in one piece, so a
// plain net.Conn wrapper around the WebSocket would interleave them.
func tcpOverWS(t *testing.T, ws *websocket.Conn) net.Conn {
	t.Helper()
	c, err := relayWS(ws)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// relayWS is tcpOverWS for a goroutine: the connection ends when ws does,
// and closing it closes ws.
func relayWS(ws *websocket.Conn) (net.Conn, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		return nil, err
	}
	srv := <-accepted
	if srv == nil {
		client.Close()
		return nil, errors.New("relay: accept failed")
	}
	go func() {
		defer ws.Close()
		defer srv.Close()
		buf := make([]byte, 64<<10)
		for {
			n, err := srv.Read(buf)
			if err != nil {
				return
			}
			if err := ws.WriteMessage(websocket.BinaryMessage, buf[:n]); err != nil {
				return
			}
		}
	}()
	go func() {
		defer srv.Close()
		for {
			_, b, err := ws.ReadMessage()
			if err != nil {
				return
			}
			if _, err := srv.Write(b); err != nil {
				return
			}
		}
	}()
	return client, nil
}

// dialMQTT opens a WebSocket offering subprotocol token on path.
func dialMQTT(t *testing.T, g *gateway, path, token string) *websocket.Conn {
	t.Helper()
	d := websocket.Dialer{Subprotocols: []string{token}}
	ws, resp, err := d.Dial(g.WS(path), nil)
	if err != nil {
		t.Fatalf("dial %s: %v", path, err)
	}
	if got := resp.Header.Get("Sec-WebSocket-Protocol"); got != token {
		t.Fatalf("subprotocol %q, want %q", got, token)
	}
	t.Cleanup(func() { ws.Close() })
	return ws
}

// v5client is a connected paho.golang client and what it receives.
type v5client struct {
	*paho.Client
	Connack *paho.Connack
	msgs    chan *paho.Publish
	gone    chan *paho.Disconnect
	errMu   sync.Mutex
	errs    []error // what paho reported, for failure messages
}

func (c *v5client) clientErrors() []error {
	c.errMu.Lock()
	defer c.errMu.Unlock()
	return c.errs
}

func connectV5(t *testing.T, g *gateway, cp *paho.Connect) *v5client {
	t.Helper()
	ws := dialMQTT(t, g, "/", "mqtt")
	c := &v5client{msgs: make(chan *paho.Publish, 100), gone: make(chan *paho.Disconnect, 1)}
	c.Client = paho.NewClient(paho.ClientConfig{
		Conn: tcpOverWS(t, ws),
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
			c.msgs <- pr.Packet
			return true, nil
		}},
		OnServerDisconnect: func(d *paho.Disconnect) { c.gone <- d },
		OnClientError: func(err error) {
			c.errMu.Lock()
			c.errs = append(c.errs, err)
			c.errMu.Unlock()
		},
	})
	if cp == nil {
		cp = &paho.Connect{CleanStart: true, KeepAlive: 30}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ack, err := c.Connect(ctx, cp)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	c.Connack = ack
	t.Cleanup(func() { _ = c.Disconnect(&paho.Disconnect{}) })
	return c
}

func (c *v5client) subscribe(t *testing.T, subs ...paho.SubscribeOptions) *paho.Suback {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	sa, err := c.Subscribe(ctx, &paho.Subscribe{Subscriptions: subs})
	if err != nil && sa == nil {
		t.Fatalf("subscribe: %v (client errors %v)", err, c.clientErrors())
	}
	return sa
}

func (c *v5client) publish(t *testing.T, p *paho.Publish) *paho.PublishResponse {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r, err := c.Publish(ctx, p)
	if err != nil {
		t.Fatalf("publish %s: %v (client errors %v)", p.Topic, err, c.clientErrors())
	}
	return r
}

func (c *v5client) next(t *testing.T) *paho.Publish {
	t.Helper()
	select {
	case p := <-c.msgs:
		return p
	case <-time.After(5 * time.Second):
		t.Fatal("no PUBLISH within 5s")
		return nil
	}
}

// takenOver waits for the server's DISCONNECT 0x8E (Session taken over),
// failing with msg if it does not come.
func (c *v5client) takenOver(t *testing.T, msg string) {
	t.Helper()
	select {
	case d := <-c.gone:
		if d.ReasonCode != 0x8E {
			t.Fatalf("DISCONNECT 0x%02x", d.ReasonCode)
		}
	case <-time.After(5 * time.Second):
		t.Fatal(msg)
	}
}

func (c *v5client) none(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case p := <-c.msgs:
		t.Fatalf("unexpected PUBLISH on %s: %q", p.Topic, p.Payload)
	case <-time.After(d):
	}
}

// raw is an MQTT client written with the gateway's own codec, for what real
// clients will not send. A goroutine reads the WebSocket (a gorilla
// connection is unusable after a read timeout), so read can time out and be
// called again.
type raw struct {
	t       *testing.T
	ws      *websocket.Conn
	version byte
	in      chan []byte
	err     error // set before in is closed
	buf     []byte
}

func dialRaw(t *testing.T, g *gateway, version byte) *raw {
	return newRaw(t, dialMQTT(t, g, "/mqtt", "mqtt"), version)
}

func newRaw(t *testing.T, ws *websocket.Conn, version byte) *raw {
	r := &raw{t: t, ws: ws, version: version, in: make(chan []byte, 64)}
	go func() {
		for {
			_, b, err := r.ws.ReadMessage()
			if err != nil {
				r.err = err
				close(r.in)
				return
			}
			r.in <- b
		}
	}()
	return r
}

func (r *raw) write(b []byte) {
	r.t.Helper()
	if err := r.ws.WriteMessage(websocket.BinaryMessage, b); err != nil {
		r.t.Fatal(err)
	}
}

func (r *raw) send(p *mqtt.Packet) { r.write(p.Encode(nil, r.version)) }

func (r *raw) connect(c *mqtt.Connect, props mqtt.Properties) {
	c.Level = r.version
	r.send(&mqtt.Packet{Type: mqtt.CONNECT, Connect: c, Props: props})
}

var errRawTimeout = errors.New("raw: timeout")

// read returns the next packet, or nil and errRawTimeout or the error that
// ended the connection.
func (r *raw) read(timeout time.Duration) (*mqtt.Packet, error) {
	r.t.Helper()
	deadline := time.After(timeout)
	for {
		if p, n, err := mqtt.Decode(r.buf, r.version, 0); err == nil {
			r.buf = r.buf[n:]
			return p, nil
		}
		select {
		case b, ok := <-r.in:
			if !ok {
				return nil, r.err
			}
			r.buf = append(r.buf, b...)
		case <-deadline:
			return nil, errRawTimeout
		}
	}
}

func (r *raw) expect(typ byte) *mqtt.Packet {
	r.t.Helper()
	p, err := r.read(5 * time.Second)
	if err != nil {
		r.t.Fatalf("want packet type %d: %v", typ, err)
	}
	if p.Type != typ {
		r.t.Fatalf("got packet type %d (reason 0x%02x), want %d", p.Type, p.Reason, typ)
	}
	return p
}

// closed waits for the connection to end.
func (r *raw) closed(timeout time.Duration) error {
	r.t.Helper()
	for {
		_, err := r.read(timeout)
		if errors.Is(err, errRawTimeout) {
			r.t.Fatalf("connection still open after %s", timeout)
		}
		if err != nil {
			return err
		}
	}
}

func TestMQTT(t *testing.T) {
	g := startGateway(t, gwOpts{})
	nc := natsConn(t, g.NATSURL)

	t.Run("subprotocols and paths", func(t *testing.T) {
		for _, tc := range []struct{ path, token string }{{"/", "mqtt"}, {"/mqtt", "mqtt"}, {"/", "mqttv3.1"}} {
			ws := dialMQTT(t, g, tc.path, tc.token)
			r := newRaw(t, ws, mqtt.V311)
			if tc.token == "mqttv3.1" {
				r.version = mqtt.V31
			}
			r.connect(&mqtt.Connect{ClientID: "sp-" + tc.token, CleanStart: true}, mqtt.Properties{})
			r.version = mqtt.V311
			if ack := r.expect(mqtt.CONNACK); ack.Reason != 0 {
				t.Fatalf("%s %s: CONNACK 0x%02x", tc.path, tc.token, ack.Reason)
			}
		}
	})

	t.Run("v5 publish QoS 0 1 2 reaches NATS with headers", func(t *testing.T) {
		sub := workerSub(t, nc, "v5.in.>")
		c := connectV5(t, g, nil)
		if c.Connack.Properties == nil || c.Connack.Properties.AssignedClientID == "" {
			t.Fatalf("no assigned client id: %+v", c.Connack.Properties)
		}
		for qos := byte(0); qos <= 2; qos++ {
			c.publish(t, &paho.Publish{Topic: fmt.Sprintf("v5/in/q%d", qos), QoS: qos, Payload: []byte("hi"),
				Properties: &paho.PublishProperties{ContentType: "text/plain", User: paho.UserProperties{{Key: "trace", Value: "abc"}, {Key: "Wsgate-Principal", Value: "spoof"}}}})
			m := nextMsg(t, sub)
			if m.Subject != fmt.Sprintf("v5.in.q%d", qos) || string(m.Data) != "hi" {
				t.Fatalf("got %s %q", m.Subject, m.Data)
			}
			if m.Header.Get("trace") != "abc" || m.Header.Get("Content-Type") != "text/plain" || m.Header.Get("Wsgate-Protocol") != "mqtt" {
				t.Fatalf("headers %v", m.Header)
			}
			if m.Header.Get("Wsgate-Principal") == "spoof" {
				t.Fatal("user property overrode a gateway header")
			}
			if qos > 0 && m.Header.Get("Mqtt-Qos") != fmt.Sprint(qos) {
				t.Fatalf("Mqtt-Qos %q", m.Header.Get("Mqtt-Qos"))
			}
		}
	})

	t.Run("NATS to v5 subscriber with wildcards", func(t *testing.T) {
		c := connectV5(t, g, nil)
		sa := c.subscribe(t, paho.SubscribeOptions{Topic: "w/#", QoS: 1}, paho.SubscribeOptions{Topic: "x/+/z", QoS: 0}, paho.SubscribeOptions{Topic: "bad/#/x"})
		if sa.Reasons[0] != 1 || sa.Reasons[1] != 0 || sa.Reasons[2] != 0x8F {
			t.Fatalf("SUBACK %v", sa.Reasons)
		}
		for _, s := range []string{"w", "w.a.b", "x.y.z", "w.a//b"} {
			if err := nc.PublishMsg(&nats.Msg{Subject: s, Data: []byte(s), Header: nats.Header{"k": {"v"}, "Wsgate-Source-Ip": {"1.2.3.4"}}}); err != nil {
				t.Fatal(err)
			}
		}
		// Order holds per subscription, not across "w.>" and "w".
		want := map[string]bool{"w": true, "w/a/b": true, "x/y/z": true, "w/a.b": true}
		for range 4 {
			p := c.next(t)
			if !want[p.Topic] || p.QoS != 0 {
				t.Fatalf("got %s QoS %d, want one of %v at QoS 0", p.Topic, p.QoS, want)
			}
			delete(want, p.Topic)
			if p.Properties.User.Get("k") != "v" || p.Properties.User.Get("Wsgate-Source-Ip") != "" {
				t.Fatalf("user properties %v", p.Properties.User)
			}
		}
	})

	t.Run("QoS 1 and 2 end to end between MQTT clients", func(t *testing.T) {
		sub := connectV5(t, g, nil)
		sub.subscribe(t, paho.SubscribeOptions{Topic: "qq/#", QoS: 2})
		pub := connectV5(t, g, nil)
		for qos := byte(1); qos <= 2; qos++ {
			pub.publish(t, &paho.Publish{Topic: "qq/m", QoS: qos, Payload: []byte{qos}})
			if p := sub.next(t); p.QoS != qos || p.Payload[0] != qos {
				t.Fatalf("got QoS %d payload %v", p.QoS, p.Payload)
			}
		}
	})

	t.Run("no local", func(t *testing.T) {
		c := connectV5(t, g, nil)
		c.subscribe(t, paho.SubscribeOptions{Topic: "nl/t", NoLocal: true}, paho.SubscribeOptions{Topic: "nl/u"})
		c.publish(t, &paho.Publish{Topic: "nl/t", Payload: []byte("mine")})
		c.publish(t, &paho.Publish{Topic: "nl/u", Payload: []byte("seen")})
		if p := c.next(t); p.Topic != "nl/u" {
			t.Fatalf("got %s", p.Topic)
		}
		c.none(t, 200*time.Millisecond)
	})

	t.Run("shared subscription", func(t *testing.T) {
		a, b := connectV5(t, g, nil), connectV5(t, g, nil)
		a.subscribe(t, paho.SubscribeOptions{Topic: "$share/g1/jobs/#"})
		b.subscribe(t, paho.SubscribeOptions{Topic: "$share/g1/jobs/#"})
		for i := range 20 {
			if err := nc.Publish("jobs.n", []byte{byte(i)}); err != nil {
				t.Fatal(err)
			}
		}
		got := 0
		var na, nb int
		for got < 20 {
			select {
			case <-a.msgs:
				na++
			case <-b.msgs:
				nb++
			case <-time.After(5 * time.Second):
				t.Fatalf("got %d of 20", got)
			}
			got++
		}
		if na == 0 || nb == 0 {
			t.Fatalf("not distributed: %d and %d", na, nb)
		}
		a.none(t, 100*time.Millisecond)
	})

	t.Run("request response via Response Topic", func(t *testing.T) {
		ns, err := nc.Subscribe("svc.echo", func(m *nats.Msg) {
			r := nats.NewMsg(m.Reply)
			r.Data = append([]byte("re:"), m.Data...)
			r.Header.Set("answer", "yes")
			_ = m.RespondMsg(r)
		})
		if err != nil {
			t.Fatal(err)
		}
		defer ns.Unsubscribe()
		c := connectV5(t, g, nil)
		c.subscribe(t, paho.SubscribeOptions{Topic: "replies/me"})
		c.publish(t, &paho.Publish{Topic: "svc/echo", QoS: 1, Payload: []byte("ping"),
			Properties: &paho.PublishProperties{ResponseTopic: "replies/me", CorrelationData: []byte{7, 8}}})
		p := c.next(t)
		if string(p.Payload) != "re:ping" || string(p.Properties.CorrelationData) != "\x07\x08" || p.Properties.User.Get("answer") != "yes" {
			t.Fatalf("reply %q props %+v", p.Payload, p.Properties)
		}

		// An MQTT responder sees Response Topic and Correlation Data.
		responder := connectV5(t, g, nil)
		responder.subscribe(t, paho.SubscribeOptions{Topic: "svc2/q"})
		c.publish(t, &paho.Publish{Topic: "svc2/q", Payload: []byte("q"),
			Properties: &paho.PublishProperties{ResponseTopic: "replies/me", CorrelationData: []byte("c9")}})
		q := responder.next(t)
		if q.Properties.ResponseTopic != "replies/me" || string(q.Properties.CorrelationData) != "c9" {
			t.Fatalf("request props %+v", q.Properties)
		}
		responder.publish(t, &paho.Publish{Topic: q.Properties.ResponseTopic, Payload: []byte("a"),
			Properties: &paho.PublishProperties{CorrelationData: q.Properties.CorrelationData}})
		if a := c.next(t); string(a.Payload) != "a" || string(a.Properties.CorrelationData) != "c9" {
			t.Fatalf("answer %q props %+v", a.Payload, a.Properties)
		}
	})

	t.Run("takeover", func(t *testing.T) {
		first := connectV5(t, g, &paho.Connect{ClientID: "same-id", CleanStart: true, KeepAlive: 30})
		connectV5(t, g, &paho.Connect{ClientID: "same-id", CleanStart: true, KeepAlive: 30})
		first.takenOver(t, "first connection not taken over")
	})

	t.Run("keep alive", func(t *testing.T) {
		r := dialRaw(t, g, mqtt.V5)
		r.connect(&mqtt.Connect{ClientID: "ka", CleanStart: true, KeepAlive: 1}, mqtt.Properties{})
		r.expect(mqtt.CONNACK)
		r.send(&mqtt.Packet{Type: mqtt.PINGREQ})
		r.expect(mqtt.PINGRESP)
		start := time.Now()
		d := r.expect(mqtt.DISCONNECT)
		if d.Reason != 0x8D {
			t.Fatalf("DISCONNECT 0x%02x", d.Reason)
		}
		if el := time.Since(start); el < time.Second || el > 4*time.Second {
			t.Fatalf("closed after %s", el)
		}
	})

	t.Run("v3.1.1 client: publish, subscribe, will", func(t *testing.T) {
		wills := workerSub(t, nc, "wills.>")
		opts := mqtt3.NewClientOptions().AddBroker(g.WS("/mqtt")).SetClientID("v3-a").SetProtocolVersion(4).
			SetWill("wills/a", "gone", 1, false).SetAutoReconnect(false).SetConnectRetry(false)
		got := make(chan mqtt3.Message, 10)
		a := mqtt3.NewClient(opts)
		if tok := a.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("connect: %v", tok.Error())
		}
		if tok := a.Subscribe("v3/#", 1, func(_ mqtt3.Client, m mqtt3.Message) { got <- m }); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("subscribe: %v", tok.Error())
		}
		if tok := a.Publish("v3/x", 1, false, "hello"); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("publish: %v", tok.Error())
		}
		select {
		case m := <-got:
			if m.Topic() != "v3/x" || string(m.Payload()) != "hello" || m.Qos() != 1 {
				t.Fatalf("got %s %q QoS %d", m.Topic(), m.Payload(), m.Qos())
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no message")
		}
		a.Disconnect(100) // clean: no will
		if m, err := wills.NextMsg(300 * time.Millisecond); err == nil {
			t.Fatalf("will after clean disconnect: %s", m.Data)
		}
		// Abnormal close: the will is published.
		r := dialRaw(t, g, mqtt.V311)
		r.connect(&mqtt.Connect{ClientID: "v3-b", CleanStart: true, Will: &mqtt.Will{Topic: "wills/b", Payload: []byte("lost")}}, mqtt.Properties{})
		r.expect(mqtt.CONNACK)
		r.ws.UnderlyingConn().Close()
		if m := nextMsg(t, wills); m.Subject != "wills.b" || string(m.Data) != "lost" {
			t.Fatalf("will %s %q", m.Subject, m.Data)
		}
	})

	t.Run("v5 will: DISCONNECT 0x04, delay, cancelled by return", func(t *testing.T) {
		wills := workerSub(t, nc, "wills5.>")
		r := dialRaw(t, g, mqtt.V5)
		r.connect(&mqtt.Connect{ClientID: "w5", CleanStart: true, Will: &mqtt.Will{Topic: "wills5/a", Payload: []byte("asked")}}, mqtt.Properties{})
		r.expect(mqtt.CONNACK)
		r.send(&mqtt.Packet{Type: mqtt.DISCONNECT, Reason: 0x04})
		if m := nextMsg(t, wills); string(m.Data) != "asked" {
			t.Fatalf("will %q", m.Data)
		}
		var sess mqtt.Properties
		sess.Has, sess.SessionExpiry = mqtt.HasSessionExpiry, 60
		delayed := func(payload string) *raw {
			w := &mqtt.Will{Topic: "wills5/d", Payload: []byte(payload)}
			w.Props.Has, w.Props.WillDelay = mqtt.HasWillDelay, 1
			r := dialRaw(t, g, mqtt.V5)
			r.connect(&mqtt.Connect{ClientID: "w5d", Will: w}, sess)
			r.expect(mqtt.CONNACK)
			return r
		}
		r = delayed("late")
		r.ws.UnderlyingConn().Close()
		start := time.Now()
		if m := nextMsg(t, wills); string(m.Data) != "late" || time.Since(start) < 700*time.Millisecond {
			t.Fatalf("will %q after %s", m.Data, time.Since(start))
		}
		r = delayed("cancelled")
		r.ws.UnderlyingConn().Close()
		time.Sleep(200 * time.Millisecond)
		r = delayed("second")
		if m, err := wills.NextMsg(1500 * time.Millisecond); err == nil {
			t.Fatalf("will after the client came back: %q", m.Data)
		}
		r.send(&mqtt.Packet{Type: mqtt.DISCONNECT})
	})

	t.Run("v5 subscription identifier and topic alias", func(t *testing.T) {
		sub := workerSub(t, nc, "alias.>")
		r := dialRaw(t, g, mqtt.V5)
		r.connect(&mqtt.Connect{ClientID: "alias", CleanStart: true}, mqtt.Properties{})
		r.expect(mqtt.CONNACK)
		s := &mqtt.Packet{Type: mqtt.SUBSCRIBE, ID: 1, Filters: []mqtt.Filter{{Filter: "alias/#"}}}
		s.Props.SubscriptionIDs = []uint32{42}
		r.send(s)
		r.expect(mqtt.SUBACK)
		p := &mqtt.Packet{Type: mqtt.PUBLISH, Topic: "alias/long/topic", Payload: []byte("1")}
		p.Props.Has, p.Props.TopicAlias = mqtt.HasTopicAlias, 3
		r.send(p)
		p = &mqtt.Packet{Type: mqtt.PUBLISH, Topic: "", Payload: []byte("2")}
		p.Props.Has, p.Props.TopicAlias = mqtt.HasTopicAlias, 3
		r.send(p)
		for _, want := range []string{"1", "2"} {
			if m := nextMsg(t, sub); m.Subject != "alias.long.topic" || string(m.Data) != want {
				t.Fatalf("got %s %q", m.Subject, m.Data)
			}
			got := r.expect(mqtt.PUBLISH)
			if got.Topic != "alias/long/topic" || fmt.Sprint(got.Props.SubscriptionIDs) != "[42]" {
				t.Fatalf("got %s ids %v", got.Topic, got.Props.SubscriptionIDs)
			}
		}
		p = &mqtt.Packet{Type: mqtt.PUBLISH, Topic: "", Payload: []byte("x")}
		p.Props.Has, p.Props.TopicAlias = mqtt.HasTopicAlias, 4
		r.send(p)
		if d := r.expect(mqtt.DISCONNECT); d.Reason != 0x82 {
			t.Fatalf("unknown alias: DISCONNECT 0x%02x", d.Reason)
		}
	})

	t.Run("client id rules", func(t *testing.T) {
		r := dialRaw(t, g, mqtt.V311)
		r.connect(&mqtt.Connect{ClientID: "", CleanStart: false}, mqtt.Properties{})
		if ack := r.expect(mqtt.CONNACK); ack.Reason != 0x02 {
			t.Fatalf("CONNACK 0x%02x", ack.Reason)
		}
		r.closed(5 * time.Second)
	})

	t.Run("bad packets close only that connection", func(t *testing.T) {
		good := connectV5(t, g, nil)
		good.subscribe(t, paho.SubscribeOptions{Topic: "still/here"})
		for name, b := range map[string][]byte{
			"PINGREQ first":   {0xc0, 0x00},
			"reserved type":   {0x00, 0x00},
			"varint too long": {0x10, 0xff, 0xff, 0xff, 0xff, 0x7f},
		} {
			r := dialRaw(t, g, mqtt.V311)
			r.write(b)
			if err := r.closed(5 * time.Second); err == nil {
				t.Fatalf("%s: not closed", name)
			}
		}
		// v5: a wildcard in a PUBLISH topic gets DISCONNECT 0x90.
		r := dialRaw(t, g, mqtt.V5)
		r.connect(&mqtt.Connect{ClientID: "bad5", CleanStart: true}, mqtt.Properties{})
		r.expect(mqtt.CONNACK)
		r.send(&mqtt.Packet{Type: mqtt.PUBLISH, Topic: "a/+"})
		if d := r.expect(mqtt.DISCONNECT); d.Reason != 0x90 {
			t.Fatalf("DISCONNECT 0x%02x", d.Reason)
		}
		// Second CONNECT: protocol error.
		r = dialRaw(t, g, mqtt.V5)
		r.connect(&mqtt.Connect{ClientID: "twice", CleanStart: true}, mqtt.Properties{})
		r.expect(mqtt.CONNACK)
		r.connect(&mqtt.Connect{ClientID: "twice", CleanStart: true}, mqtt.Properties{})
		if d := r.expect(mqtt.DISCONNECT); d.Reason != 0x82 {
			t.Fatalf("DISCONNECT 0x%02x", d.Reason)
		}
		for kind, n := range map[string]float64{"malformed": 1, "protocol": 2, "topic_name": 1, "second_connect": 1} {
			if got := g.metric(t, "wsgate_protocol_errors_total", map[string]string{"protocol": "mqtt", "kind": kind}); got < n {
				t.Errorf("protocol errors %s: %v, want at least %v", kind, got, n)
			}
		}
		if err := nc.Publish("still.here", []byte("ok")); err != nil {
			t.Fatal(err)
		}
		if p := good.next(t); string(p.Payload) != "ok" {
			t.Fatalf("got %q", p.Payload)
		}
	})

	t.Run("pipelined publishes keep their order", func(t *testing.T) {
		// 300 PUBLISHes at QoS 0, 1 and 2 in one WebSocket message, with
		// a resent QoS 2 packet while the first is still being stored:
		// stores overlap, but NATS sees every message once, in order, and
		// the acknowledgements come in order [MQTT-4.6.0-2/3].
		sub := workerSub(t, nc, "pipe")
		r := dialRaw(t, g, mqtt.V311)
		r.connect(&mqtt.Connect{ClientID: "pipe", CleanStart: true}, mqtt.Properties{})
		r.expect(mqtt.CONNACK)
		const n = 300
		var all []byte
		var acks []uint16
		for i := range n {
			p := &mqtt.Packet{Type: mqtt.PUBLISH, Topic: "pipe", QoS: byte(i % 3), Payload: []byte(fmt.Sprint(i))}
			if p.QoS > 0 {
				p.ID = uint16(i + 1)
				acks = append(acks, p.ID)
			}
			all = p.Encode(all, mqtt.V311)
			if i == 5 {
				p.Dup = true
				all = p.Encode(all, mqtt.V311)
				acks = append(acks, p.ID)
			}
		}
		r.write(all)
		for i := range n {
			if m := nextMsg(t, sub); string(m.Data) != fmt.Sprint(i) {
				t.Fatalf("message %d: got %q", i, m.Data)
			}
		}
		for _, id := range acks {
			p, err := r.read(5 * time.Second)
			if err != nil {
				t.Fatal(err)
			}
			want := byte(mqtt.PUBACK)
			if id%3 == 0 {
				want = mqtt.PUBREC
			}
			if p.Type != want || p.ID != id {
				t.Fatalf("got type %d id %d, want type %d id %d", p.Type, p.ID, want, id)
			}
		}
		for _, id := range acks {
			if id%3 == 0 {
				r.send(&mqtt.Packet{Type: mqtt.PUBREL, ID: id})
				if p := r.expect(mqtt.PUBCOMP); p.ID != id {
					t.Fatalf("PUBCOMP %d, want %d", p.ID, id)
				}
			}
		}
		if m, err := sub.NextMsg(100 * time.Millisecond); err == nil {
			t.Fatalf("extra message %q", m.Data)
		}
	})

	t.Run("split and coalesced packets", func(t *testing.T) {
		sub := workerSub(t, nc, "split.>")
		r := dialRaw(t, g, mqtt.V311)
		var all []byte
		all = (&mqtt.Packet{Type: mqtt.CONNECT, Connect: &mqtt.Connect{Level: mqtt.V311, ClientID: "split", CleanStart: true}}).Encode(all, mqtt.V311)
		for i := range 3 {
			all = (&mqtt.Packet{Type: mqtt.PUBLISH, Topic: "split/" + fmt.Sprint(i), Payload: []byte("p")}).Encode(all, mqtt.V311)
		}
		// Two bytes at a time, then the rest in one message.
		for i := 0; i < 20; i += 2 {
			r.write(all[i : i+2])
		}
		r.write(all[20:])
		r.expect(mqtt.CONNACK)
		for i := range 3 {
			if m := nextMsg(t, sub); m.Subject != fmt.Sprintf("split.%d", i) {
				t.Fatalf("got %s", m.Subject)
			}
		}
	})
}

func TestMQTTAuth(t *testing.T) {
	key, key2 := newSecret(t), newSecret(t)
	g := startGateway(t, gwOpts{Config: `
auth:
  authenticators:
    - type: api_keys
      api_keys:
        keys:
          - id: dev-1
            hash: "` + keyHash(key) + `"
            permissions:
              publish: {allow: ["dev.{principal}.>"]}
              subscribe: {allow: ["cmd.{principal}.>"]}
          - id: dev-2
            hash: "` + keyHash(key2) + `"
`})
	nc := natsConn(t, g.NATSURL)
	for _, tc := range []struct {
		name     string
		version  byte
		user     string
		pass     string
		wantCode byte
	}{
		{"v3 wrong password", mqtt.V311, "dev-1", "nope", 0x04},
		{"v3 no credentials", mqtt.V311, "", "", 0x05},
		{"v5 wrong password", mqtt.V5, "dev-1", "nope", 0x86},
		{"v5 no credentials", mqtt.V5, "", "", 0x87},
		{"v3 ok", mqtt.V311, "dev-1", key, 0},
		{"v5 ok", mqtt.V5, "dev-1", key, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := dialRaw(t, g, tc.version)
			c := &mqtt.Connect{ClientID: "auth-" + tc.name[:2], CleanStart: true}
			if tc.user != "" {
				c.Username, c.HasUsername, c.Password, c.HasPassword = tc.user, true, []byte(tc.pass), true
			}
			r.connect(c, mqtt.Properties{})
			if ack := r.expect(mqtt.CONNACK); ack.Reason != tc.wantCode {
				t.Fatalf("CONNACK 0x%02x, want 0x%02x", ack.Reason, tc.wantCode)
			}
			if tc.wantCode != 0 {
				r.closed(5 * time.Second)
			}
		})
	}

	t.Run("client ids are scoped by principal", func(t *testing.T) {
		as := func(user, pass string) *paho.Connect {
			return &paho.Connect{ClientID: "same", CleanStart: true, KeepAlive: 30,
				Username: user, UsernameFlag: true, Password: []byte(pass), PasswordFlag: true}
		}
		first := connectV5(t, g, as("dev-1", key))
		connectV5(t, g, as("dev-2", key2))
		select {
		case d := <-first.gone:
			t.Fatalf("another principal took the client id over: 0x%02x", d.ReasonCode)
		case <-time.After(300 * time.Millisecond):
		}
		connectV5(t, g, as("dev-1", key))
		first.takenOver(t, "not taken over by the same principal")
	})

	t.Run("permissions", func(t *testing.T) {
		sub := workerSub(t, nc, ">")
		c := connectV5(t, g, &paho.Connect{ClientID: "perm", CleanStart: true, KeepAlive: 30,
			Username: "dev-1", UsernameFlag: true, Password: []byte(key), PasswordFlag: true})
		sa := c.subscribe(t, paho.SubscribeOptions{Topic: "cmd/dev-1/#", QoS: 1}, paho.SubscribeOptions{Topic: "other/#"})
		if sa.Reasons[0] != 1 || sa.Reasons[1] != 0x87 {
			t.Fatalf("SUBACK %v", sa.Reasons)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		r, err := c.Publish(ctx, &paho.Publish{Topic: "elsewhere", QoS: 1, Payload: []byte("x")})
		if err == nil || r == nil || r.ReasonCode != 0x87 {
			t.Fatalf("PUBACK %+v, %v; want 0x87", r, err)
		}
		c.publish(t, &paho.Publish{Topic: "dev/dev-1/t", QoS: 1, Payload: []byte("ok")})
		for {
			m := nextMsg(t, sub)
			if m.Subject == "elsewhere" {
				t.Fatal("denied publish reached NATS")
			}
			if m.Subject == "dev.dev-1.t" {
				if m.Header.Get("Wsgate-Principal") != "dev-1" {
					t.Fatalf("principal %q", m.Header.Get("Wsgate-Principal"))
				}
				break
			}
		}
	})
}

// TestMQTTNode runs the mqtt.js tests in e2e/js against a gateway.
func TestMQTTNode(t *testing.T) {
	node, dir := nodeModules(t, "js", "mqtt")
	g := startGateway(t, gwOpts{})
	nc := natsConn(t, g.NATSURL)
	echo, err := nc.Subscribe("js.mqtt.echo", func(m *nats.Msg) { _ = m.Respond(append([]byte("echo:"), m.Data...)) })
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Unsubscribe()
	fwd, err := nc.Subscribe("js.mqtt.in.*", func(m *nats.Msg) {
		_ = nc.Publish("js.mqtt.out."+m.Subject[len("js.mqtt.in."):], m.Data)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer fwd.Unsubscribe()
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, "--test", "mqtt.test.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "WSGATE_URL="+g.WS(""))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node --test e2e/js/mqtt.test.mjs: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}

// TestMQTTRetained stores, replaces, clears and delivers retained messages
// from the JetStream bucket, across a gateway restart.
func TestMQTTRetained(t *testing.T) {
	dir := t.TempDir()
	g := startGateway(t, gwOpts{DataDir: dir})

	pub := connectV5(t, g, nil)
	if p := pub.Connack.Properties; !p.RetainAvailable {
		t.Fatal("Retain Available 0 with JetStream")
	}
	pub.publish(t, &paho.Publish{Topic: "ret/a", Retain: true, QoS: 1, Payload: []byte("first"),
		Properties: &paho.PublishProperties{User: paho.UserProperties{{Key: "k", Value: "v"}}}})
	pub.publish(t, &paho.Publish{Topic: "ret/a", Retain: true, QoS: 1, Payload: []byte("second")})
	pub.publish(t, &paho.Publish{Topic: "ret/b", Retain: true, QoS: 1, Payload: []byte("gone")})
	pub.publish(t, &paho.Publish{Topic: "ret/b", Retain: true, QoS: 1, Payload: nil}) // clears
	pub.publish(t, &paho.Publish{Topic: "ret", Retain: true, Payload: []byte("parent")})
	// QoS 0 has no acknowledgement: a QoS 1 publish after it is the barrier
	// (a connection's messages are handled in order), so that the subscriber
	// below comes after "parent" and gets it retained, not live.
	pub.publish(t, &paho.Publish{Topic: "other/barrier", QoS: 1, Payload: []byte("x")})

	sub := connectV5(t, g, nil)
	sub.subscribe(t, paho.SubscribeOptions{Topic: "ret/#", QoS: 1})
	got := map[string]string{}
	for range 2 {
		p := sub.next(t)
		if !p.Retain {
			t.Fatalf("%s: RETAIN not set", p.Topic)
		}
		got[p.Topic] = string(p.Payload)
	}
	if got["ret/a"] != "second" || got["ret"] != "parent" {
		t.Fatalf("retained %v", got)
	}
	sub.none(t, 200*time.Millisecond)

	// Retain Handling 2: none on subscribe.
	other := connectV5(t, g, nil)
	other.subscribe(t, paho.SubscribeOptions{Topic: "ret/a", RetainHandling: 2})
	other.none(t, 200*time.Millisecond)

	// A 3.1.1 client gets them too, after a restart of the gateway.
	g.stop()
	g = startGateway(t, gwOpts{DataDir: dir})
	opts := mqtt3.NewClientOptions().AddBroker(g.WS("/mqtt")).SetClientID("ret-v3").SetProtocolVersion(4).SetAutoReconnect(false)
	c3 := mqtt3.NewClient(opts)
	if tok := c3.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	defer c3.Disconnect(0)
	msgs := make(chan mqtt3.Message, 4)
	if tok := c3.Subscribe("ret/a", 0, func(_ mqtt3.Client, m mqtt3.Message) { msgs <- m }); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	select {
	case m := <-msgs:
		if string(m.Payload()) != "second" || !m.Retained() {
			t.Fatalf("got %q retained %v", m.Payload(), m.Retained())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no retained message after restart")
	}
}

// TestMQTTTakeoverAcrossGateways connects one client id to two gateways on
// one NATS: the first connection is taken over.
func TestMQTTTakeoverAcrossGateways(t *testing.T) {
	g1 := startGateway(t, gwOpts{})
	g2 := startGateway(t, gwOpts{NATSURL: g1.NATSURL})
	first := connectV5(t, g1, &paho.Connect{ClientID: "roaming", CleanStart: true, KeepAlive: 30})
	second := connectV5(t, g2, &paho.Connect{ClientID: "roaming", CleanStart: true, KeepAlive: 30})
	first.takenOver(t, "first connection not taken over")
	select {
	case d := <-second.gone:
		t.Fatalf("second connection closed too: 0x%02x", d.ReasonCode)
	case <-time.After(300 * time.Millisecond):
	}
	// A third, back on the first gateway, takes over from the second.
	connectV5(t, g1, &paho.Connect{ClientID: "roaming", CleanStart: true, KeepAlive: 30})
	second.takenOver(t, "second connection not taken over")
}

// TestMQTTRetainedAcrossGateways sets a retained message through one
// gateway and clears it through another on the same NATS: the bucket is
// shared, so each gateway's new subscribers see the other's change.
func TestMQTTRetainedAcrossGateways(t *testing.T) {
	g1 := startGateway(t, gwOpts{DataDir: t.TempDir()}) // embedded NATS with JetStream
	g2 := startGateway(t, gwOpts{NATSURL: g1.NATSURL})

	pub1 := connectV5(t, g1, nil)
	pub1.publish(t, &paho.Publish{Topic: "xgw/ret", Retain: true, QoS: 1, Payload: []byte("from g1")})

	sub2 := connectV5(t, g2, nil)
	if !sub2.Connack.Properties.RetainAvailable {
		t.Fatal("g2: Retain Available 0 on a NATS with JetStream")
	}
	sub2.subscribe(t, paho.SubscribeOptions{Topic: "xgw/#", QoS: 1})
	p := sub2.next(t)
	if p.Topic != "xgw/ret" || string(p.Payload) != "from g1" || !p.Retain {
		t.Fatalf("g2 got %s %q retain %v, want xgw/ret \"from g1\" retained", p.Topic, p.Payload, p.Retain)
	}
	sub2.none(t, 200*time.Millisecond)

	// Cleared through g2: a later subscriber on g1 gets nothing.
	pub2 := connectV5(t, g2, nil)
	pub2.publish(t, &paho.Publish{Topic: "xgw/ret", Retain: true, QoS: 1, Payload: nil})
	if p := sub2.next(t); p.Topic != "xgw/ret" || len(p.Payload) != 0 {
		t.Fatalf("g2 live clear: got %s %q", p.Topic, p.Payload)
	}
	sub1 := connectV5(t, g1, nil)
	sub1.subscribe(t, paho.SubscribeOptions{Topic: "xgw/#", QoS: 1})
	sub1.none(t, 500*time.Millisecond)
}

// TestMQTTPersistentSession keeps QoS 1 messages for a disconnected
// persistent session, redelivers unacknowledged ones with DUP, and drops
// the session on a clean start.
func TestMQTTPersistentSession(t *testing.T) {
	g := startGateway(t, gwOpts{})
	var expiry mqtt.Properties
	expiry.Has = mqtt.HasSessionExpiry
	expiry.SessionExpiry = 300

	r := dialRaw(t, g, mqtt.V5)
	r.connect(&mqtt.Connect{ClientID: "keeper"}, expiry)
	if ack := r.expect(mqtt.CONNACK); ack.Reason != 0 || ack.SessionPresent {
		t.Fatalf("CONNACK 0x%02x present %v", ack.Reason, ack.SessionPresent)
	}
	r.send(&mqtt.Packet{Type: mqtt.SUBSCRIBE, ID: 1, Filters: []mqtt.Filter{{Filter: "ps/#", QoS: 1}}})
	r.expect(mqtt.SUBACK)

	pub := connectV5(t, g, nil)
	// Connected: a QoS 1 message arrives once.
	pub.publish(t, &paho.Publish{Topic: "ps/live", QoS: 1, Payload: []byte("live")})
	p := r.expect(mqtt.PUBLISH)
	if p.Topic != "ps/live" || p.QoS != 1 || p.Dup {
		t.Fatalf("got %s QoS %d dup %v", p.Topic, p.QoS, p.Dup)
	}
	r.send(&mqtt.Packet{Type: mqtt.PUBACK, ID: p.ID})
	if extra, err := r.read(300 * time.Millisecond); err == nil {
		t.Fatalf("second copy: %s", extra.Topic)
	}
	// Not acknowledged, then the connection drops.
	pub.publish(t, &paho.Publish{Topic: "ps/unacked", QoS: 1, Payload: []byte("u")})
	if p := r.expect(mqtt.PUBLISH); p.Topic != "ps/unacked" {
		t.Fatalf("got %s", p.Topic)
	}
	r.ws.UnderlyingConn().Close()
	// Offline: stored. (What the client had not acknowledged goes back to
	// JetStream 250ms after the close; reconnecting later keeps the order.)
	time.Sleep(500 * time.Millisecond)
	for i := range 3 {
		pub.publish(t, &paho.Publish{Topic: "ps/off", QoS: 1, Payload: []byte{byte('0' + i)}})
	}

	r = dialRaw(t, g, mqtt.V5)
	r.connect(&mqtt.Connect{ClientID: "keeper"}, expiry)
	if ack := r.expect(mqtt.CONNACK); !ack.SessionPresent {
		t.Fatal("session not present")
	}
	var got []string
	for range 4 {
		p := r.expect(mqtt.PUBLISH)
		got = append(got, fmt.Sprintf("%s:%s:%v", p.Topic, p.Payload, p.Dup))
		r.send(&mqtt.Packet{Type: mqtt.PUBACK, ID: p.ID})
	}
	want := []string{"ps/unacked:u:true", "ps/off:0:false", "ps/off:1:false", "ps/off:2:false"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	r.send(&mqtt.Packet{Type: mqtt.DISCONNECT})
	r.closed(5 * time.Second)

	// A clean start drops the session.
	r = dialRaw(t, g, mqtt.V5)
	r.connect(&mqtt.Connect{ClientID: "keeper", CleanStart: true}, mqtt.Properties{})
	if ack := r.expect(mqtt.CONNACK); ack.SessionPresent {
		t.Fatal("session present after clean start")
	}
	pub.publish(t, &paho.Publish{Topic: "ps/after", QoS: 1, Payload: []byte("x")})
	if p, err := r.read(300 * time.Millisecond); err == nil {
		t.Fatalf("delivered after clean start: %s", p.Topic)
	}

	// 3.1.1 Clean Session 0 with paho.mqtt.golang.
	opts := mqtt3.NewClientOptions().AddBroker(g.WS("/mqtt")).SetClientID("keeper3").SetProtocolVersion(4).
		SetCleanSession(false).SetAutoReconnect(false)
	msgs := make(chan mqtt3.Message, 10)
	opts.SetDefaultPublishHandler(func(_ mqtt3.Client, m mqtt3.Message) { msgs <- m })
	c3 := mqtt3.NewClient(opts)
	if tok := c3.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	if tok := c3.Subscribe("ps3/t", 1, nil); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	c3.Disconnect(100)
	pub.publish(t, &paho.Publish{Topic: "ps3/t", QoS: 1, Payload: []byte("while away")})
	c3 = mqtt3.NewClient(opts)
	tok := c3.Connect()
	if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("reconnect: %v", tok.Error())
	}
	defer c3.Disconnect(0)
	if !tok.(*mqtt3.ConnectToken).SessionPresent() {
		t.Fatal("3.1.1 session not present")
	}
	select {
	case m := <-msgs:
		if string(m.Payload()) != "while away" {
			t.Fatalf("got %q", m.Payload())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("stored message not delivered")
	}
}
