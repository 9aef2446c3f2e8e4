package e2e

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	"github.com/go-stomp/stomp/v3"
	"github.com/gorilla/websocket"
)

// reloadEnv is a gateway started with a config file the test rewrites and
// reloads, an admin token, and two API keys: alice's (permissions of its
// own) and bob's (the defaults).
type reloadEnv struct {
	t          *testing.T
	g          *gateway
	file       string
	admin      string
	alice, bob string
}

// reloadConfig is the config of a reloadEnv: alice may use the subjects
// under alicePerms, bob's key is there when withBob, and the say route
// publishes to sayTo.
func (e *reloadEnv) config(alicePerms []string, withBob bool, sayTo, extra string) string {
	q := func(ss []string) string {
		out := make([]string, len(ss))
		for i, s := range ss {
			out[i] = strconv.Quote(s)
		}
		return "[" + strings.Join(out, ", ") + "]"
	}
	bob := ""
	if withBob {
		bob = `
          - id: bob
            hash: "` + keyHash(e.bob) + `"`
	}
	return `
gateway:
  admin:
    token_hash: "` + keyHash(e.admin) + `"
auth:
  authenticators:
    - type: api_keys
      api_keys:
        keys:
          - id: alice
            hash: "` + keyHash(e.alice) + `"
            permissions:
              publish: {allow: ` + q(alicePerms) + `}
              subscribe: {allow: ` + q(alicePerms) + `}` + bob + `
  default_permissions:
    publish: {allow: ["stream.>", "out.>", "chat.>", "orders"]}
    subscribe: {allow: ["stream.>", "chat.>"]}
json:
  routes:
    join:
      integration: subscribe
      subject: "{body.topic}.{body.room}"
    say:
      integration: publish
      subject: "` + sayTo + `"
` + extra
}

func newReloadEnv(t *testing.T) *reloadEnv {
	t.Helper()
	return newReloadEnvWith(t, []string{"stream.>", "chat.>", "news.>", "out.>"}, "")
}

// newReloadEnvWith is newReloadEnv with alice's permissions and more
// config.
func newReloadEnvWith(t *testing.T, alicePerms []string, extra string) *reloadEnv {
	t.Helper()
	e := &reloadEnv{t: t, admin: newSecret(t), alice: newSecret(t), bob: newSecret(t)}
	e.file = filepath.Join(t.TempDir(), "wsgate.yaml")
	e.write(e.config(alicePerms, true, "out.v0", extra))
	e.g = startGateway(t, gwOpts{Args: []string{"--config", e.file}})
	return e
}

func (e *reloadEnv) write(cfg string) {
	e.t.Helper()
	if err := os.WriteFile(e.file, []byte(cfg), 0o600); err != nil {
		e.t.Fatal(err)
	}
}

// post is POST /admin/reload with the admin token.
func (e *reloadEnv) post() (int, map[string]any) {
	e.t.Helper()
	req, _ := http.NewRequest("POST", e.g.HTTP("/admin/reload"), nil)
	req.Header.Set("Authorization", "Bearer "+e.admin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &m); err != nil {
		e.t.Fatalf("POST /admin/reload: %d %q: %v", resp.StatusCode, b, err)
	}
	return resp.StatusCode, m
}

// reloads is wsgate_config_reloads_total{result}.
func (e *reloadEnv) reloads(result string) int {
	e.t.Helper()
	req, _ := http.NewRequest("GET", e.g.HTTP("/metrics"), nil)
	req.Header.Set("Authorization", "Bearer "+e.admin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	prefix := `wsgate_config_reloads_total{result="` + result + `"} `
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, prefix); ok {
			n, _ := strconv.Atoi(v)
			return n
		}
	}
	e.t.Fatalf("no %s in /metrics", prefix)
	return 0
}

// waitLog waits for a gateway log line with msg and fields: the log is
// read from the gateway's stderr in the background.
func (e *reloadEnv) waitLog(msg string, fields map[string]any) {
	e.t.Helper()
	eventually(e.t, 10*time.Second, func() error {
		if !e.g.hasLog(msg, fields) {
			return fmt.Errorf("no log line %q %v", msg, fields)
		}
		return nil
	})
}

// hup sends SIGHUP and waits until the gateway has counted the reload.
func (e *reloadEnv) hup(result string) {
	e.t.Helper()
	before := e.reloads(result)
	if err := e.g.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		e.t.Fatal(err)
	}
	eventually(e.t, 10*time.Second, func() error {
		if n := e.reloads(result); n <= before {
			return fmt.Errorf("%s reloads: %d", result, n)
		}
		return nil
	})
}

