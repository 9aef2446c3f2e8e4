package jsonws

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestCompileErrors(t *testing.T) {
	pub := func(subject string) RouteConfig { return RouteConfig{Integration: kindPublish, Subject: subject} }
	tests := []struct {
		name string
		cfg  Config
		want []string // each must appear in the error text
	}{
		{"missing integration", Config{Routes: map[string]RouteConfig{"x": {Subject: "a"}}},
			[]string{"routes.x.integration: missing"}},
		{"unknown integration", Config{Routes: map[string]RouteConfig{"x": {Integration: "pub", Subject: "a"}}},
			[]string{`routes.x.integration: unknown "pub"`}},
		{"reserved $ key", Config{Routes: map[string]RouteConfig{"$foo": pub("a")}},
			[]string{"routes.$foo.key"}},
		{"empty key", Config{Routes: map[string]RouteConfig{"": pub("a")}},
			[]string{"routes..key: empty route key"}},
		{"missing subject", Config{Routes: map[string]RouteConfig{"x": {Integration: kindPublish}}},
			[]string{"routes.x.subject: missing"}},
		{"unclosed placeholder", Config{Routes: map[string]RouteConfig{"x": pub("chat.{body.room")}},
			[]string{"routes.x.subject"}},
		{"empty token", Config{Routes: map[string]RouteConfig{"x": pub("chat..room")}},
			[]string{"routes.x.subject"}},
		{"unknown variable", Config{Routes: map[string]RouteConfig{"x": pub("chat.{room}")}},
			[]string{"routes.x.subject: unknown variable {room}"}},
		{"bare body variable", Config{Routes: map[string]RouteConfig{"x": pub("chat.{body}")}},
			[]string{"routes.x.subject: unknown variable {body}"}},
		{"wildcard on publish", Config{Routes: map[string]RouteConfig{"x": pub("chat.*")}},
			[]string{"routes.x.subject: wildcards are only for subscribe routes"}},
		{"full wildcard on request", Config{Routes: map[string]RouteConfig{"x": {Integration: kindRequest, Subject: "chat.>"}}},
			[]string{"routes.x.subject: wildcards"}},
		{"bad client-named subject", Config{Routes: map[string]RouteConfig{"x": pub("$request.body..s")}},
			[]string{"routes.x.subject"}},
		{"client-named subject outside the body", Config{Routes: map[string]RouteConfig{"x": pub("$request.query.s")}},
			[]string{"routes.x.subject"}},
		{"http without url", Config{Routes: map[string]RouteConfig{"x": {Integration: kindHTTP}}},
			[]string{"routes.x.url"}},
		{"http with ftp url", Config{Routes: map[string]RouteConfig{"x": {Integration: kindHTTP, HTTPRoute: HTTPRoute{URL: "ftp://host/x"}}}},
			[]string{`routes.x.url: an http integration needs an absolute http:// or https:// URL, got "ftp://host/x"`}},
		{"http with relative url", Config{Routes: map[string]RouteConfig{"x": {Integration: kindHTTP, HTTPRoute: HTTPRoute{URL: "/hook"}}}},
			[]string{"routes.x.url"}},
		{"http with unparsable url", Config{Routes: map[string]RouteConfig{"x": {Integration: kindHTTP, HTTPRoute: HTTPRoute{URL: "http://[::1"}}}},
			[]string{"routes.x.url"}},
		{"http with subject", Config{Routes: map[string]RouteConfig{"x": {Integration: kindHTTP, HTTPRoute: HTTPRoute{URL: "http://h/"}, Subject: "a"}}},
			[]string{"routes.x.subject: not used by an http integration"}},
		{"url on publish", Config{Routes: map[string]RouteConfig{"x": {Integration: kindPublish, Subject: "a", HTTPRoute: HTTPRoute{URL: "http://h/"}}}},
			[]string{"routes.x.url: only http integrations have a url"}},
		{"$disconnect request", Config{Routes: map[string]RouteConfig{"$disconnect": {Integration: kindRequest, Subject: "a"}}},
			[]string{"routes.$disconnect.integration"}},
		{"$disconnect subscribe", Config{Routes: map[string]RouteConfig{"$disconnect": {Integration: kindSubscribe, Subject: "a"}}},
			[]string{"routes.$disconnect.integration"}},
		{"$connect subscribe", Config{Routes: map[string]RouteConfig{"$connect": {Integration: kindSubscribe, Subject: "a"}}},
			[]string{"routes.$connect.integration"}},
		{"$connect unsubscribe", Config{Routes: map[string]RouteConfig{"$connect": {Integration: kindUnsubscribe, Subject: "a"}}},
			[]string{"routes.$connect.integration"}},
		{"body in $connect subject", Config{Routes: map[string]RouteConfig{"$connect": {Integration: kindRequest, Subject: "auth.{body.x}"}}},
			[]string{"routes.$connect.subject: {body.x}"}},
		{"body in $disconnect subject", Config{Routes: map[string]RouteConfig{"$disconnect": pub("gone.{body.x}")}},
			[]string{"routes.$disconnect.subject: {body.x}"}},
		{"queue on publish", Config{Routes: map[string]RouteConfig{"x": {Integration: kindPublish, Subject: "a", Queue: "q"}}},
			[]string{"routes.x.queue: only subscribe routes"}},
		{"queue on request", Config{Routes: map[string]RouteConfig{"x": {Integration: kindRequest, Subject: "a", Queue: "q"}}},
			[]string{"routes.x.queue"}},
		{"invalid queue", Config{Routes: map[string]RouteConfig{"x": {Integration: kindSubscribe, Subject: "a", Queue: "q w"}}},
			[]string{"routes.x.queue"}},
		{"bad client-named queue", Config{Routes: map[string]RouteConfig{"x": {Integration: kindSubscribe, Subject: "a", Queue: "$request.body."}}},
			[]string{"routes.x.queue"}},
		{"payload not a variable", Config{Routes: map[string]RouteConfig{"x": {Integration: kindPublish, Subject: "a", Payload: "data"}}},
			[]string{`routes.x.payload: must be $request.body.<path>, got "data"`}},
		{"payload outside the body", Config{Routes: map[string]RouteConfig{"x": {Integration: kindPublish, Subject: "a", Payload: "$request.query.data"}}},
			[]string{"routes.x.payload"}},
		{"payload template", Config{Routes: map[string]RouteConfig{"x": {Integration: kindPublish, Subject: "a", Payload: "${request.body.data}"}}},
			[]string{"routes.x.payload"}},
		{"negative timeout", Config{Routes: map[string]RouteConfig{"x": {Integration: kindRequest, Subject: "a", Timeout: -time.Second}}},
			[]string{"routes.x.timeout: must not be negative"}},
		{"bad selection expression", Config{RouteSelectionExpression: "action"},
			[]string{"route_selection_expression: jsonws: invalid route selection expression"}},
		{"negative request timeout", Config{RequestTimeout: -1},
			[]string{"request_timeout: must not be negative"}},
		{"negative max inflight", Config{MaxInflight: -1},
			[]string{"max_inflight: must not be negative"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := compile(tc.cfg)
			if err == nil {
				t.Fatalf("compile succeeded (%d routes), want an error naming %q", len(c.routes), tc.want)
			}
			if c != nil {
				t.Error("compile returned routes with an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if v := tc.cfg.Validate(); v == nil || v.Error() != err.Error() {
				t.Errorf("Validate() = %v, want %v", v, err)
			}
			if _, nerr := New(tc.cfg); nerr == nil {
				t.Error("New accepted the config")
			}
		})
	}
}

// A $connect or $disconnect route has no message body, so its subject
// cannot be client-named: compile refuses it (it used to panic at run time).
func TestCompileClientNamedSubjectWithoutBody(t *testing.T) {
	for _, key := range []string{routeConnect, routeDisconnect} {
		cfg := Config{Routes: map[string]RouteConfig{key: {Integration: kindPublish, Subject: "$request.body.x"}}}
		if _, err := compile(cfg); err == nil || !strings.Contains(err.Error(), "routes."+key+".subject") {
			t.Errorf("%s: compile error = %v, want one naming routes.%s.subject", key, err, key)
		}
	}
}

func TestCompileCollectsEveryError(t *testing.T) {
	cfg := Config{
		RouteSelectionExpression: "$request.query.x",
		Routes: map[string]RouteConfig{
			"b": {Integration: kindPublish, Subject: "", Queue: "q", Payload: "x", Timeout: -1},
			"a": {Integration: "nope"},
		},
	}
	_, err := compile(cfg)
	if err == nil {
		t.Fatal("compile succeeded")
	}
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		t.Fatalf("error %T is not an errors.Join", err)
	}
	want := []string{
		"route_selection_expression:",
		"routes.a.integration:", // an unknown integration is the only complaint about route a
		"routes.b.subject: missing",
		"routes.b.queue:",
		"routes.b.payload:",
		"routes.b.timeout:",
	}
	errs := joined.Unwrap()
	if len(errs) != len(want) {
		t.Fatalf("%d errors, want %d:\n%v", len(errs), len(want), err)
	}
	// Routes are compiled in key order, so the errors come in a stable
	// order.
	for i, w := range want {
		if !strings.HasPrefix(errs[i].Error(), w) {
			t.Errorf("error %d = %q, want it to start with %q", i, errs[i], w)
		}
	}
	if !errors.Is(err, ErrSelection) {
		t.Error("joined error does not wrap ErrSelection")
	}
	var fe *fieldError
	if !errors.As(err, &fe) || fe.field != "integration" {
		t.Errorf("errors.As fieldError = %+v, want the integration field", fe)
	}
}

