package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/nats-io/nats.go"
)

// getInfo does GET /@connections/{id} and decodes the answer.
func getInfo(t *testing.T, g *gateway, id string) connInfo {
	t.Helper()
	status, b := g.httpDo(t, "GET", "/@connections/"+id, "")
	if status != http.StatusOK {
		t.Fatalf("GET %s: HTTP %d %s", id, status, b)
	}
	var info connInfo
	if err := json.Unmarshal(b, &info); err != nil {
		t.Fatalf("GET %s: %q: %v", id, b, err)
	}
	return info
}

// expectGone checks that the gateway answers 410 for every verb on id.
// For a connection that has just closed, wait for its disconnect event
// first: the gateway drops the connection's control subscription before it
// publishes the event, on the same NATS connection. (Before that, a request
// can fall into the moment between the session ending and NATS learning of
// it, and wait out the request timeout: see the report on the control
// subscription.)
func expectGone(t *testing.T, g *gateway, id string) {
	t.Helper()
	for _, verb := range []string{"GET", "POST", "DELETE"} {
		if status, b := g.httpDo(t, verb, "/@connections/"+id, "x"); status != http.StatusGone {
			t.Errorf("%s %s: HTTP %d %s, want 410", verb, id, status, b)
		}
	}
}

// checkInfo checks what a gateway says of a connection it holds.
func checkInfo(t *testing.T, info connInfo, id string) {
	t.Helper()
	if info.ConnectionID != id || info.Protocol != "json" {
		t.Errorf("info %+v", info)
	}
	if info.ConnectedAt.IsZero() || time.Since(info.ConnectedAt) > time.Minute || info.LastActiveAt.Before(info.ConnectedAt) {
		t.Errorf("times %v %v", info.ConnectedAt, info.LastActiveAt)
	}
	if info.Identity.SourceIP != "127.0.0.1" || !strings.HasPrefix(info.Identity.UserAgent, "e2e/") {
		t.Errorf("identity %+v", info.Identity)
	}
}