// TestReloadSteadyStream reloads the config 20 times, by SIGHUP and by
// POST /admin/reload in turn, while a worker streams to a client: the
// client stays connected, gets every message in order, and each message
// it sends takes the route of the config reloaded just before.
func TestReloadSteadyStream(t *testing.T) {
	e := newReloadEnv(t)
	nc := natsConn(t, e.g.NATSURL)
	out, err := nc.SubscribeSync("out.>")
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	c := dial(t, e.g.WS("/"), bearer(e.alice))
	c.send(`{"action":"join","topic":"stream","room":"x"}`)
	c.expect("subscribed")

	frames := c.readAll()
	stop := make(chan struct{})
	published := make(chan int, 1)
	go func() {
		n := 0
		defer func() { published <- n }()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if err := nc.Publish("stream.x", []byte(strconv.Itoa(n))); err != nil {
				return
			}
			n++
			time.Sleep(2 * time.Millisecond)
		}
	}()
	for i := 1; i <= 20; i++ {
		e.write(e.config([]string{"stream.>", "chat.>", "news.>", "out.>"}, true, fmt.Sprintf("out.v%d", i), ""))
		if i%2 == 0 {
			e.hup("ok")
		} else if code, rep := e.post(); code != 200 {
			t.Fatalf("reload %d: %d %v", i, code, rep)
		}
		c.send(fmt.Sprintf(`{"action":"say","n":%d}`, i))
		m := nextMsg(t, out)
		if want := fmt.Sprintf("out.v%d", i); m.Subject != want {
			t.Fatalf("after reload %d the message went to %s, want %s", i, m.Subject, want)
		}
	}
	close(stop)
	n := <-published
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	for want := 0; want < n; want++ {
		r := <-frames
		if r.err != nil {
			t.Fatalf("message %d of %d: %v", want, n, r.err)
		}
		var f frame
		if err := json.Unmarshal(r.data, &f); err != nil || f.Type != "message" {
			t.Fatalf("message %d: %q", want, r.data)
		}
		if got := string(f.Data); got != strconv.Itoa(want) {
			t.Fatalf("message %d of %d is %s: lost or out of order", want, n, got)
		}
	}
	if n < 20 {
		t.Fatalf("only %d messages streamed", n)
	}
	if got := e.reloads("ok"); got != 20 {
		t.Errorf("%d reloads counted ok, want 20", got)
	}
	e.waitLog("config reloaded", map[string]any{"by": "SIGHUP"})
}

// TestReloadNarrowsPermissions takes a subscription away from one key and
// the key away from another: the first connection gets an error frame and
// keeps the rest; the second is closed with a reason.
func TestReloadNarrowsPermissions(t *testing.T) {
	e := newReloadEnv(t)
	nc := natsConn(t, e.g.NATSURL)
	alice := dial(t, e.g.WS("/"), bearer(e.alice))
	for _, topic := range []string{"chat", "news"} {
		alice.send(`{"action":"join","topic":"` + topic + `","room":"a"}`)
		alice.expect("subscribed")
	}
	bob := dial(t, e.g.WS("/"), bearer(e.bob))
	bob.send(`{"action":"join","topic":"chat","room":"a"}`)
	bob.expect("subscribed")

	e.write(e.config([]string{"chat.>", "out.>"}, false, "out.v0", ""))
	code, rep := e.post()
	if code != 200 {
		t.Fatalf("reload: %d %v", code, rep)
	}
	conns, _ := rep["connections"].(map[string]any)
	if conns["narrowed"] != 1.0 || conns["subscriptions_dropped"] != 1.0 || conns["revoked"] != 1.0 || conns["closed"] != 1.0 {
		t.Errorf("report %v, want one narrowed (one subscription), one revoked and closed", rep)
	}
	f := alice.expect("error")
	if f.Error != "forbidden" || f.Subject != "news.a" {
		t.Errorf("notice %+v, want forbidden for news.a", f)
	}
	if ce := bob.closeErr(10 * time.Second); ce.Code != websocket.ClosePolicyViolation || ce.Text != "credentials revoked" {
		t.Errorf("bob closed with %d %q, want 1008 credentials revoked", ce.Code, ce.Text)
	}
	for _, subj := range []string{"news.a", "chat.a"} {
		if err := nc.Publish(subj, []byte(`"hi"`)); err != nil {
			t.Fatal(err)
		}
	}
	if f := alice.expect("message"); f.Subject != "chat.a" {
		t.Errorf("alice got a message on %s, want only chat.a", f.Subject)
	}
	alice.send(`{"action":"join","topic":"news","room":"b"}`)
	if f := alice.expect("error"); f.Error != "forbidden" {
		t.Errorf("subscribe to news after the reload: %+v, want forbidden", f)
	}
	if st, _, _ := tryDial(t, websocket.DefaultDialer, e.g.WS("/"), bearer(e.bob)); st != http.StatusUnauthorized {
		t.Errorf("bob's removed key dialled: HTTP %d, want 401", st)
	}
}