func TestCompileGoodConfig(t *testing.T) {
	cfg := Config{
		RouteSelectionExpression: "${request.body.service}/${request.body.action}",
		RequestTimeout:           3 * time.Second,
		MaxInflight:              5,
		Routes: map[string]RouteConfig{
			"$connect":    {Integration: kindRequest, Subject: "auth.connect.{connectionId}", Timeout: time.Second},
			"$disconnect": {Integration: kindHTTP, HTTPRoute: HTTPRoute{URL: "https://hooks.example/gone"}},
			"$default":    {Integration: kindPublish, Subject: "unrouted.{connectionId}"},
			"chat/send":   {Integration: kindPublish, Subject: "chat.rooms.{body.room}", Payload: "$request.body.text"},
			"chat/join":   {Integration: kindSubscribe, Subject: "chat.rooms.{body.room}.>", Queue: "members"},
			"chat/leave":  {Integration: kindUnsubscribe, Subject: "chat.rooms.{body.room}.>", Queue: "$request.body.group"},
			"rpc/call":    {Integration: kindRequest, Subject: "$request.body.subject", Raw: true},
			"hook/post":   {Integration: kindHTTP, HTTPRoute: HTTPRoute{URL: "http://127.0.0.1:8080/hook"}, Timeout: 2 * time.Second},
			"me/watch":    {Integration: kindSubscribe, Subject: "users.{principal}.{claims.sub}.{context.tenant}.{route}"},
			"disc/pub":    {Integration: kindPublish, Subject: "$request.body.a.b"},
		},
	}
	c, err := compile(cfg)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	if len(c.routes) != len(cfg.Routes) {
		t.Fatalf("%d routes, want %d", len(c.routes), len(cfg.Routes))
	}
	if c.sel == nil || c.sel.src != cfg.RouteSelectionExpression {
		t.Errorf("selection = %+v", c.sel)
	}
	if c.cfg.MaxInflight != 5 || c.cfg.RequestTimeout != 3*time.Second {
		t.Errorf("cfg = %+v", c.cfg)
	}
	tests := []struct {
		key     string
		kind    string
		subject string // template source; "" for none
		subjVar string
		queue   string
		queueV  string
		payload string
		url     string
		timeout time.Duration
		raw     bool
	}{
		{key: "$connect", kind: kindRequest, subject: "auth.connect.{connectionId}", timeout: time.Second},
		{key: "$disconnect", kind: kindHTTP, url: "https://hooks.example/gone", timeout: 3 * time.Second},
		{key: "$default", kind: kindPublish, subject: "unrouted.{connectionId}", timeout: 3 * time.Second},
		{key: "chat/send", kind: kindPublish, subject: "chat.rooms.{body.room}", payload: "text", timeout: 3 * time.Second},
		{key: "chat/join", kind: kindSubscribe, subject: "chat.rooms.{body.room}.>", queue: "members", timeout: 3 * time.Second},
		{key: "chat/leave", kind: kindUnsubscribe, subject: "chat.rooms.{body.room}.>", queueV: "group", timeout: 3 * time.Second},
		{key: "rpc/call", kind: kindRequest, subjVar: "subject", timeout: 3 * time.Second, raw: true},
		{key: "hook/post", kind: kindHTTP, url: "http://127.0.0.1:8080/hook", timeout: 2 * time.Second},
		{key: "me/watch", kind: kindSubscribe, subject: "users.{principal}.{claims.sub}.{context.tenant}.{route}", timeout: 3 * time.Second},
		{key: "disc/pub", kind: kindPublish, subjVar: "a.b", timeout: 3 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.key, func(t *testing.T) {
			r := c.routes[tc.key]
			if r == nil {
				t.Fatal("route missing")
			}
			subj, url := "", ""
			if r.subject != nil {
				subj = r.subject.String()
			}
			if r.http != nil {
				url = r.http.url.src
			}
			if r.key != tc.key || r.kind != tc.kind || subj != tc.subject || pathString(r.subjVar) != tc.subjVar ||
				r.queue != tc.queue || pathString(r.queueV) != tc.queueV || pathString(r.payload) != tc.payload ||
				url != tc.url || r.timeout != tc.timeout || r.raw != tc.raw {
				t.Errorf("route = %+v (subject %q), want %+v", *r, subj, tc)
			}
		})
	}
	if _, err := New(cfg); err != nil {
		t.Errorf("New: %v", err)
	}
}

