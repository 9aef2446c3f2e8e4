package e2e

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"
	"github.com/nats-io/nats.go"
)

// basicAuth is an Authorization: Basic header.
func basicAuth(user, pass string) http.Header {
	r, _ := http.NewRequest(http.MethodGet, "/", nil)
	r.SetBasicAuth(user, pass)
	return r.Header
}

// TestAuthAPIKeys admits API keys from every place a client can put them,
// and refuses everything else at the handshake.
func TestAuthAPIKeys(t *testing.T) {
	key, key2 := newSecret(t), newSecret(t)
	g := startGateway(t, gwOpts{Config: `
gateway:
  credentials:
    cookie: wsgate_token
auth:
  authenticators:
    - type: api_keys
      api_keys:
        keys:
          - id: sensor-1
            hash: "` + keyHash(key) + `"
            permissions:
              publish: {allow: ["sensors.{principal}.>"]}
          - id: sensor-2
            hash: "` + keyHash(key2) + `"
`})
	nc := natsConn(t, g.NATSURL)
	sensors := workerSub(t, nc, "sensors.>")

	admitted := []struct {
		name   string
		url    string
		hdr    http.Header
		protos []string
	}{
		{"Authorization: Bearer", g.WS("/"), bearer(key), nil},
		{"query access_token", g.WS("/?access_token=" + key), nil, nil},
		{"cookie", g.WS("/ws"), http.Header{"Cookie": {"other=1; wsgate_token=" + key}}, nil},
		{"Sec-WebSocket-Protocol", g.WS("/"), nil, []string{"wsgate.json", "bearer." + key}},
		{"Sec-WebSocket-Protocol, token first", g.WS("/ws"), nil, []string{"bearer." + key, "wsgate.json"}},
		{"Basic with the key id", g.WS("/"), basicAuth("sensor-1", key), nil},
	}
	for _, tc := range admitted {
		t.Run("admitted/"+tc.name, func(t *testing.T) {
			d := *websocket.DefaultDialer
			d.Subprotocols = tc.protos
			c := dialWith(t, &d, tc.url, tc.hdr)
			echoed := c.Resp.Header.Values("Sec-Websocket-Protocol")
			if tc.protos != nil {
				if len(echoed) != 1 || echoed[0] != "wsgate.json" || c.Conn.Subprotocol() != "wsgate.json" {
					t.Errorf("echoed subprotocol %q (conn %q), want exactly wsgate.json", echoed, c.Conn.Subprotocol())
				}
			} else if len(echoed) != 0 {
				t.Errorf("echoed subprotocol %q, none offered", echoed)
			}
			for k, vs := range c.Resp.Header {
				for _, v := range vs {
					if strings.Contains(v, key) {
						t.Errorf("response header %s echoes the key: %q", k, v)
					}
				}
			}
			c.send(map[string]any{"action": "publish", "subject": "sensors.sensor-1.temp", "data": tc.name})
			m := nextMsg(t, sensors)
			// The built-in publish route forwards a JSON string's content.
			if m.Subject != "sensors.sensor-1.temp" || string(m.Data) != tc.name {
				t.Errorf("worker got %s %q", m.Subject, m.Data)
			}
			if p := m.Header.Get("Wsgate-Principal"); p != "sensor-1" {
				t.Errorf("Wsgate-Principal %q, want sensor-1 (headers %v)", p, m.Header)
			}
		})
	}

	t.Run("a key without permissions, and no default_permissions, may do nothing", func(t *testing.T) {
		c := dial(t, g.WS("/"), bearer(key2))
		publishErr(c, "sensors.sensor-2.temp", "forbidden")
		subscribeErr(c, "sensors.sensor-2.>", "forbidden")
	})

	last := byte('0')
	if key[len(key)-1] == '0' {
		last = '1'
	}
	offKey := key[:len(key)-1] + string(last)
	refusedCases := []struct {
		name   string
		url    string
		hdr    http.Header
		protos []string
	}{
		{"no key", g.WS("/"), nil, nil},
		{"unknown key", g.WS("/"), bearer(newSecret(t)), nil},
		{"wrong key, one character off", g.WS("/"), bearer(offKey), nil},
		{"key id with another key's secret", g.WS("/"), basicAuth("sensor-1", key2), nil},
		{"key id with no secret", g.WS("/"), basicAuth("sensor-1", ""), nil},
		{"unknown key in the query", g.WS("/?access_token=" + newSecret(t)), nil, nil},
		{"unknown key in a subprotocol", g.WS("/"), nil, []string{"wsgate.json", "bearer." + newSecret(t)}},
		{"key in a cookie of another name", g.WS("/"), http.Header{"Cookie": {"session=" + key}}, nil},
		{"key in another query parameter", g.WS("/?token=" + key), nil, nil},
		{"hash of the key instead of the key", g.WS("/"), bearer(keyHash(key)), nil},
	}
	for _, tc := range refusedCases {
		t.Run("refused/"+tc.name, func(t *testing.T) {
			d := *websocket.DefaultDialer
			d.Subprotocols = tc.protos
			status, body, _ := tryDial(t, &d, tc.url, tc.hdr)
			if status != http.StatusUnauthorized {
				t.Fatalf("HTTP %d %q, want 401", status, body)
			}
			if strings.TrimSpace(body) != "unauthorized" {
				t.Errorf("refusal body %q tells the client more than \"unauthorized\"", body)
			}
		})
	}

	t.Run("refused/401 names the scheme", func(t *testing.T) {
		_, resp, err := websocket.DefaultDialer.Dial(g.WS("/"), nil)
		if err == nil || resp == nil {
			t.Fatalf("dial without a key: %v", err)
		}
		if got := resp.Header.Get("WWW-Authenticate"); got != `Bearer realm="wsgate"` {
			t.Errorf("WWW-Authenticate %q", got)
		}
	})

	t.Run("keys never reach the log", func(t *testing.T) {
		logs := g.logText()
		for _, k := range []string{key, key2, offKey} {
			if strings.Contains(logs, k) {
				t.Errorf("the gateway logged a key")
			}
		}
	})
}