// TestReloadBroken refuses a config that is not valid, by POST and by
// SIGHUP, with the errors 'wsgate validate' names; the old config runs on.
// A valid config that changes a restart-only setting is applied but for
// that setting, which the report names.
func TestReloadBroken(t *testing.T) {
	e := newReloadEnv(t)
	nc := natsConn(t, e.g.NATSURL)
	out, err := nc.SubscribeSync("out.>")
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	c := dial(t, e.g.WS("/"), bearer(e.alice))

	broken := e.config([]string{"stream.>"}, true, "out.{bdy.x}", "")
	e.write(broken)
	_, verr, vcode := runCLI(t, "validate", "--config", e.file)
	if vcode == 0 || !strings.Contains(verr, "json.routes.say.subject") {
		t.Fatalf("validate: exit %d, %q; want the route named", vcode, verr)
	}
	code, rep := e.post()
	if code != http.StatusBadRequest {
		t.Fatalf("broken reload: %d %v, want 400", code, rep)
	}
	errs, _ := json.Marshal(rep["errors"])
	if !strings.Contains(string(errs), "json.routes.say.subject") {
		t.Errorf("errors %s do not name json.routes.say.subject", errs)
	}
	e.hup("refused")
	if got := e.reloads("refused"); got != 2 {
		t.Errorf("%d reloads counted refused, want 2", got)
	}
	e.waitLog("config reload refused; the running config is kept", map[string]any{"by": "SIGHUP"})
	// The old config runs on: the old route, the old permissions.
	c.send(`{"action":"say"}`)
	if m := nextMsg(t, out); m.Subject != "out.v0" {
		t.Errorf("message went to %s, want out.v0", m.Subject)
	}

	e.write(e.config([]string{"stream.>", "out.>"}, true, "out.v1", "") + "nats:\n  ping_interval: 5s\n")
	code, rep = e.post()
	if code != 200 {
		t.Fatalf("reload: %d %v", code, rep)
	}
	need, _ := json.Marshal(rep["restart_needed"])
	if string(need) != `["nats"]` {
		t.Errorf("restart_needed %s, want [\"nats\"]", need)
	}
	c.send(`{"action":"say"}`)
	if m := nextMsg(t, out); m.Subject != "out.v1" {
		t.Errorf("message went to %s, want out.v1", m.Subject)
	}
	// Without the admin token, no reload.
	if st, _ := e.g.httpDo(t, "POST", "/admin/reload", ""); st != http.StatusUnauthorized {
		t.Errorf("reload without the token: %d, want 401", st)
	}
}

// TestReloadNarrowsSTOMP narrows a STOMP client's permissions: its plain
// subscription and its durable queue subscription that are no longer
// allowed stop silently (an ERROR frame would end the connection), the
// connection and its other subscription go on, and the client may still
// UNSUBSCRIBE what was taken away.
func TestReloadNarrowsSTOMP(t *testing.T) {
	const extra = "stomp:\n  durable_queues: [\"/queue/orders\"]\n"
	e := newReloadEnvWith(t, []string{"chat.>", "news.>", "orders", "e2e.>"}, extra)
	nc := natsConn(t, e.g.NATSURL)
	alice := dialSTOMP(t, e.g, stomp.ConnOpt.Login("alice", e.alice))
	var subs []*stomp.Subscription
	for _, d := range []string{"/topic/news.a", "/queue/orders", "/topic/chat.a"} {
		sub, err := alice.Subscribe(d, stomp.AckClientIndividual)
		if err != nil {
			t.Fatal(err)
		}
		subs = append(subs, sub)
	}
	news, orders, chat := subs[0], subs[1], subs[2]
	stompBarrier(t, nc, alice)

	e.write(e.config([]string{"chat.>"}, true, "out.v0", extra))
	code, rep := e.post()
	if code != 200 {
		t.Fatalf("reload: %d %v", code, rep)
	}
	if conns, _ := rep["connections"].(map[string]any); conns["narrowed"] != 1.0 || conns["subscriptions_dropped"] != 1.0 || conns["closed"] != 0.0 {
		t.Errorf("report %v, want one connection narrowed by one subscription, none closed", rep)
	}
	e.waitLog("reload: durable queue subscription no longer permitted; stopped", map[string]any{"destination": "/queue/orders"})
	bob := dialSTOMP(t, e.g, stomp.ConnOpt.Login("bob", e.bob))
	if err := bob.Send("/queue/orders", "text/plain", []byte("order-1"), stomp.SendOpt.Receipt); err != nil {
		t.Fatal(err)
	}
	for _, subj := range []string{"news.a", "chat.a"} {
		if err := nc.Publish(subj, []byte(subj)); err != nil {
			t.Fatal(err)
		}
	}
	if m := nextSTOMP(t, chat); string(m.Body) != "chat.a" {
		t.Errorf("chat got %q", m.Body)
	}
	noSTOMP(t, news, 300*time.Millisecond)
	noSTOMP(t, orders, 300*time.Millisecond)
	if err := news.Unsubscribe(); err != nil {
		t.Errorf("UNSUBSCRIBE of the dropped subscription: %v", err)
	}
	if err := alice.Send("/topic/chat.a", "text/plain", []byte("still here"), stomp.SendOpt.Receipt); err != nil {
		t.Errorf("alice after the reload: %v", err)
	}
}

