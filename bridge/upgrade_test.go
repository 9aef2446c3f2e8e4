package bridge

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
)

func TestOriginAllowed(t *testing.T) {
	tests := []struct {
		name   string
		cfg    Config
		host   string
		origin string
		want   bool
	}{
		{"no origin: not a browser", Config{}, "gw.example:8080", "", true},
		{"same host", Config{}, "gw.example:8080", "http://gw.example:8080", true},
		{"same host over https", Config{}, "gw.example", "https://gw.example", true},
		{"same host, other case", Config{}, "GW.example", "https://gw.EXAMPLE", true},
		{"cross origin", Config{}, "gw.example", "https://evil.example", false},
		{"same name, other port", Config{}, "gw.example:8080", "http://gw.example:9090", false},
		{"suffix trick", Config{}, "gw.example", "https://gw.example.evil.example", false},
		{"userinfo trick", Config{}, "gw.example", "https://gw.example@evil.example", false},
		{"null origin", Config{}, "gw.example", "null", false},
		{"garbage", Config{}, "gw.example", "::::", false},
		{"allowed origin", Config{AllowedOrigins: []string{"https://app.example"}}, "gw.example", "https://app.example", true},
		{"allowed origin, other case", Config{AllowedOrigins: []string{"https://app.example"}}, "gw.example", "https://APP.example", true},
		{"allowed origin, other scheme", Config{AllowedOrigins: []string{"https://app.example"}}, "gw.example", "http://app.example", false},
		{"not in the list", Config{AllowedOrigins: []string{"https://app.example"}}, "gw.example", "https://evil.example", false},
		{"insecure skip", Config{InsecureSkipOriginCheck: true}, "gw.example", "https://evil.example", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := &Gateway{cfg: tc.cfg.withDefaults()}
			g.live.Store(&live{allowedOrigins: g.cfg.AllowedOrigins, skipOrigin: g.cfg.InsecureSkipOriginCheck})
			r := httptest.NewRequest("GET", "http://"+tc.host+"/", nil)
			if tc.origin != "" {
				r.Header.Set("Origin", tc.origin)
			}
			if got := g.originAllowed(r); got != tc.want {
				t.Errorf("originAllowed = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestOriginCheckOnUpgrade(t *testing.T) {
	dial := func(e *env, origin string) int {
		t.Helper()
		c, resp, err := (&websocket.Dialer{}).Dial(e.wsURL("/"), http.Header{"Origin": {origin}})
		if err == nil {
			c.Close()
			return http.StatusSwitchingProtocols
		}
		if resp == nil {
			t.Fatalf("dial: %v", err)
		}
		return resp.StatusCode
	}
	e := newEnvAuth(t, Config{}, allowAll{})
	self := "http://" + strings.TrimPrefix(e.srv.URL, "http://")
	if got := dial(e, "https://evil.example"); got != http.StatusForbidden {
		t.Errorf("cross-origin upgrade: HTTP %d, want 403", got)
	}
	// Dev mode (no authenticator) lets a page on another local port in.
	if got := dial(newEnv(t, Config{}), "http://localhost:3000"); got != http.StatusSwitchingProtocols {
		t.Errorf("dev mode cross-origin upgrade: HTTP %d, want 101", got)
	}
	if got := dial(e, self); got != http.StatusSwitchingProtocols {
		t.Errorf("same-origin upgrade: HTTP %d, want 101", got)
	}
	listed := newEnv(t, Config{AllowedOrigins: []string{"https://app.example"}})
	if got := dial(listed, "https://app.example"); got != http.StatusSwitchingProtocols {
		t.Errorf("listed origin: HTTP %d, want 101", got)
	}
	if got := dial(listed, "https://evil.example"); got != http.StatusForbidden {
		t.Errorf("unlisted origin: HTTP %d, want 403", got)
	}
	open := newEnv(t, Config{InsecureSkipOriginCheck: true})
	if got := dial(open, "https://evil.example"); got != http.StatusSwitchingProtocols {
		t.Errorf("InsecureSkipOriginCheck: HTTP %d, want 101", got)
	}
}

func twoProtocols() (a, b *testProto) {
	a = &testProto{name: "a", tokens: []string{"a.v2", "a.v1"}, paths: []string{"/a"}}
	b = &testProto{name: "b", tokens: []string{"b.v1"}, paths: []string{"/", "/b"}}
	return a, b
}

func TestPick(t *testing.T) {
	a, b := twoProtocols()
	g := &Gateway{byToken: map[string]Protocol{}, byPath: map[string]Protocol{}}
	for _, p := range []Protocol{a, b} {
		if err := g.register(p); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		path, offer string
		want        Protocol
		token       string
	}{
		{"/", "x, b.v1, a.v1", b, "b.v1"},
		{"/", "a.v1, b.v1", a, "a.v1"},
		{"/", "a.v1,a.v2", a, "a.v1"}, // the client's order, not ours
		{"/a", "", a, ""},
		{"/b", "", b, ""},
		{"/", "", b, ""},
		{"/a", "b.v1", b, "b.v1"},  // a token wins over the path
		{"/a", "unknown", nil, ""}, // an offer of unknown tokens only is refused, whatever the path
		{"/nowhere", "", nil, ""},
		{"/nowhere", "a.v2", a, "a.v2"},
		{"/A", "", nil, ""},
		{"/", "A.V1", nil, ""}, // tokens are case-sensitive
	}
	for _, tc := range tests {
		r := httptest.NewRequest("GET", tc.path, nil)
		if tc.offer != "" {
			r.Header.Set("Sec-WebSocket-Protocol", tc.offer)
		}
		p, token, _ := g.pick(r)
		if p != tc.want || token != tc.token {
			t.Errorf("pick(%s, %q) = %v %q, want %v %q", tc.path, tc.offer, p, token, tc.want, tc.token)
		}
	}
}

func TestPickOnUpgrade(t *testing.T) {
	a, b := twoProtocols()
	e := newEnv(t, Config{}, a, b)
	tests := []struct {
		path   string
		offer  []string
		proto  string
		echoed string
	}{
		{"/a", []string{"x", "b.v1", "a.v1"}, "b", "b.v1"},
		{"/", []string{"a.v1", "b.v1"}, "a", "a.v1"},
		{"/a", nil, "a", ""},
		{"/", nil, "b", ""},
	}
	for _, tc := range tests {
		c, resp, err := (&websocket.Dialer{Subprotocols: tc.offer}).Dial(e.wsURL(tc.path), nil)
		if err != nil {
			t.Fatalf("dial %s %v: %v", tc.path, tc.offer, err)
		}
		cl := &client{t: t, c: c}
		cl.send("hello")
		hello := strings.Fields(cl.read())
		c.Close()
		if len(hello) != 3 || hello[1] != tc.proto {
			t.Errorf("%s %v: hello %v, want protocol %s", tc.path, tc.offer, hello, tc.proto)
		}
		echoed := resp.Header.Values("Sec-WebSocket-Protocol")
		switch {
		case tc.echoed == "" && len(echoed) != 0:
			t.Errorf("%s %v: echoed %q, want none", tc.path, tc.offer, echoed)
		case tc.echoed != "" && (len(echoed) != 1 || echoed[0] != tc.echoed || c.Subprotocol() != tc.echoed):
			t.Errorf("%s %v: echoed %q, want exactly %q", tc.path, tc.offer, echoed, tc.echoed)
		}
	}
	refusals := []struct {
		path   string
		offer  []string
		status int
		says   string
	}{
		{"/nowhere", nil, http.StatusNotFound, "use one of /, /a, /b, or offer a subprotocol: a.v1, a.v2, b.v1"},
		// Without a token of ours in the answer, browsers fail the
		// handshake with no reason: refuse, listing what is spoken.
		{"/", []string{"unknown"}, http.StatusBadRequest, "(unknown) is spoken here; offer one of: a.v1, a.v2, b.v1"},
		{"/a", []string{"x", "y"}, http.StatusBadRequest, "offer one of: a.v1"},
	}
	for _, tc := range refusals {
		_, resp, err := (&websocket.Dialer{Subprotocols: tc.offer}).Dial(e.wsURL(tc.path), nil)
		if err == nil || resp == nil || resp.StatusCode != tc.status {
			t.Errorf("%s %v: %v, want HTTP %d", tc.path, tc.offer, err, tc.status)
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		if !strings.Contains(string(body), tc.says) {
			t.Errorf("%s %v: %q, want it to say %q", tc.path, tc.offer, body, tc.says)
		}
	}
}