func TestCompileBuiltinRoutes(t *testing.T) {
	for name, routes := range map[string]map[string]RouteConfig{"nil": nil, "empty": {}} {
		t.Run(name, func(t *testing.T) {
			c, err := compile(Config{Routes: routes})
			if err != nil {
				t.Fatalf("compile: %v", err)
			}
			if c.cfg.RouteSelectionExpression != "$request.body.action" || c.cfg.RequestTimeout != 10*time.Second || c.cfg.MaxInflight != 64 {
				t.Errorf("defaults = %+v", c.cfg)
			}
			want := map[string]string{
				"subscribe":   kindSubscribe,
				"unsubscribe": kindUnsubscribe,
				"publish":     kindPublish,
				"request":     kindRequest,
			}
			if len(c.routes) != len(want) {
				t.Fatalf("routes = %v, want the %d built-in ones", c.routes, len(want))
			}
			for k, kind := range want {
				r := c.routes[k]
				if r == nil || r.kind != kind || pathString(r.subjVar) != "subject" || r.subject != nil {
					t.Errorf("route %s = %+v", k, r)
				}
			}
			if p := c.routes["publish"].payload; pathString(p) != "data" {
				t.Errorf("publish payload = %q, want data", p)
			}
			if q := c.routes["subscribe"].queueV; pathString(q) != "queue" {
				t.Errorf("subscribe queue = %q, want queue", q)
			}
			if c.routes["request"].timeout != 10*time.Second {
				t.Errorf("request timeout = %s", c.routes["request"].timeout)
			}
		})
	}
	// The caller's config is not changed by the defaults.
	cfg := Config{}
	_, _ = compile(cfg)
	if cfg.Routes != nil || cfg.RouteSelectionExpression != "" {
		t.Error("compile changed its argument")
	}
}