// TestReloadCertificate: a reload reads the certificate files again, so a
// renewed certificate is served from the next handshake on.
func TestReloadCertificate(t *testing.T) {
	pki := newTestPKI(t, "client")
	g := startTLSGateway(t, `
tls:
  cert_file: `+pki.serverCert+`
  key_file: `+pki.serverKy+`
`, pki.clientTLS())
	renewed := newTestPKI(t, "client") // another CA: only its clients trust it
	for src, dst := range map[string]string{renewed.serverCert: pki.serverCert, renewed.serverKy: pki.serverKy} {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	get := func(tc *tls.Config, method, path string) (int, error) {
		cl := &http.Client{Transport: &http.Transport{TLSClientConfig: tc}, Timeout: 10 * time.Second}
		defer cl.CloseIdleConnections()
		req, _ := http.NewRequest(method, "https://"+g.Addr+path, nil)
		resp, err := cl.Do(req)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	if _, err := get(renewed.clientTLS(), "GET", "/healthz"); err == nil {
		t.Fatal("the renewed certificate is served before the reload")
	}
	if code, err := get(pki.clientTLS(), "POST", "/admin/reload"); err != nil || code != 200 {
		t.Fatalf("POST /admin/reload: %d, %v", code, err)
	}
	if code, err := get(renewed.clientTLS(), "GET", "/healthz"); err != nil || code != 200 {
		t.Errorf("after the reload, a client trusting the renewed certificate: %d, %v", code, err)
	}
	if _, err := get(pki.clientTLS(), "GET", "/healthz"); err == nil {
		t.Error("the old certificate is still served after the reload")
	}
}

// TestReloadNarrowsMQTT: MQTT has no notice for a subscription the server
// ends, so the one a reload no longer allows ends silently; the client
// stays connected with its other subscription, and subscribing again is
// refused with SUBACK 0x87.
func TestReloadNarrowsMQTT(t *testing.T) {
	e := newReloadEnv(t)
	nc := natsConn(t, e.g.NATSURL)
	c := connectV5(t, e.g, &paho.Connect{CleanStart: true, KeepAlive: 30, ClientID: "alice-1",
		Username: "alice", UsernameFlag: true, Password: []byte(e.alice), PasswordFlag: true})
	sa := c.subscribe(t, paho.SubscribeOptions{Topic: "news/a"}, paho.SubscribeOptions{Topic: "chat/a"})
	if len(sa.Reasons) != 2 || sa.Reasons[0] != 0 || sa.Reasons[1] != 0 {
		t.Fatalf("SUBACK %v", sa.Reasons)
	}
	e.write(e.config([]string{"chat.>"}, true, "out.v0", ""))
	code, rep := e.post()
	if code != 200 {
		t.Fatalf("reload: %d %v", code, rep)
	}
	if conns, _ := rep["connections"].(map[string]any); conns["narrowed"] != 1.0 || conns["subscriptions_dropped"] != 1.0 || conns["closed"] != 0.0 {
		t.Errorf("report %v, want one connection narrowed by one subscription, none closed", rep)
	}
	for _, subj := range []string{"news.a", "chat.a"} {
		if err := nc.Publish(subj, []byte(subj)); err != nil {
			t.Fatal(err)
		}
	}
	if p := c.next(t); p.Topic != "chat/a" {
		t.Errorf("got a PUBLISH on %s, want only chat/a", p.Topic)
	}
	if sa := c.subscribe(t, paho.SubscribeOptions{Topic: "news/a"}); len(sa.Reasons) != 1 || sa.Reasons[0] != 0x87 {
		t.Errorf("subscribing again: SUBACK %v, want 0x87", sa.Reasons)
	}
}
