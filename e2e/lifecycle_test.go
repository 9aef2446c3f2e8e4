package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/nats-io/nats.go"
)

// TestLifecycleEvents checks wsgate.events.connect and .disconnect for each
// way a connection can end.
func TestLifecycleEvents(t *testing.T) {
	g := startGateway(t, gwOpts{})
	nc := natsConn(t, g.NATSURL)
	connects, _ := nc.SubscribeSync("wsgate.events.connect")
	disconnects, _ := nc.SubscribeSync("wsgate.events.disconnect")
	nc.Flush()

	t.Run("connect", func(t *testing.T) {
		_, id := dialID(t, g, nc, "/ws")
		m, info := nextEvent(t, connects, id)
		if m.Header.Get("Wsgate-Event") != "CONNECT" || m.Header.Get("Wsgate-Protocol") != "json" || m.Header.Get("Wsgate-Gateway") != g.ID {
			t.Errorf("headers %v", m.Header)
		}
		if info.Protocol != "json" || info.Gateway != g.ID || info.Identity.SourceIP != "127.0.0.1" ||
			info.ConnectedAt.IsZero() || info.CloseCode != 0 || info.ClosedBy != "" {
			t.Errorf("event %s", m.Data)
		}
	})

	for _, tc := range []struct {
		name     string
		end      func(t *testing.T, c *client, id string)
		code     int
		reason   string
		closedBy string // who, or alternatives: "client|error"
	}{
		{"client close frame", func(t *testing.T, c *client, id string) {
			c.Conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(4000, "bye"), time.Now().Add(time.Second))
		}, 4000, "bye", "client"},
		{"client normal close", func(t *testing.T, c *client, id string) {
			c.Conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
		}, 1000, "", "client"},
		{"client drops TCP", func(t *testing.T, c *client, id string) {
			c.Conn.NetConn().Close()
		}, 1006, "", "client|error"},
		{"worker close", func(t *testing.T, c *client, id string) {
			if _, err := nc.Request("wsgate.conn."+id+".close", []byte(`{"code":4100,"reason":"kick"}`), 5*time.Second); err != nil {
				t.Fatal(err)
			}
			c.closeErr(10 * time.Second) // answers the close frame
		}, 4100, "kick", "worker"},
		{"HTTP delete", func(t *testing.T, c *client, id string) {
			if status, b := g.httpDo(t, "DELETE", "/@connections/"+id, ""); status != http.StatusNoContent {
				t.Fatalf("HTTP %d %s", status, b)
			}
			c.closeErr(10 * time.Second)
		}, 1000, "", "worker"},
	} {
		t.Run("disconnect: "+tc.name, func(t *testing.T) {
			c, id := dialID(t, g, nc, "/")
			c.subscribe("life.a")
			c.subscribe("life.b")
			tc.end(t, c, id)
			m, info := nextEvent(t, disconnects, id)
			if m.Header.Get("Wsgate-Event") != "DISCONNECT" || m.Header.Get("Wsgate-Close-Code") != fmt.Sprint(tc.code) {
				t.Errorf("headers %v", m.Header)
			}
			byOK := false
			for by := range strings.SplitSeq(tc.closedBy, "|") {
				byOK = byOK || info.ClosedBy == by
			}
			if info.CloseCode != tc.code || !byOK || (tc.reason != "" && info.CloseReason != tc.reason) {
				t.Errorf("event %s, want code %d reason %q by %s", m.Data, tc.code, tc.reason, tc.closedBy)
			}
			if info.Subs != 2 {
				t.Errorf("event %s: %d subscriptions, want the 2 it held", m.Data, info.Subs)
			}
		})
	}
}

