package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/nats-io/nats.go"
)

// sioConfig is the gateway of the Socket.IO tests: routes for rooms, API
// keys for the Socket.IO clients and the JSON client.
func sioConfig(key, jsonKey string) string {
	return `
socketio:
  routes:
    join: {integration: join}
    leave: {integration: leave}
    say: {subject: "sio-room.{namespace}.{arg0}"}
auth:
  authenticators:
    - type: api_keys
      api_keys:
        keys:
          - id: sio-client
            hash: "` + keyHash(key) + `"
            permissions:
              publish: {allow: ["sio.>", "sio-room.>"]}
              subscribe: {allow: ["sio-room.>"]}
          - id: json-client
            hash: "` + keyHash(jsonKey) + `"
            permissions:
              publish: {allow: ["sio-room.>"]}
              subscribe: {allow: ["sio.>"]}
`
}

// sioWorkers are the NATS workers e2e/js/socketio.test.mjs calls.
func sioWorkers(t *testing.T, nc *nats.Conn) {
	t.Helper()
	reply := func(subject string, fn func(m *nats.Msg)) {
		sub, err := nc.Subscribe(subject, fn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { sub.Unsubscribe() })
	}
	reply("sio._.add", func(m *nats.Msg) {
		var args []float64
		_ = json.Unmarshal(m.Data, &args)
		sum := 0.0
		for _, a := range args {
			sum += a
		}
		m.Respond([]byte(strconv.FormatFloat(sum, 'f', -1, 64)))
	})
	reply("sio._.ask-me", func(m *nats.Msg) {
		id := m.Header.Get("Wsgate-Connection-Id")
		go func() {
			q := nats.NewMsg("wsgate.conn." + id + ".emit")
			q.Header.Set("Socketio-Event", "question")
			q.Data = []byte(`"why?"`)
			r, err := nc.RequestMsg(q, 5*time.Second)
			if err != nil {
				t.Errorf("emit to the client: %v", err)
				return
			}
			m.Respond(r.Data)
		}()
	})
	reply("sio._.vip", func(m *nats.Msg) {
		id := m.Header.Get("Wsgate-Connection-Id")
		go func() {
			r, err := nc.Request("wsgate.conn."+id+".join", []byte(`{"room":"vip"}`), 5*time.Second)
			if err != nil || string(r.Data) != `{"ok":true}` {
				t.Errorf("join over the connection API: %v %v", err, r)
				return
			}
			m.Respond([]byte(`"joined"`))
			news := nats.NewMsg("sio-room._.vip")
			news.Header.Set("Socketio-Event", "vip.news")
			news.Data = []byte(`{"text":"for vips"}`)
			nc.PublishMsg(news)
		}()
	})
	reply("sio._.echo", func(m *nats.Msg) { m.Respond(m.Data) })
	reply("sio._.echo-bin", func(m *nats.Msg) {
		if m.Header.Get("Socketio-Binary") != "true" {
			t.Errorf("echo-bin without Socketio-Binary: %v", m.Header)
		}
		m.Respond(m.Data)
	})
	reply("sio.shop.order.create", func(m *nats.Msg) {
		var order struct{ SKU string }
		_ = json.Unmarshal(m.Data, &order)
		b, _ := json.Marshal(map[string]any{"ok": true, "sku": order.SKU, "namespace": m.Header.Get("Socketio-Namespace")})
		m.Respond(b)
	})
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
}

// sioJSONPeer is a JSON-protocol client that answers every Socket.IO
// "chat" emit (subject sio._.chat) in room lobby with {"echo": <it>}.
func sioJSONPeer(t *testing.T, g *gateway, key string) {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial(g.WS("/"), bearer(key))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	if err := ws.WriteJSON(map[string]any{"action": "subscribe", "subject": "sio._.chat"}); err != nil {
		t.Fatal(err)
	}
	var first struct{ Type string }
	if err := ws.ReadJSON(&first); err != nil || first.Type != "subscribed" {
		t.Fatalf("JSON subscribe: %v %+v", err, first)
	}
	go func() {
		for {
			var m struct {
				Type string
				Data json.RawMessage
			}
			if err := ws.ReadJSON(&m); err != nil {
				return
			}
			if m.Type == "message" {
				_ = ws.WriteJSON(map[string]any{"action": "publish", "subject": "sio-room._.lobby", "data": map[string]any{"echo": m.Data}})
			}
		}
	}()
}