// TestAuthJWT admits tokens signed by the issuer's JWKS keys and refuses
// every kind of bad token.
func TestAuthJWT(t *testing.T) {
	is := newTestIssuer(t)
	g := startGateway(t, gwOpts{Config: is.authYAML(`  default_permissions:
    publish: {allow: ["jwt.{principal}.>"]}
`)})
	nc := natsConn(t, g.NATSURL)
	worker := workerSub(t, nc, "jwt.>")

	for _, m := range []jwt.SigningMethod{jwt.SigningMethodRS256, jwt.SigningMethodES256} {
		t.Run("admitted/"+m.Alg(), func(t *testing.T) {
			sub := "user-" + m.Alg()
			c := dial(t, g.WS("/"), bearer(is.sign(t, m, is.claims(sub, time.Minute))))
			c.send(map[string]any{"action": "publish", "subject": "jwt." + sub + ".hello", "data": 1})
			msg := nextMsg(t, worker)
			if msg.Subject != "jwt."+sub+".hello" || msg.Header.Get("Wsgate-Principal") != sub {
				t.Errorf("worker got %s, principal %q", msg.Subject, msg.Header.Get("Wsgate-Principal"))
			}
		})
	}
	t.Run("admitted/in the query", func(t *testing.T) {
		tok := is.sign(t, jwt.SigningMethodES256, is.claims("q", time.Minute))
		dial(t, g.WS("/?access_token="+tok), nil)
	})

	with := func(edit func(jwt.MapClaims)) jwt.MapClaims {
		c := is.claims("mallory", time.Minute)
		edit(c)
		return c
	}
	rs := jwt.SigningMethodRS256
	pubDER, err := x509.MarshalPKIXPublicKey(&is.rsa.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	none, err := jwt.NewWithClaims(jwt.SigningMethodNone, is.claims("mallory", time.Minute)).
		SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	valid := is.sign(t, rs, is.claims("mallory", time.Minute))
	parts := strings.Split(valid, ".")
	forged, _ := json.Marshal(with(func(c jwt.MapClaims) { c["sub"] = "admin" }))
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString(forged) + "." + parts[2]

	refusedCases := []struct{ name, tok string }{
		{"expired", is.sign(t, rs, with(func(c jwt.MapClaims) {
			c["iat"] = jwt.NewNumericDate(time.Now().Add(-time.Minute))
			c["exp"] = jwt.NewNumericDate(time.Now().Add(-2 * time.Second))
		}))},
		{"not valid yet", is.sign(t, rs, with(func(c jwt.MapClaims) { c["nbf"] = jwt.NewNumericDate(time.Now().Add(time.Minute)) }))},
		{"no exp", is.sign(t, rs, with(func(c jwt.MapClaims) { delete(c, "exp") }))},
		{"wrong issuer", is.sign(t, rs, with(func(c jwt.MapClaims) { c["iss"] = "https://evil.example/" }))},
		{"no issuer", is.sign(t, rs, with(func(c jwt.MapClaims) { delete(c, "iss") }))},
		{"wrong audience", is.sign(t, rs, with(func(c jwt.MapClaims) { c["aud"] = "other-app" }))},
		{"no audience", is.sign(t, rs, with(func(c jwt.MapClaims) { delete(c, "aud") }))},
		{"no sub", is.sign(t, jwt.SigningMethodES256, with(func(c jwt.MapClaims) { delete(c, "sub") }))},
		{"alg none", none},
		{"signed by another key under the issuer's kid", signWith(t, rs, is.other, kidRSA, is.claims("mallory", time.Minute))},
		{"HS256 with the issuer's public key as secret", signWith(t, jwt.SigningMethodHS256, pubPEM, kidRSA, is.claims("mallory", time.Minute))},
		{"payload changed after signing", tampered},
		{"signature cut off", parts[0] + "." + parts[1] + "."},
		{"malformed permissions claim", is.sign(t, rs, with(func(c jwt.MapClaims) {
			c["wsgate"] = map[string]any{"publsh": map[string]any{"allow": []string{">"}}}
		}))},
	}
	for _, tc := range refusedCases {
		t.Run("refused/"+tc.name, func(t *testing.T) {
			refused(t, g.WS("/"), bearer(tc.tok), http.StatusUnauthorized)
		})
	}
}

// TestAuthJWTExpiry closes a connection when its token expires, unless
// gateway.on_token_expiry is ignore.
func TestAuthJWTExpiry(t *testing.T) {
	is := newTestIssuer(t)
	perms := "  default_permissions:\n    publish: {allow: [\"exp.>\"]}\n"
	gClose := startGateway(t, gwOpts{Config: is.authYAML(perms)})
	gIgnore := startGateway(t, gwOpts{Config: "gateway:\n  on_token_expiry: ignore\n" + is.authYAML(perms)})

	claims := is.claims("short-lived", 2*time.Second)
	exp := claims["exp"].(*jwt.NumericDate) // whole seconds: 1-2s ahead
	tok := is.sign(t, jwt.SigningMethodRS256, claims)
	closing := dial(t, gClose.WS("/"), bearer(tok))
	ignoring := dial(t, gIgnore.WS("/"), bearer(tok))
	publishOK(closing, "exp.before", 1)
	publishOK(ignoring, "exp.before", 1)

	ce := closing.closeErr(time.Until(exp.Time) + 5*time.Second)
	at := time.Now()
	if ce.Code != websocket.ClosePolicyViolation || ce.Text != "credentials expired" {
		t.Errorf("closed with %d %q, want 1008 \"credentials expired\"", ce.Code, ce.Text)
	}
	if at.Before(exp.Time) {
		t.Errorf("closed at %s, before the token's exp %s", at.Format(time.StampMilli), exp.Format(time.StampMilli))
	}
	if late := at.Sub(exp.Time); late > 3*time.Second {
		t.Errorf("closed %s after exp", late)
	}

	// Past exp and past at least one expiry sweep (every second): the
	// connection of the ignoring gateway is open and usable.
	time.Sleep(time.Until(exp.Add(1200 * time.Millisecond)))
	publishOK(ignoring, "exp.after", 2)
	// ... but the expired token opens no new connection there.
	refused(t, gIgnore.WS("/"), bearer(tok), http.StatusUnauthorized)
}

// TestPermissionsTemplates checks permissions from the token's claim, with
// {principal} templates, against publish and subscribe, and that a
// principal id cannot widen a template.
func TestPermissionsTemplates(t *testing.T) {
	is := newTestIssuer(t)
	g := startGateway(t, gwOpts{Config: is.authYAML(`  default_permissions:
    publish:   {allow: ["defaults.{principal}.>"]}
    subscribe: {allow: ["defaults.{principal}.>"]}
`)})
	nc := natsConn(t, g.NATSURL)
	devices := workerSub(t, nc, "devices.>")
	defaults := workerSub(t, nc, "defaults.>")
	perms := map[string]any{
		"publish":   map[string]any{"allow": []string{"devices.{principal}.>"}, "deny": []string{"devices.{principal}.secret"}},
		"subscribe": map[string]any{"allow": []string{"devices.{principal}.>"}},
	}
	token := func(t *testing.T, sub string, withPerms bool) string {
		c := is.claims(sub, time.Minute)
		if withPerms {
			c["wsgate"] = perms
		}
		return is.sign(t, jwt.SigningMethodRS256, c)
	}
	// workerGets checks the next message the devices worker receives.
	workerGets := func(t *testing.T, sub *nats.Subscription, subject, principal string) {
		t.Helper()
		m := nextMsg(t, sub)
		if m.Subject != subject || m.Header.Get("Wsgate-Principal") != principal {
			t.Fatalf("worker got %s from %q, want %s from %q", m.Subject, m.Header.Get("Wsgate-Principal"), subject, principal)
		}
	}

	c := dial(t, g.WS("/"), bearer(token(t, "dev1", true)))
	t.Run("publish to its own subject reaches the worker", func(t *testing.T) {
		c := c.with(t)
		c.send(`{"action":"publish","subject":"devices.dev1.temp","data":21.5}`)
		workerGets(t, devices, "devices.dev1.temp", "dev1")
	})
	t.Run("publish to another device or a denied subject is forbidden", func(t *testing.T) {
		c := c.with(t)
		for _, s := range []string{"devices.dev2.temp", "devices.dev1", "devices.dev1.secret", "other.dev1.temp"} {
			publishErr(c, s, "forbidden")
		}
		// Nothing reached the worker: the next it sees is the next allowed one.
		c.send(`{"action":"publish","subject":"devices.dev1.after","data":1}`)
		workerGets(t, devices, "devices.dev1.after", "dev1")
	})
	t.Run("a subscription wider than the allow is forbidden", func(t *testing.T) {
		c := c.with(t)
		for _, p := range []string{"devices.>", "devices.*.temp", "devices.*.>", "*.dev1.temp", ">", "devices.dev2.>", "devices.dev1"} {
			subscribeErr(c, p, "forbidden")
		}
	})
	t.Run("subscribe to its own subtree receives", func(t *testing.T) {
		c := c.with(t)
		c.subscribe("devices.dev1.>")
		barrier(t, nc, c, `{"action":"publish","subject":"devices.dev1.barrier","data":0}`, "devices.dev1.barrier")
		workerGets(t, devices, "devices.dev1.barrier", "dev1")
		if err := nc.Publish("devices.dev1.cmd", []byte(`{"reboot":true}`)); err != nil {
			t.Fatal(err)
		}
		workerGets(t, devices, "devices.dev1.cmd", "") // the worker hears itself
		for _, want := range []string{"devices.dev1.barrier", "devices.dev1.cmd"} {
			if f := c.expect("message"); f.Subject != want {
				t.Fatalf("message on %s, want %s", f.Subject, want)
			}
		}
	})

	// A principal id is escaped into one token: it never widens
	// devices.{principal}.> (README: '.' %2E, '*' %2A, '>' %3E, ' ' %20).
	for _, tc := range []struct{ sub, escaped string }{
		{"dev1.>", "dev1%2E%3E"},
		{"*", "%2A"},
		{">", "%3E"},
		{"dev2.temp", "dev2%2Etemp"},
		{"dev2 x", "dev2%20x"},
	} {
		t.Run("principal "+tc.sub+" gets no other device", func(t *testing.T) {
			c := dial(t, g.WS("/"), bearer(token(t, tc.sub, true)))
			for _, s := range []string{"devices.dev2.x", "devices.dev2.temp", "devices.dev1.x"} {
				publishErr(c, s, "forbidden")
			}
			for _, p := range []string{"devices.>", "devices.dev2.>", "devices.*.x", "devices.dev1.>"} {
				subscribeErr(c, p, "forbidden")
			}
			own := "devices." + tc.escaped + ".x"
			c.send(map[string]any{"action": "publish", "subject": own, "data": 1})
			workerGets(t, devices, own, tc.sub)
		})
	}

	t.Run("default_permissions apply without a permissions claim", func(t *testing.T) {
		c := dial(t, g.WS("/"), bearer(token(t, "dev3", false)))
		publishErr(c, "devices.dev3.temp", "forbidden")
		subscribeErr(c, "devices.dev3.>", "forbidden")
		c.send(`{"action":"publish","subject":"defaults.dev3.temp","data":1}`)
		workerGets(t, defaults, "defaults.dev3.temp", "dev3")
		c.subscribe("defaults.dev3.>")
	})
}

// authorizerAllow is the answer of the test authorizers for an admitted
// client.
const authorizerAllow = `{"allow":true,"principal":"u1",
 "permissions":{"publish":{"allow":["users.{principal}.>"]},"subscribe":{"allow":["users.{principal}.>"]}},
 "context":{"plan":"pro"},"ttl":"60s"}`

// TestAuthNATSAuthorizer asks a NATS worker about each client, caches its
// answer, passes its context on, and fails closed.
func TestAuthNATSAuthorizer(t *testing.T) {
	g := startGateway(t, gwOpts{Config: `
auth:
  authenticators:
    - type: nats
      nats:
        subject: auth.check
        timeout: 300ms
`})
	nc := natsConn(t, g.NATSURL)

	t.Run("no authorizer listening: refused", func(t *testing.T) {
		start := time.Now()
		refused(t, g.WS("/"), bearer("na-early"), http.StatusUnauthorized)
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("refusal took %s", d)
		}
	})

	type request struct {
		Protocol string              `json:"protocol"`
		Token    string              `json:"token"`
		SourceIP string              `json:"sourceIp"`
		Headers  map[string][]string `json:"headers"`
	}
	var (
		mu    sync.Mutex
		asked = map[string]int{}
		reqs  []request
	)
	authz, err := nc.Subscribe("auth.check", func(m *nats.Msg) {
		var r request
		_ = json.Unmarshal(m.Data, &r)
		mu.Lock()
		asked[r.Token]++
		reqs = append(reqs, r)
		mu.Unlock()
		switch r.Token {
		case "na-allow":
			_ = m.Respond([]byte(authorizerAllow))
		case "na-deny":
			_ = m.Respond([]byte(`{"allow":false,"reason":"nope"}`))
		case "na-garbage":
			_ = m.Respond([]byte(`not json`))
		case "na-slow": // never answers: the gateway's 300ms timeout refuses
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = authz.Unsubscribe() })
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	askedFor := func(tok string) int {
		mu.Lock()
		defer mu.Unlock()
		return asked[tok]
	}

	t.Run("allowed, asked once for two connections", func(t *testing.T) {
		c1 := dial(t, g.WS("/"), bearer("na-allow"))
		c2 := dial(t, g.WS("/ws"), bearer("na-allow"))
		if n := askedFor("na-allow"); n != 1 {
			t.Errorf("authorizer asked %d times for one token, want 1 (cached for its ttl)", n)
		}
		mu.Lock()
		r := reqs[len(reqs)-1]
		mu.Unlock()
		if r.Token != "na-allow" || r.Protocol != "json" || r.SourceIP != "127.0.0.1" ||
			len(r.Headers["Authorization"]) != 1 || r.Headers["Authorization"][0] != "Bearer na-allow" {
			t.Errorf("authorizer request %+v", r)
		}

		users := workerSub(t, nc, "users.>")
		for i, c := range []*client{c1, c2} {
			c.send(map[string]any{"action": "publish", "subject": "users.u1.note", "data": i})
			m := nextMsg(t, users)
			if m.Header.Get("Wsgate-Principal") != "u1" || m.Header.Get("Wsgate-Context-plan") != "pro" {
				t.Errorf("connection %d: headers %v, want Wsgate-Principal u1 and Wsgate-Context-plan pro", i+1, m.Header)
			}
		}
		// The answer's permissions apply.
		publishErr(c1, "users.u2.note", "forbidden")
		c1.subscribe("users.u1.>")
	})

	for _, tok := range []string{"na-deny", "na-garbage", "na-slow"} {
		t.Run("refused/"+tok, func(t *testing.T) {
			refused(t, g.WS("/"), bearer(tok), http.StatusUnauthorized)
			if n := askedFor(tok); n != 1 {
				t.Errorf("authorizer asked %d times, want 1", n)
			}
		})
	}
	t.Run("refused/no token at all, authorizer not asked", func(t *testing.T) {
		mu.Lock()
		before := len(reqs)
		mu.Unlock()
		refused(t, g.WS("/"), nil, http.StatusUnauthorized)
		mu.Lock()
		after := len(reqs)
		mu.Unlock()
		if after != before {
			t.Errorf("authorizer asked about a client with no credentials")
		}
	})
}

// TestAuthHTTPAuthorizer asks an HTTP endpoint about each client.
func TestAuthHTTPAuthorizer(t *testing.T) {
	var (
		mu   sync.Mutex
		keys []string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Token string `json:"token"`
		}
		b, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(b, &req)
		mu.Lock()
		keys = append(keys, r.Header.Get("X-Gateway-Key"))
		mu.Unlock()
		switch req.Token {
		case "h-allow":
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, strings.ReplaceAll(authorizerAllow, `"u1"`, `"h1"`))
		case "h-refuse":
			io.WriteString(w, `{"allow":false,"reason":"no"}`)
		case "h-forbidden":
			http.Error(w, "no", http.StatusForbidden)
		default:
			http.Error(w, "boom", http.StatusInternalServerError)
		}
	}))
	t.Cleanup(srv.Close)
	g := startGateway(t, gwOpts{Config: `
auth:
  authenticators:
    - type: http
      http:
        url: "` + srv.URL + `/authorize"
        headers: {X-Gateway-Key: gw-secret}
        timeout: 1s
`})
	nc := natsConn(t, g.NATSURL)

	t.Run("allowed", func(t *testing.T) {
		c := dial(t, g.WS("/"), bearer("h-allow"))
		users := workerSub(t, nc, "users.>")
		c.send(`{"action":"publish","subject":"users.h1.x","data":1}`)
		m := nextMsg(t, users)
		if m.Header.Get("Wsgate-Principal") != "h1" || m.Header.Get("Wsgate-Context-plan") != "pro" {
			t.Errorf("headers %v", m.Header)
		}
		publishErr(c, "users.u1.x", "forbidden")
		mu.Lock()
		defer mu.Unlock()
		if len(keys) == 0 || keys[0] != "gw-secret" {
			t.Errorf("authorizer saw X-Gateway-Key %q, want the configured header", keys)
		}
	})
	for _, tok := range []string{"h-refuse", "h-forbidden", "h-error"} {
		t.Run("refused/"+tok, func(t *testing.T) {
			refused(t, g.WS("/"), bearer(tok), http.StatusUnauthorized)
		})
	}
}