// TestOversizeMessage closes a connection that sends more than
// max_message_bytes with 1009, in one frame or in fragments, and nobody
// else. Invalid UTF-8 in a text message closes with 1007 the same way.
func TestOversizeMessage(t *testing.T) {
	g := startGateway(t, gwOpts{Config: "gateway:\n  max_message_bytes: 1024\n"})
	nc := natsConn(t, g.NATSURL)
	disconnects, _ := nc.SubscribeSync("wsgate.events.disconnect")
	nc.Flush()
	echoWorker(t, nc, "svc.echo")
	other := dial(t, g.WS("/"), nil)
	// A small write buffer makes gorilla send a long message as fragments.
	fragmenting := &websocket.Dialer{HandshakeTimeout: 10 * time.Second, WriteBufferSize: 256}
	request := func(n int) string {
		return `{"action":"request","subject":"svc.echo","data":"` + strings.Repeat("x", n) + `"}`
	}

	t.Run("under the limit, in fragments", func(t *testing.T) {
		c := dialWith(t, fragmenting, g.WS("/"), nil)
		c.send(request(900))
		if f := c.expect("reply"); len(f.Data) != 902 {
			t.Errorf("reply of %d bytes", len(f.Data))
		}
	})

	for _, tc := range []struct {
		name string
		d    *websocket.Dialer
		typ  int
		msg  string
		code int
	}{
		{"one frame over the limit", websocket.DefaultDialer, websocket.TextMessage, request(2000), websocket.CloseMessageTooBig},
		{"fragments over the limit", fragmenting, websocket.TextMessage, request(1500), websocket.CloseMessageTooBig},
		{"binary over the limit", websocket.DefaultDialer, websocket.BinaryMessage, strings.Repeat("\x00", 1025), websocket.CloseMessageTooBig},
		{"invalid UTF-8 text", websocket.DefaultDialer, websocket.TextMessage, "{\"action\":\"publish\",\"subject\":\"a\",\"data\":\"\xff\"}", websocket.CloseInvalidFramePayloadData},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, id := dialIDWith(t, tc.d, g, nc, "/")
			c.send(request(100)) // usable before
			c.expect("reply")
			// The gateway may close before the last fragments are written:
			// a failed write is fine, the close frame must still arrive.
			if err := c.Conn.WriteMessage(tc.typ, []byte(tc.msg)); err != nil {
				t.Logf("write: %v", err)
			}
			if ce := c.closeErr(10 * time.Second); ce.Code != tc.code {
				t.Errorf("close %d %q, want %d", ce.Code, ce.Text, tc.code)
			}
			if _, info := nextEvent(t, disconnects, id); info.CloseCode != tc.code || info.ClosedBy != "server" {
				t.Errorf("disconnect event %+v", info)
			}
		})
	}

	t.Run("others are unaffected", func(t *testing.T) {
		other.send(request(900))
		if f := other.expect("reply"); len(f.Data) != 902 {
			t.Errorf("reply of %d bytes", len(f.Data))
		}
		if n := g.metric(t, "wsgate_protocol_errors_total", map[string]string{"protocol": "json"}); n != 4 {
			t.Errorf("protocol errors: %v, want one per bad message", n)
		}
	})

	t.Run("the connection API has the same limit", func(t *testing.T) {
		id := idFromPublish(t, nc, other)
		status, _ := g.httpDo(t, "POST", "/@connections/"+id, strings.Repeat("y", 2000))
		if status != http.StatusRequestEntityTooLarge {
			t.Errorf("POST 2000 bytes: HTTP %d", status)
		}
		if status, _ := g.httpDo(t, "POST", "/@connections/"+id, strings.Repeat("y", 1000)); status != http.StatusOK {
			t.Errorf("POST 1000 bytes: HTTP %d", status)
		}
		if b := other.read(10 * time.Second); len(b) != 1000 {
			t.Errorf("client got %d bytes", len(b))
		}
	})
}