// TestSocketIONode runs e2e/js/socketio.test.mjs (socket.io-client 4.8)
// against a gateway with NATS workers and a JSON client: events and
// acknowledgements both ways, rooms via a route and via a worker,
// namespaces on one connection, binary attachments, authentication,
// cross-protocol. Each
// subtest is one transport setting of the client: websocket only, polling
// only, and the default (polling, then the upgrade to a WebSocket).
func TestSocketIONode(t *testing.T) {
	long(t)
	node, dir := nodeModules(t, "js", "socket.io-client")
	key, jsonKey := newSecret(t), newSecret(t)
	g := startGateway(t, gwOpts{Config: sioConfig(key, jsonKey)})
	sioWorkers(t, natsConn(t, g.NATSURL))
	sioJSONPeer(t, g, jsonKey)
	for _, transports := range []string{"websocket", "polling", "polling,websocket"} {
		t.Run(strings.ReplaceAll(transports, ",", "+"), func(t *testing.T) {
			t.Logf("%s", runSocketIOTest(t, node, dir, g.HTTP(""), key, transports))
		})
	}
}

// runSocketIOTest runs e2e/js/socketio.test.mjs against the gateway (or
// balancer) at httpURL with the client's transports and env (NAME=value
// more), and returns its output; a failing run fails t.
func runSocketIOTest(t *testing.T, node, dir, httpURL, key, transports string, env ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "--test", "--test-timeout=60000", "socketio.test.mjs")
	cmd.WaitDelay = 5 * time.Second
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "WSGATE_HTTP="+httpURL, "SIO_KEY="+key,
		"SIO_BAD_KEY="+newSecret(t), "SIO_TRANSPORTS="+transports), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node --test e2e/js/socketio.test.mjs (%s, transports %s): %v\n%s", httpURL, transports, err, out)
	}
	return out
}

// TestSocketIORecovery: with socketio.recovery, socket.io-client keeps
// its socket id and rooms across a restart of the gateway, and gets the
// room message published while it was away (e2e/js/socketio.recovery.mjs).
func TestSocketIORecovery(t *testing.T) {
	long(t)
	node, dir := nodeModules(t, "js", "socket.io-client")
	data := t.TempDir()
	opts := gwOpts{DataDir: data, Args: []string{"--listen", freeAddr(t)}, Config: `
socketio:
  recovery: {window: 2m}
  routes:
    join: {integration: join}
`}
	g := startGateway(t, opts)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "socketio.recovery.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "WSGATE_HTTP="+g.HTTP(""))
	cmd.WaitDelay = 5 * time.Second
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(out)
	expect := func(want string) {
		t.Helper()
		for lines.Scan() {
			if lines.Text() == want {
				return
			}
			t.Logf("node: %s", lines.Text())
		}
		_ = cmd.Wait()
		t.Fatalf("the client never got to %s", want)
	}
	news := func(g *gateway, text string) {
		t.Helper()
		nc := natsConn(t, g.NATSURL)
		m := nats.NewMsg("sio-room._.lobby")
		m.Header.Set("Socketio-Event", "news")
		m.Data = []byte(`"` + text + `"`)
		if err := nc.PublishMsg(m); err != nil {
			t.Fatal(err)
		}
		nc.Flush()
	}
	expect("JOINED")
	news(g, "one")
	expect("GOT_ONE")
	g.stop()
	g2 := startGateway(t, opts)
	news(g2, "two")
	expect("OK")
	if err := cmd.Wait(); err != nil {
		t.Fatalf("node socketio.recovery.mjs: %v", err)
	}
}