// TestConnectionAPI drives POST, GET and DELETE /@connections/{id}.
func TestConnectionAPI(t *testing.T) {
	g := startGateway(t, gwOpts{})
	nc := natsConn(t, g.NATSURL)
	disconnects, _ := nc.SubscribeSync("wsgate.events.disconnect")
	nc.Flush()
	c, id := dialID(t, g, nc, "/")

	t.Run("POST delivers the body", func(t *testing.T) {
		c := c.with(t)
		for _, body := range []string{`{"hello":1}`, `plain text`} {
			status, b := g.httpDo(t, "POST", "/@connections/"+id, body)
			if status != http.StatusOK {
				t.Fatalf("HTTP %d %s", status, b)
			}
			if got := c.read(10 * time.Second); string(got) != body {
				t.Errorf("client got %q, want %q", got, body)
			}
		}
	})

	t.Run("GET describes the connection", func(t *testing.T) {
		c := c.with(t)
		c.send(`{"action":"publish","subject":"x.y","data":1}`)
		var info connInfo
		eventually(t, 5*time.Second, func() error {
			info = getInfo(t, g, id)
			// The counters move just after a frame is read or written.
			if info.MessagesIn < 1 || info.MessagesOut < 2 {
				return fmt.Errorf("messagesIn %d, messagesOut %d", info.MessagesIn, info.MessagesOut)
			}
			return nil
		})
		checkInfo(t, info, id)
		if info.Gateway != g.ID {
			t.Errorf("info %+v (gateway %s)", info, g.ID)
		}
	})

	t.Run("DELETE closes it", func(t *testing.T) {
		c := c.with(t)
		status, b := g.httpDo(t, "DELETE", "/@connections/"+id, "")
		if status != http.StatusNoContent {
			t.Fatalf("HTTP %d %s", status, b)
		}
		if ce := c.closeErr(10 * time.Second); ce.Code != websocket.CloseNormalClosure {
			t.Errorf("close %d %q", ce.Code, ce.Text)
		}
		nextEvent(t, disconnects, id)
		expectGone(t, g, id)
	})

	t.Run("DELETE with a code and reason", func(t *testing.T) {
		c, id := dialID(t, g, nc, "/")
		status, b := g.httpDo(t, "DELETE", "/@connections/"+id+"?code=4002&reason=kicked", "")
		if status != http.StatusNoContent {
			t.Fatalf("HTTP %d %s", status, b)
		}
		if ce := c.closeErr(10 * time.Second); ce.Code != 4002 || ce.Text != "kicked" {
			t.Errorf("close %d %q", ce.Code, ce.Text)
		}
	})

	t.Run("DELETE with a bad code", func(t *testing.T) {
		c, id := dialID(t, g, nc, "/")
		for _, q := range []string{"?code=1001", "?code=999", "?code=5000", "?code=x"} {
			if status, b := g.httpDo(t, "DELETE", "/@connections/"+id+q, ""); status != http.StatusBadRequest {
				t.Errorf("%s: HTTP %d %s", q, status, b)
			}
		}
		c.send(`{"nope`)
		c.expect("error") // still open
	})

	t.Run("unknown id is gone", func(t *testing.T) {
		expectGone(t, g, "AAAAAAAAAAAAAAAA")
	})

	t.Run("invalid ids are refused", func(t *testing.T) {
		for _, bad := range []string{"a.b", "*", ">", "a%20b", "a%2Eb", "%00", "%C3%A9", strings.Repeat("a", 65)} {
			for _, verb := range []string{"GET", "POST", "DELETE"} {
				if status, b := g.httpDo(t, verb, "/@connections/"+bad, "x"); status != http.StatusBadRequest {
					t.Errorf("%s %q: HTTP %d %s", verb, bad, status, b)
				}
			}
		}
	})

	t.Run("over NATS", func(t *testing.T) {
		c, id := dialID(t, g, nc, "/")
		r, err := nc.Request("wsgate.conn."+id+".info", nil, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		var info connInfo
		if err := json.Unmarshal(r.Data, &info); err != nil {
			t.Fatalf("%q: %v", r.Data, err)
		}
		checkInfo(t, info, id)

		r, err = nc.Request("wsgate.conn."+id+".send", []byte(`{"pushed":true}`), 5*time.Second)
		if err != nil || string(r.Data) != `{"ok":true}` {
			t.Fatalf("send: %v %v", err, r)
		}
		if got := c.read(10 * time.Second); string(got) != `{"pushed":true}` {
			t.Errorf("client got %q", got)
		}
		// A plain publish (no reply wanted) works too.
		nc.Publish("wsgate.conn."+id+".send", []byte(`"fire and forget"`))
		if got := c.read(10 * time.Second); string(got) != `"fire and forget"` {
			t.Errorf("client got %q", got)
		}

		r, err = nc.Request("wsgate.conn."+id+".close", []byte(`{"code":4003,"reason":"over nats"}`), 5*time.Second)
		if err != nil || string(r.Data) != `{"ok":true}` {
			t.Fatalf("close: %v %v", err, r)
		}
		if ce := c.closeErr(10 * time.Second); ce.Code != 4003 || ce.Text != "over nats" {
			t.Errorf("close %d %q", ce.Code, ce.Text)
		}
		nextEvent(t, disconnects, id)
		// Right after the end the gateway still answers "gone" for a
		// moment (so a request routed before the end does not time out);
		// then nobody answers.
		for _, verb := range []string{"info", "send", "close"} {
			r, err := nc.Request("wsgate.conn."+id+"."+verb, nil, 5*time.Second)
			if err != nats.ErrNoResponders && (err != nil || string(r.Data) != `{"error":"gone"}`) {
				t.Errorf("%s after close: %v %v, want gone or no responders", verb, err, r)
			}
		}
		eventually(t, 10*time.Second, func() error {
			if _, err := nc.Request("wsgate.conn."+id+".info", nil, 5*time.Second); err != nats.ErrNoResponders {
				return fmt.Errorf("info: %v, want no responders", err)
			}
			return nil
		})
	})
}

// TestConnectionAPIAcrossGateways runs two gateways on one NATS: the
// connection API of either reaches a client on the other, and messages flow
// between their clients.
func TestConnectionAPIAcrossGateways(t *testing.T) {
	a := startGateway(t, gwOpts{})
	b := startGateway(t, gwOpts{NATSURL: a.NATSURL})
	if a.ID == b.ID || a.ID == "" {
		t.Fatalf("gateway ids %q %q", a.ID, b.ID)
	}
	nc := natsConn(t, a.NATSURL)
	disconnects, _ := nc.SubscribeSync("wsgate.events.disconnect")
	nc.Flush()
	onB, id := dialID(t, b, nc, "/")

	t.Run("POST through A", func(t *testing.T) {
		onB := onB.with(t)
		status, body := a.httpDo(t, "POST", "/@connections/"+id, `{"via":"a"}`)
		if status != http.StatusOK {
			t.Fatalf("HTTP %d %s", status, body)
		}
		if got := onB.read(10 * time.Second); string(got) != `{"via":"a"}` {
			t.Errorf("client got %q", got)
		}
	})

	t.Run("GET through A", func(t *testing.T) {
		info := getInfo(t, a, id)
		checkInfo(t, info, id)
		if info.Gateway != b.ID {
			t.Errorf("info says gateway %q, want B %q", info.Gateway, b.ID)
		}
	})

	t.Run("a client on A reaches a subscriber on B", func(t *testing.T) {
		onB := onB.with(t)
		onB.subscribe("cross.>")
		builtinBarrier(t, nc, onB)
		onA := dial(t, a.WS("/"), nil)
		onA.send(`{"action":"publish","subject":"cross.talk","data":{"from":"a"}}`)
		f := onB.expect("message")
		if f.Subject != "cross.talk" || string(f.Data) != `{"from":"a"}` {
			t.Errorf("%+v", f)
		}
		// And back: a request from B to a worker, a push from A to B.
		nc.Subscribe("cross.svc", func(m *nats.Msg) { m.Respond([]byte(`"pong"`)) })
		nc.Flush()
		onA.send(`{"action":"request","subject":"cross.svc","data":"ping"}`)
		if f := onA.expect("reply"); string(f.Data) != `"pong"` {
			t.Errorf("%+v", f)
		}
		f = onB.expect("message") // B is subscribed to cross.> and sees the request
		if f.Subject != "cross.svc" {
			t.Errorf("%+v", f)
		}
	})

	t.Run("DELETE through A", func(t *testing.T) {
		onB := onB.with(t)
		status, body := a.httpDo(t, "DELETE", "/@connections/"+id+"?code=4004&reason=from%20a", "")
		if status != http.StatusNoContent {
			t.Fatalf("HTTP %d %s", status, body)
		}
		if ce := onB.closeErr(10 * time.Second); ce.Code != 4004 || ce.Text != "from a" {
			t.Errorf("close %d %q", ce.Code, ce.Text)
		}
		_, info := nextEvent(t, disconnects, id)
		if info.Gateway != b.ID || info.ClosedBy != "worker" || info.CloseCode != 4004 {
			t.Errorf("disconnect event %+v", info)
		}
		expectGone(t, a, id)
		expectGone(t, b, id)
	})
}