// idFromPublish learns a client's connection id from the
// Wsgate-Connection-Id header of a message it publishes (built-in routes).
func idFromPublish(t *testing.T, nc *nats.Conn, c *client) string {
	t.Helper()
	sub, _ := nc.SubscribeSync("e2e.whoami")
	defer sub.Unsubscribe()
	nc.Flush()
	c.send(`{"action":"publish","subject":"e2e.whoami","data":1}`)
	return nextMsg(t, sub).Header.Get("Wsgate-Connection-Id")
}

// TestSlowConsumer disconnects a client that stops reading, and only it: a
// client subscribed to the same subject gets every message, in order.
func TestSlowConsumer(t *testing.T) {
	g := startGateway(t, gwOpts{Config: "gateway:\n  max_queued_bytes: 65536\n"})
	nc := natsConn(t, g.NATSURL)
	disconnects, _ := nc.SubscribeSync("wsgate.events.disconnect")
	nc.Flush()

	fast := dial(t, g.WS("/"), nil)
	fast.subscribe("flood")
	builtinBarrier(t, nc, fast)

	// The slow client's socket buffers little, and it never reads after
	// subscribing.
	small := &websocket.Dialer{
		HandshakeTimeout: 10 * time.Second,
		NetDial: func(network, addr string) (net.Conn, error) {
			c, err := net.Dial(network, addr)
			if err == nil {
				_ = c.(*net.TCPConn).SetReadBuffer(4096)
			}
			return c, err
		},
	}
	slow, slowID := dialIDWith(t, small, g, nc, "/")
	slow.subscribe("flood")
	builtinBarrier(t, nc, slow)

	fastIn := fast.readAll()
	pad := strings.Repeat("p", 1000)
	// The worker publishes in batches and waits until fast has read each
	// one. The gateway counts a batch against fast's queue until its writer
	// has finished the write, which may be a little after fast has read it:
	// two batches (about 2 x 26 KB) must fit in the 64 KiB queue.
	const batch, limit = 24, 40000
	next := 0 // the next sequence number fast must get
	sent := 0
	var slowGone *connInfo
	deadline := time.Now().Add(60 * time.Second)
	for rounds := 0; slowGone == nil || rounds < 3; {
		if sent >= limit || time.Now().After(deadline) {
			t.Fatalf("slow client not disconnected after %d messages (%d KiB)", sent, sent)
		}
		for range batch {
			nc.Publish("flood", fmt.Appendf(nil, `{"seq":%d,"pad":%q}`, sent, pad))
			sent++
		}
		nc.Flush()
		for next < sent {
			var r readResult
			select {
			case r = <-fastIn:
			case <-time.After(10 * time.Second):
				t.Fatalf("fast client got %d of %d messages", next, sent)
			}
			if r.err != nil {
				t.Fatalf("fast client: %v after %d messages", r.err, next)
			}
			var f struct {
				Type, Subject string
				Data          struct{ Seq int }
			}
			if err := json.Unmarshal(r.data, &f); err != nil || f.Type != "message" || f.Subject != "flood" {
				t.Fatalf("fast client got %.100q", r.data)
			}
			if f.Data.Seq != next {
				t.Fatalf("fast client got seq %d, want %d", f.Data.Seq, next)
			}
			next++
		}
		if slowGone == nil {
			for {
				m, err := disconnects.NextMsg(time.Millisecond)
				if err != nil {
					break
				}
				var info connInfo
				json.Unmarshal(m.Data, &info)
				if info.ConnectionID == slowID {
					slowGone = &info
				}
			}
		} else {
			rounds++ // fast keeps getting everything after
		}
	}
	t.Logf("slow client disconnected after %d messages", sent)
	if slowGone.CloseCode != websocket.ClosePolicyViolation || slowGone.ClosedBy != "server" || !strings.Contains(slowGone.CloseReason, "slow") {
		t.Errorf("slow client's disconnect: %+v", *slowGone)
	}
	if n := g.metric(t, "wsgate_slow_consumer_disconnects_total", nil); n != 1 {
		t.Errorf("slow consumer disconnects: %v", n)
	}
}