// TestOperatorEndpoints checks who may reach /metrics and /@connections
// when authentication is on.
func TestOperatorEndpoints(t *testing.T) {
	clientKey, adminTok := newSecret(t), newSecret(t)
	authBlock := `
auth:
  authenticators:
    - type: api_keys
      api_keys:
        keys: [{id: client-1, hash: "` + keyHash(clientKey) + `"}]
`
	type check struct {
		path   string
		hdr    http.Header
		status int
	}
	run := func(t *testing.T, base string, checks []check) {
		t.Helper()
		for _, c := range checks {
			status, body := httpGet(t, nil, base+c.path, c.hdr)
			if status != c.status {
				t.Errorf("GET %s (auth %q): HTTP %d %.200q, want %d", c.path, c.hdr.Get("Authorization"), status, body, c.status)
			}
			if status == 200 && c.path == "/metrics" && !strings.Contains(body, "go_goroutines") {
				t.Errorf("/metrics body is not the metrics: %.200q", body)
			}
		}
	}

	t.Run("no admin config: closed on the main port", func(t *testing.T) {
		g := startGateway(t, gwOpts{Config: authBlock})
		run(t, "http://"+g.Addr, []check{
			{"/metrics", nil, 403},
			{"/metrics", bearer(clientKey), 403},
			{"/@connections/x", nil, 403},
			{"/@connections/x", bearer(clientKey), 403},
			{"/healthz", nil, 200},
		})
		req, _ := http.NewRequest(http.MethodDelete, g.HTTP("/@connections/x"), nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 403 {
			t.Errorf("DELETE /@connections/x: %d, want 403", resp.StatusCode)
		}
	})

	t.Run("token_hash: the admin token opens them", func(t *testing.T) {
		g := startGateway(t, gwOpts{Config: "gateway:\n  admin:\n    token_hash: \"" + keyHash(adminTok) + "\"\n" + authBlock})
		run(t, "http://"+g.Addr, []check{
			{"/metrics", nil, 401},
			{"/metrics", bearer(clientKey), 401},
			{"/metrics", bearer(adminTok + "x"), 401},
			{"/metrics", http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte("admin:"+adminTok))}}, 401},
			{"/metrics", bearer(adminTok), 200},
			// RFC 7235 section 2.1: the auth scheme is case-insensitive,
			// as it is for client credentials.
			{"/metrics", http.Header{"Authorization": {"bearer " + adminTok}}, 200},
			{"/@connections/x", nil, 401},
			{"/@connections/x", bearer(clientKey), 401},
			{"/@connections/x", bearer(adminTok), 410},
		})
		// The admin token is no client credential.
		refused(t, g.WS("/"), bearer(adminTok), http.StatusUnauthorized)
	})

	t.Run("listen: on their own address only", func(t *testing.T) {
		admin := freeAddr(t)
		g := startGateway(t, gwOpts{Config: "gateway:\n  admin:\n    listen: " + admin + "\n" + authBlock})
		run(t, "http://"+admin, []check{
			{"/metrics", nil, 200},
			{"/@connections/x", nil, 410},
			{"/healthz", nil, 200},
		})
		// Not registered on the main port at all: plain 404s.
		run(t, "http://"+g.Addr, []check{
			{"/metrics", nil, 404},
			{"/metrics", bearer(clientKey), 404},
			{"/@connections/x", nil, 404},
			{"/healthz", nil, 200},
		})
	})

	t.Run("listen and token_hash: the admin address needs the token", func(t *testing.T) {
		admin := freeAddr(t)
		g := startGateway(t, gwOpts{Config: "gateway:\n  admin:\n    listen: " + admin + "\n    token_hash: \"" + keyHash(adminTok) + "\"\n" + authBlock})
		run(t, "http://"+admin, []check{
			{"/metrics", nil, 401},
			{"/metrics", bearer(clientKey), 401},
			{"/metrics", bearer(adminTok), 200},
		})
		run(t, "http://"+g.Addr, []check{{"/metrics", bearer(adminTok), 404}})
	})
}

