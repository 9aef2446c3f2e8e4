package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/nats-io/nats.go"
)

// TestJSONConnectDisconnect runs $connect as a request integration that
// admits or refuses the upgrade and sets the connection's context, and
// $disconnect as a publish route.
func TestJSONConnectDisconnect(t *testing.T) {
	g := startGateway(t, gwOpts{Config: `
json:
  routes:
    $connect:
      integration: request
      subject: auth.connect
      timeout: 5s
    $disconnect:
      integration: publish
      subject: auth.disconnect
    send:
      integration: publish
      subject: "t.{context.tenant}.in"
`})
	nc := natsConn(t, g.NATSURL)
	type connectMsg struct {
		hdr nats.Header
		ev  struct {
			ConnectionID string              `json:"connectionId"`
			Protocol     string              `json:"protocol"`
			Headers      map[string][]string `json:"headers"`
			Query        map[string][]string `json:"query"`
			Path         string              `json:"path"`
			Identity     struct {
				SourceIP  string `json:"sourceIp"`
				UserAgent string `json:"userAgent"`
			} `json:"identity"`
		}
	}
	connects := make(chan connectMsg, 16)
	authWorker, err := nc.Subscribe("auth.connect", func(m *nats.Msg) {
		var cm connectMsg
		cm.hdr = m.Header
		if err := json.Unmarshal(m.Data, &cm.ev); err != nil {
			m.Respond([]byte(`{"statusCode":400,"body":"bad connect event"}`))
			return
		}
		connects <- cm
		q := cm.ev.Query
		if len(q["user"]) > 0 && q["user"][0] == "mallory" {
			m.Respond([]byte(`{"statusCode":403,"body":"no"}`))
			return
		}
		if len(q["greet"]) > 0 {
			// Push before answering: the connection is reachable from
			// $connect on, and gets this right after the upgrade.
			r, err := nc.Request("wsgate.conn."+cm.ev.ConnectionID+".send", []byte(`{"hello":"first"}`), 5*time.Second)
			if err != nil || string(r.Data) != `{"ok":true}` {
				m.Respond([]byte(`{"statusCode":500,"body":"push during $connect failed"}`))
				return
			}
		}
		tenant := "acme"
		if len(q["tenant"]) > 0 {
			tenant = q["tenant"][0]
		}
		b, _ := json.Marshal(map[string]any{"statusCode": 200, "context": map[string]string{"tenant": tenant}})
		m.Respond(b)
	})
	if err != nil {
		t.Fatal(err)
	}
	disconnects, _ := nc.SubscribeSync("auth.disconnect")
	inbox, _ := nc.SubscribeSync("t.*.in")
	events, _ := nc.SubscribeSync("wsgate.events.connect")
	nc.Flush()

	// admit dials with the query and returns the client and its $connect
	// message, once the gateway has announced the connection: only then can
	// a worker reach it on wsgate.conn.<id>.*.
	connectEvents := map[string]bool{} // ids of every connect event seen
	admit := func(t *testing.T, query string) (*client, connectMsg) {
		t.Helper()
		ua := uniqueUA(t)
		c := dial(t, g.WS("/?"+query), http.Header{"User-Agent": {ua}, "X-Test": {"yes"}})
		var cm connectMsg
		select {
		case cm = <-connects:
			if cm.ev.Identity.UserAgent != ua {
				t.Fatalf("$connect message for another client: %+v", cm.ev)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no $connect message")
		}
		for !connectEvents[cm.ev.ConnectionID] {
			connectEvents[nextMsg(t, events).Header.Get("Wsgate-Connection-Id")] = true
		}
		return c, cm
	}

	// alice lives through the subtests until she closes.
	alice, cm := admit(t, "user=alice")
	aliceID := cm.ev.ConnectionID
	t.Run("$connect message", func(t *testing.T) {
		ev := cm.ev
		if ev.ConnectionID == "" || ev.Protocol != "json" || ev.Path != "/" {
			t.Errorf("%+v", ev)
		}
		if got := ev.Headers["X-Test"]; len(got) != 1 || got[0] != "yes" {
			t.Errorf("headers %v", ev.Headers)
		}
		if got := ev.Query["user"]; len(got) != 1 || got[0] != "alice" {
			t.Errorf("query %v", ev.Query)
		}
		if ev.Identity.SourceIP != "127.0.0.1" || !strings.HasPrefix(ev.Identity.UserAgent, "e2e/") {
			t.Errorf("identity %+v", ev.Identity)
		}
		if cm.hdr.Get("Wsgate-Event") != "CONNECT" || cm.hdr.Get("Wsgate-Route") != "$connect" || cm.hdr.Get("Wsgate-Connection-Id") != ev.ConnectionID {
			t.Errorf("headers %v", cm.hdr)
		}
	})

	t.Run("a worker pushes during $connect", func(t *testing.T) {
		c, _ := admit(t, "user=bob&greet=1")
		if got := c.read(10 * time.Second); string(got) != `{"hello":"first"}` {
			t.Errorf("first message %q", got)
		}
	})

	t.Run("context reaches headers and templates", func(t *testing.T) {
		alice := alice.with(t)
		alice.send(`{"action":"send","v":1}`)
		m := nextMsg(t, inbox)
		if m.Subject != "t.acme.in" || m.Header.Get("Wsgate-Context-tenant") != "acme" || m.Header.Get("Wsgate-Connection-Id") != aliceID {
			t.Errorf("%s %v", m.Subject, m.Header)
		}
		c, _ := admit(t, "user=bob&tenant=a.b%20c")
		c.send(`{"action":"send","v":2}`)
		m = nextMsg(t, inbox)
		if m.Subject != "t.a%2Eb%20c.in" || m.Header.Get("Wsgate-Context-tenant") != "a.b c" {
			t.Errorf("%s %v", m.Subject, m.Header)
		}
	})

	t.Run("refused upgrade", func(t *testing.T) {
		refusedBefore := g.metric(t, "wsgate_connects_total", map[string]string{"result": "refused"})
		conn, resp, err := websocket.DefaultDialer.Dial(g.WS("/?user=mallory"), nil)
		if err == nil {
			conn.Close()
			t.Fatal("mallory was admitted")
		}
		if resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Fatalf("dial: %v, %+v", err, resp)
		}
		b, _ := io.ReadAll(resp.Body)
		if strings.TrimSpace(string(b)) != "no" {
			t.Errorf("body %q", b)
		}
		if resp.Header.Get("Upgrade") != "" {
			t.Errorf("refusal carries Upgrade: %v", resp.Header)
		}
		mallory := (<-connects).ev.ConnectionID
		if got := g.metric(t, "wsgate_connects_total", map[string]string{"result": "refused"}); got != refusedBefore+1 {
			t.Errorf("refused connects %v, want %v", got, refusedBefore+1)
		}
		// No connect event for mallory, before the next admitted client's.
		admit(t, "user=carol")
		if connectEvents[mallory] {
			t.Errorf("connect event for the refused connection %s", mallory)
		}
	})

	t.Run("$disconnect on client close", func(t *testing.T) {
		alice := alice.with(t)
		err := alice.Conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(4000, "done"), time.Now().Add(time.Second))
		if err != nil {
			t.Fatal(err)
		}
		m, info := nextEvent(t, disconnects, aliceID)
		if m.Header.Get("Wsgate-Close-Code") != "4000" || m.Header.Get("Wsgate-Event") != "DISCONNECT" ||
			m.Header.Get("Wsgate-Route") != "$disconnect" || m.Header.Get("Wsgate-Connection-Id") != aliceID ||
			m.Header.Get("Wsgate-Context-tenant") != "acme" {
			t.Errorf("headers %v", m.Header)
		}
		if info.CloseCode != 4000 || info.CloseReason != "done" || info.ClosedBy != "client" {
			t.Errorf("body %s", m.Data)
		}
	})

	t.Run("$disconnect on server close", func(t *testing.T) {
		c, cm := admit(t, "user=dave")
		id := cm.ev.ConnectionID
		r, err := nc.Request("wsgate.conn."+id+".close", []byte(`{"code":4001,"reason":"bye"}`), 5*time.Second)
		if err != nil || string(r.Data) != `{"ok":true}` {
			t.Fatalf("close request: %v %v", err, r)
		}
		ce := c.closeErr(10 * time.Second)
		if ce.Code != 4001 || ce.Text != "bye" {
			t.Errorf("close %d %q", ce.Code, ce.Text)
		}
		m, info := nextEvent(t, disconnects, id)
		if m.Header.Get("Wsgate-Close-Code") != "4001" || m.Header.Get("Wsgate-Route") != "$disconnect" {
			t.Errorf("headers %v", m.Header)
		}
		if info.CloseCode != 4001 || info.CloseReason != "bye" || info.ClosedBy != "worker" {
			t.Errorf("body %s", m.Data)
		}
	})

	t.Run("no $connect worker refuses with 503", func(t *testing.T) {
		authWorker.Unsubscribe()
		nc.Flush()
		conn, resp, err := websocket.DefaultDialer.Dial(g.WS("/?user=erin"), nil)
		if err == nil {
			conn.Close()
			t.Fatal("admitted without a $connect worker")
		}
		if resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("dial: %v, %+v", err, resp)
		}
	})
}