// TestGracefulShutdown: SIGTERM closes every connection with 1001 and a
// reason, and the process exits 0.
func TestGracefulShutdown(t *testing.T) {
	g := startGateway(t, gwOpts{})
	var ins []<-chan readResult
	for range 3 {
		c := dial(t, g.WS("/"), nil)
		c.subscribe("x")
		ins = append(ins, c.readAll())
	}
	g.stop() // checks the exit code
	for i, in := range ins {
		var err error
		for r := range in {
			err = r.err
		}
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != websocket.CloseGoingAway || ce.Text == "" {
			t.Errorf("client %d ended with %v, want 1001 and a reason", i, err)
		}
	}
	if !g.hasLog("stopped", nil) {
		t.Errorf("no stopped log line")
	}
}

// TestProtocolSelection covers subprotocol negotiation, paths and plain
// HTTP on WebSocket paths, and the health endpoints.
func TestProtocolSelection(t *testing.T) {
	g := startGateway(t, gwOpts{})
	works := func(t *testing.T, c *websocket.Conn) {
		t.Helper()
		(&client{t: t, Conn: c}).send(`not json`)
		if f := (&client{t: t, Conn: c}).expect("error"); f.Error != "bad_json" {
			t.Errorf("%+v", f)
		}
	}
	for _, tc := range []struct {
		name   string
		path   string
		offer  []string
		want   string // echoed subprotocol
		status int    // non-zero: the dial fails with this status
	}{
		{"wsgate.json among others", "/", []string{"foo", "wsgate.json"}, "wsgate.json", 0},
		{"wsgate.json first", "/ws", []string{"wsgate.json", "bar"}, "wsgate.json", 0},
		{"wsgate.json on any path", "/some/where", []string{"wsgate.json"}, "wsgate.json", 0},
		{"none on /", "/", nil, "", 0},
		{"none on /ws", "/ws", nil, "", 0},
		{"unknown on /", "/", []string{"foo"}, "", http.StatusBadRequest},
		{"none on an unknown path", "/nope", nil, "", http.StatusNotFound},
		{"unknown on an unknown path", "/nope", []string{"foo"}, "", http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := &websocket.Dialer{Subprotocols: tc.offer, HandshakeTimeout: 10 * time.Second}
			c, resp, err := d.Dial(g.WS(tc.path), nil)
			if tc.status != 0 {
				if err == nil {
					c.Close()
					t.Fatal("upgraded")
				}
				if resp == nil || resp.StatusCode != tc.status {
					t.Fatalf("dial: %v %+v, want HTTP %d", err, resp, tc.status)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if c.Subprotocol() != tc.want {
				t.Errorf("subprotocol %q, want %q", c.Subprotocol(), tc.want)
			}
			if got := resp.Header.Values("Sec-Websocket-Protocol"); tc.want != "" && (len(got) != 1 || got[0] != tc.want) {
				t.Errorf("Sec-WebSocket-Protocol %q", got)
			}
			works(t, c)
		})
	}

	t.Run("plain HTTP", func(t *testing.T) {
		for _, tc := range []struct {
			path   string
			status int
			body   string
		}{
			{"/", http.StatusUpgradeRequired, "WebSocket"},
			{"/ws", http.StatusUpgradeRequired, "WebSocket"},
			{"/nope", http.StatusNotFound, ""},
			{"/healthz", http.StatusOK, "ok"},
			{"/readyz", http.StatusOK, "ready"},
		} {
			resp, err := http.Get(g.HTTP(tc.path))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status || !strings.Contains(string(b), tc.body) {
				t.Errorf("GET %s: HTTP %d %q, want %d", tc.path, resp.StatusCode, b, tc.status)
			}
			if tc.status == http.StatusUpgradeRequired && resp.Header.Get("Upgrade") != "websocket" {
				t.Errorf("GET %s: Upgrade %q", tc.path, resp.Header.Get("Upgrade"))
			}
		}
	})
}

// TestPing: the server pings an idle connection every ping_interval, and
// closes one that answers nothing for read_timeout.
func TestPing(t *testing.T) {
	g := startGateway(t, gwOpts{Config: "gateway:\n  ping_interval: 200ms\n  read_timeout: 700ms\n"})

	var pongs, ignored atomic.Int32
	start := time.Now() // before the connections start: a lower bound
	good := dial(t, g.WS("/"), nil)
	good.Conn.SetPingHandler(func(data string) error {
		pongs.Add(1)
		return good.Conn.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
	})
	mute := dial(t, g.WS("/"), nil)
	mute.Conn.SetPingHandler(func(string) error { ignored.Add(1); return nil })
	goodIn, muteIn := good.readAll(), mute.readAll()

	var muteErr error
	select {
	case r := <-muteIn:
		muteErr = r.err
	case <-time.After(10 * time.Second):
		t.Fatal("a client that never answers pings is still open after 10s")
	}
	var ce *websocket.CloseError
	if !errors.As(muteErr, &ce) || ce.Code != websocket.CloseGoingAway {
		t.Errorf("silent client ended with %v, want 1001", muteErr)
	}
	if d := time.Since(start); d < 700*time.Millisecond {
		t.Errorf("closed after %s, before read_timeout", d)
	}
	if ignored.Load() < 1 {
		t.Errorf("silent client saw %d pings", ignored.Load())
	}

	// The client that answers outlives several read timeouts.
	eventually(t, 10*time.Second, func() error {
		if time.Since(start) < 1500*time.Millisecond || pongs.Load() < 5 {
			return fmt.Errorf("%d pings after %s", pongs.Load(), time.Since(start))
		}
		return nil
	})
	good.send(`not json`)
	select {
	case r := <-goodIn:
		if r.err != nil || !strings.Contains(string(r.data), "bad_json") {
			t.Errorf("answering client: %q %v", r.data, r.err)
		}
	case <-time.After(10 * time.Second):
		t.Error("answering client got no answer")
	}
}

// TestMetrics checks the main Prometheus series.
func TestMetrics(t *testing.T) {
	g := startGateway(t, gwOpts{})
	jsonProto := map[string]string{"protocol": "json"}
	if n := g.metric(t, "wsgate_connections", jsonProto); n != 0 {
		t.Errorf("connections at start: %v", n)
	}
	var cs []*client
	for range 3 {
		c := dial(t, g.WS("/"), nil)
		for range 2 {
			c.send(`{"action":"nope"}`)
			c.expect("error")
		}
		cs = append(cs, c)
	}
	// Counters move just after the frames go out: poll.
	eventually(t, 10*time.Second, func() error {
		for _, m := range []struct {
			name   string
			labels map[string]string
			want   float64
		}{
			{"wsgate_connections", jsonProto, 3},
			{"wsgate_connects_total", map[string]string{"protocol": "json", "result": "ok"}, 3},
			{"wsgate_messages_in_total", jsonProto, 6},
			{"wsgate_messages_out_total", jsonProto, 6},
			{"wsgate_protocol_errors_total", map[string]string{"protocol": "json", "kind": "no_route"}, 6},
		} {
			if n := g.metric(t, m.name, m.labels); n != m.want {
				return fmt.Errorf("%s%v = %v, want %v", m.name, m.labels, n, m.want)
			}
		}
		return nil
	})
	cs[0].Conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(1000, ""), time.Now().Add(time.Second))
	eventually(t, 10*time.Second, func() error {
		if n := g.metric(t, "wsgate_connections", jsonProto); n != 2 {
			return fmt.Errorf("connections: %v", n)
		}
		if n := g.metric(t, "wsgate_disconnects_total", map[string]string{"protocol": "json", "by": "client"}); n != 1 {
			return fmt.Errorf("disconnects by client: %v", n)
		}
		return nil
	})
}