// TestAuthOrigin refuses cross-origin browsers when authentication is on,
// unless their origin is listed.
func TestAuthOrigin(t *testing.T) {
	key := newSecret(t)
	g := startGateway(t, gwOpts{Config: `
gateway:
  allowed_origins: ["https://app.example"]
auth:
  authenticators:
    - type: api_keys
      api_keys:
        keys: [{id: browser, hash: "` + keyHash(key) + `"}]
`})
	withOrigin := func(origin string, tok string) http.Header {
		h := http.Header{}
		if origin != "" {
			h.Set("Origin", origin)
		}
		if tok != "" {
			h.Set("Authorization", "Bearer "+tok)
		}
		return h
	}
	for _, tc := range []struct {
		name, origin, tok string
		status            int
	}{
		{"cross-origin with a valid key", "https://evil.example", key, 403},
		{"cross-origin without a key", "https://evil.example", "", 403},
		{"opaque origin", "null", key, 403},
		{"look-alike origin", "https://app.example.evil.example", key, 403},
		{"listed origin", "https://app.example", key, 101},
		{"listed origin, case differs", "HTTPS://APP.EXAMPLE", key, 101},
		{"listed origin without a key", "https://app.example", "", 401},
		{"same origin", "http://" + g.Addr, key, 101},
		{"no Origin (not a browser)", "", key, 101},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body, _ := tryDial(t, nil, g.WS("/"), withOrigin(tc.origin, tc.tok))
			if status != tc.status {
				t.Errorf("HTTP %d %q, want %d", status, body, tc.status)
			}
		})
	}
}

// TestMTLS admits clients by their TLS client certificate.
func TestMTLS(t *testing.T) {
	pki := newTestPKI(t, "device-7")
	g := startTLSGateway(t, `
tls:
  cert_file: `+pki.serverCert+`
  key_file: `+pki.serverKy+`
  client_ca_file: `+pki.caFile+`
  client_auth: require
auth:
  authenticators:
    - type: mtls
      mtls:
        permissions:
          publish:   {allow: ["devices.{principal}.>"]}
          subscribe: {allow: ["devices.{principal}.>"]}
`, pki.clientTLS(pki.client))
	nc := natsConn(t, g.NATSURL)
	url := "wss://" + g.Addr + "/"

	t.Run("client certificate admitted as its CN", func(t *testing.T) {
		d := &websocket.Dialer{TLSClientConfig: pki.clientTLS(pki.client), HandshakeTimeout: 10 * time.Second}
		c := dialWith(t, d, url, nil)
		sub := workerSub(t, nc, "devices.>")
		c.send(`{"action":"publish","subject":"devices.device-7.temp","data":1}`)
		m := nextMsg(t, sub)
		if p := m.Header.Get("Wsgate-Principal"); p != "device-7" {
			t.Errorf("Wsgate-Principal %q, want device-7", p)
		}
		publishErr(c, "devices.device-8.temp", "forbidden")
	})
	t.Run("no client certificate: handshake fails", func(t *testing.T) {
		d := &websocket.Dialer{TLSClientConfig: pki.clientTLS(), HandshakeTimeout: 10 * time.Second}
		status, body, _ := tryDial(t, d, url, nil)
		if status == http.StatusSwitchingProtocols {
			t.Fatal("admitted without a client certificate")
		}
		t.Logf("refused: HTTP %d %s", status, body)
	})
	t.Run("certificate from another CA: handshake fails", func(t *testing.T) {
		other := newTestPKI(t, "device-7")
		d := &websocket.Dialer{TLSClientConfig: pki.clientTLS(other.client), HandshakeTimeout: 10 * time.Second}
		status, body, _ := tryDial(t, d, url, nil)
		if status == http.StatusSwitchingProtocols {
			t.Fatal("admitted with a certificate of an untrusted CA")
		}
		t.Logf("refused: HTTP %d %s", status, body)
	})
}

// TestBypassReserved checks that no client reaches the reserved subjects,
// not even in dev mode, and that a worker's push to one connection goes to
// that connection only.
func TestBypassReserved(t *testing.T) {
	g := startGateway(t, gwOpts{})
	nc := natsConn(t, g.NATSURL)
	target, id := dialID(t, g, nc, "/")
	c := dial(t, g.WS("/"), nil)

	t.Run("subscribe to reserved subjects is forbidden", func(t *testing.T) {
		c := c.with(t)
		for _, p := range []string{"wsgate.>", "wsgate.*", "wsgate.conn.*.send", "wsgate.conn." + id + ".send",
			"wsgate.events.connect", "$SYS.>", "$SYS.REQ.SERVER.PING", "$JS.API.>", "$KV.>", "_INBOX.>", "_INBOX.abc"} {
			subscribeErr(c, p, "forbidden")
		}
	})
	t.Run("publish to reserved subjects is forbidden", func(t *testing.T) {
		c := c.with(t)
		for _, s := range []string{"wsgate.conn." + id + ".send", "wsgate.conn." + id + ".close",
			"wsgate.events.connect", "$SYS.REQ.SERVER.PING", "$JS.API.STREAM.LIST", "_INBOX.abc"} {
			publishErr(c, s, "forbidden")
		}
		c.send(map[string]any{"action": "request", "subject": "wsgate.conn." + id + ".info", "data": ""})
		if f := c.next(); f.Type != "error" || f.Error != "forbidden" {
			t.Fatalf("request to another connection's info: %+v", f)
		}
		// The target was neither closed nor pushed to.
		target := target.with(t)
		publishOK(target, "still.open", 1)
	})
	t.Run("a wide subscription never sees another connection's push", func(t *testing.T) {
		all := dial(t, g.WS("/"), nil)
		all.subscribe(">")
		conns := dial(t, g.WS("/"), nil)
		conns.subscribe("*.conn.*.send")
		builtinBarrier(t, nc, all)
		builtinBarrier(t, nc, conns)

		if err := nc.Publish("wsgate.conn."+id+".send", []byte("secret-push")); err != nil {
			t.Fatal(err)
		}
		if b := target.with(t).read(10 * time.Second); string(b) != "secret-push" {
			t.Fatalf("target got %q, want the raw push", b)
		}
		// A marker after the push that both patterns match.
		if err := nc.Publish("app.conn.x.send", []byte(`"marker"`)); err != nil {
			t.Fatal(err)
		}
		for name, w := range map[string]*client{">": all.with(t), "*.conn.*.send": conns.with(t)} {
			for {
				f := w.next()
				if f.Type == "message" && f.Subject == "e2e.barrier" && name == ">" {
					continue // the barriers' own publishes
				}
				if f.Type != "message" || f.Subject != "app.conn.x.send" {
					t.Errorf("subscriber of %s got %+v before the marker", name, f)
				}
				break
			}
		}
	})
}
