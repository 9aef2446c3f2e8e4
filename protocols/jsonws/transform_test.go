package jsonws

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/wsgate/wsgate/bridge"
)

func TestCompileJQErrors(t *testing.T) {
	tests := []struct {
		src  string
		want string
	}{
		{".body |", "jq: line 1, column 7: unexpected EOF"},
		{".body\n| .a +\n  ]", "jq: line 3, column 3:"},
		{"{\"a\": é}", "jq: line 1, column 7:"},
		{"nosuchfunc(1)", "jq: function not defined: nosuchfunc/1"},
		{"input", "jq: input"},
		{"debug", "jq: function not defined: debug"},
		{"stderr", "jq: function not defined: stderr"},
		{"input_filename", "jq: function not defined: input_filename"},
		{`import "m" as m; .`, "jq:"},
		{"$undefined", "jq: variable not defined: $undefined"},
	}
	for _, tc := range tests {
		_, err := compileJQ(tc.src)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("compileJQ(%q) = %v, want %q", tc.src, err, tc.want)
		}
	}
}

func TestJQSandbox(t *testing.T) {
	t.Setenv("WSGATE_SECRET", "s3cret")
	for _, src := range []string{"env", "$ENV", "$ENV.WSGATE_SECRET", "env.WSGATE_SECRET"} {
		e, err := compileJQ(src)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		v, err := e.first(context.Background(), map[string]any{}, jqLimits{time.Second, 1 << 20})
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		if b := encodeResult(v); strings.Contains(string(b), "s3cret") || strings.Contains(string(b), "PATH") {
			t.Errorf("%s shows the environment: %s", src, b)
		}
	}
}

// TestJQBounds runs hostile expressions and data: each ends with an error
// (or a result) within the bounds, never hangs or grows without limit.
func TestJQBounds(t *testing.T) {
	deep := strings.Repeat("[", 9000) + strings.Repeat("]", 9000)
	huge := "[" + strings.Repeat("1,", 100000) + "1]"
	lim := jqLimits{timeout: 50 * time.Millisecond, maxBytes: 64 << 10}
	tests := []struct {
		name, src, body string
		want            string // "" means a result within the bounds
	}{
		{"infinite stream, first value", "repeat(1)", `{}`, ""},
		{"collect an infinite stream", "[repeat(1)]", `{}`, "ran longer than"},
		{"collect a huge range", "[range(1e12)]", `{}`, "ran longer than"},
		{"last of a huge range", "last(range(1e12))", `{}`, "ran longer than"},
		{"recursion", "def f: f; f", `{}`, "ran longer than"},
		{"until forever", "0 | until(false; .+1)", `{}`, "ran longer than"},
		{"big result", "[range(20000)]", `{}`, "result of more than"},
		{"big string", `"x" * 1000000`, `{}`, "result of more than"},
		{"nested result", "reduce range(30000) as $i (0; [.])", `{}`, "result of more than"},
		{"deep input", ".body | tojson | length", deep, ""},
		{"deep input flattened", ".body | flatten | length", deep, ""},
		{"huge input kept", ".body", huge, "result of more than"},
		{"huge input counted", ".body | length", huge, ""},
		{"error", `error("no")`, `{}`, "no"},
		{"no output", "empty", `{}`, "no result"},
		{"halt_error", `"bye" | halt_error`, `{}`, "bye"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, err := compileJQ(tc.src)
			if err != nil {
				t.Fatal(err)
			}
			lim := lim
			if !strings.Contains(tc.want, "longer") {
				lim.timeout = time.Minute // these end on their own: -race must not turn them into timeouts
			}
			v, err := e.first(context.Background(), map[string]any{"body": decodeJQ([]byte(tc.body))}, lim)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("%s: %v", tc.src, err)
				}
				if b := encodeResult(v); len(b) > lim.maxBytes {
					t.Errorf("%s: %d bytes", tc.src, len(b))
				}
				return
			}
			if !errors.Is(err, errTransform) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s = %v, want errTransform with %q", tc.src, err, tc.want)
			}
		})
	}
}

func TestFits(t *testing.T) {
	for _, tc := range []struct {
		v      any
		budget int
		want   bool
	}{
		{"abc", 5, true}, {"abc", 4, false}, {[]any{1, 2}, 100, true},
		{map[string]any{"k": strings.Repeat("v", 100)}, 50, false}, {[]any{[]any{[]any{}}}, 9, true}, {[]any{[]any{[]any{}}}, 4, false},
	} {
		if got := fits(tc.v, tc.budget); got != tc.want {
			t.Errorf("fits(%v, %d) = %v", tc.v, tc.budget, got)
		}
	}
}

// transformConn is a connection without a session on routes.
func transformConn(t testing.TB, routes map[string]RouteConfig) *conn {
	t.Helper()
	return benchConn(t, Config{Routes: routes})
}

func TestChooseTargets(t *testing.T) {
	routes := map[string]RouteConfig{
		"pay": {Integration: kindPublish, Subject: "payments.normal", Transforms: Transforms{Targets: []RouteConfig{
			{Integration: kindPublish, Subject: "payments.review", Transforms: Transforms{When: ".body.amount > 1000"}},
			{Integration: kindRequest, Subject: "payments.check", Transforms: Transforms{When: `.body.currency != "EUR"`}},
		}}},
		"only": {Transforms: Transforms{Targets: []RouteConfig{
			{Integration: kindPublish, Subject: "only.big", Transforms: Transforms{When: ".body.n >= 10"}},
		}}},
		"gated":  {Integration: kindPublish, Subject: "gated", Transforms: Transforms{When: `.body.kind == "ok" and .route == "gated"`}},
		"broken": {Integration: kindPublish, Subject: "x", Transforms: Transforms{When: `.body.n + "s"`}},
		"empty":  {Integration: kindPublish, Subject: "empty", Transforms: Transforms{When: `.body | objects | .flag`}},
	}
	c := transformConn(t, routes)
	withDefault := transformConn(t, map[string]RouteConfig{"only": routes["only"], routeDefault: {Integration: kindPublish, Subject: "fallback"}})
	tests := []struct {
		c       *conn
		msg     string
		subject string // of the route chosen; "" for none
		err     bool
	}{
		{c, `{"action":"pay","amount":5000,"currency":"USD"}`, "payments.review", false},
		{c, `{"action":"pay","amount":12345678901234567890,"currency":"EUR"}`, "payments.review", false},
		{c, `{"action":"pay","amount":10,"currency":"USD"}`, "payments.check", false},
		{c, `{"action":"pay","amount":10,"currency":"EUR"}`, "payments.normal", false},
		{c, `{"action":"pay"}`, "payments.check", false}, // null > 1000 is false; null != "EUR"
		{c, `{"action":"only","n":10}`, "only.big", false},
		{c, `{"action":"only","n":9}`, "", false},
		{withDefault, `{"action":"only","n":9}`, "fallback", false},
		{c, `{"action":"gated","kind":"ok"}`, "gated", false},
		{c, `{"action":"gated","kind":"no"}`, "", false},
		{c, `{"action":"broken","n":1}`, "", true},
		{c, `{"action":"empty","flag":true}`, "empty", false},
		{c, `{"action":"empty"}`, "", false}, // null
		{withDefault, `{"action":"only"}`, "fallback", false},
	}
	for _, tc := range tests {
		b, _ := parseBody([]byte(tc.msg))
		var kb [64]byte
		r, _, _ := tc.c.selectRoute(b, b.raw, kb[:0])
		in := &jqInput{c: tc.c, b: b}
		got, err := tc.c.choose(r, in)
		if got == nil && err == nil && r.key != routeDefault {
			if d := tc.c.p.cur().routes[routeDefault]; d != nil {
				got = d
			}
		}
		subj := ""
		if got != nil {
			subj = got.subject.String()
		}
		if subj != tc.subject || (err != nil) != tc.err {
			t.Errorf("%s: chose %q, %v; want %q (error %v)", tc.msg, subj, err, tc.subject, tc.err)
		}
	}
}

func TestRequestResponseTransform(t *testing.T) {
	c := transformConn(t, map[string]RouteConfig{
		"ask": {Integration: kindRequest, Subject: "svc", Transforms: Transforms{
			RequestTransform:  `{sku: .body.item.sku, qty: (.body.item.qty // 1), by: .connectionId}`,
			ResponseTransform: `{price: .body.total, sku: .request.item.sku}`,
		}},
		"text": {Integration: kindPublish, Subject: "svc", Transforms: Transforms{RequestTransform: `"hello " + .body.name`}},
	})
	b, _ := parseBody([]byte(`{"action":"ask","item":{"sku":"A-1"},"big":12345678901234567890}`))
	r := c.p.cur().routes["ask"]
	in := &jqInput{c: c, b: b}
	p, err := c.forward(context.Background(), r, b, in)
	if err != nil || string(p) != `{"by":"","qty":1,"sku":"A-1"}` {
		t.Fatalf("forward = %s, %v", p, err)
	}
	reply, err := c.transformReply(context.Background(), r, in, []byte(`{"total":9.5}`), nil)
	if err != nil || string(reply) != `{"price":9.5,"sku":"A-1"}` {
		t.Errorf("transformReply = %s, %v", reply, err)
	}
	b2, _ := parseBody([]byte(`{"action":"text","name":"ada"}`))
	if p, err := c.forward(context.Background(), c.p.cur().routes["text"], b2, &jqInput{c: c, b: b2}); err != nil || string(p) != "hello ada" {
		t.Errorf("string result = %q, %v", p, err)
	}
	// A route without transforms forwards its payload untouched.
	plain := transformConn(t, map[string]RouteConfig{"p": {Integration: kindPublish, Subject: "s", Payload: "$request.body.data"}})
	b3, _ := parseBody([]byte(`{"data": {"a" : 1}}`))
	if p, _ := plain.forward(context.Background(), plain.p.cur().routes["p"], b3, nil); string(p) != `{"a" : 1}` {
		t.Errorf("payload = %q", p)
	}
}

func TestHTTPResponseTransform(t *testing.T) {
	f := false
	c := transformConn(t, map[string]RouteConfig{"h": {Integration: kindHTTP,
		HTTPRoute:  HTTPRoute{URL: "http://h/x", Proxy: &f},
		Transforms: Transforms{ResponseTransform: `{status, ct: .headers["content-type"], n: .body.n}`}}})
	b, _ := parseBody([]byte(`{}`))
	a := &httpAnswer{status: 201, header: map[string][]string{"Content-Type": {"application/json"}}, body: []byte(`{"n":1}`)}
	out, err := c.transformReply(context.Background(), c.p.cur().routes["h"], &jqInput{c: c, b: b}, a.body, a)
	if err != nil || string(out) != `{"ct":"application/json","n":1,"status":201}` {
		t.Errorf("%s, %v", out, err)
	}
}

func TestDeliverTransform(t *testing.T) {
	for _, raw := range []bool{false, true} {
		c := transformConn(t, map[string]RouteConfig{"feed": {Integration: kindSubscribe, Subject: "prices.>", Raw: raw,
			Transforms: Transforms{Transform: `{sym: (.subject | split(".") | last), p: .body.price}`}}})
		r := c.p.cur().routes["feed"]
		f, err := deliverFrame(r, nil, c.p.cur().jq)(&bridge.Message{Subject: "prices.ACME", Data: []byte(`{"price":1.5,"x":"big"}`)})
		if err != nil {
			t.Fatal(err)
		}
		want := `{"type":"message","subject":"prices.ACME","data":{"p":1.5,"sym":"ACME"}}`
		if raw {
			want = `{"p":1.5,"sym":"ACME"}`
		}
		if got := string(f.Payload()); got != want {
			t.Errorf("raw %v: %s, want %s", raw, got, want)
		}
		f, _ = deliverFrame(r, nil, c.p.cur().jq)(&bridge.Message{Subject: "prices.X", Data: []byte(`not json`)})
		var env Envelope
		if err := json.Unmarshal(f.Payload(), &env); err != nil || env.Type != "error" || env.Error != errTransformFailed {
			t.Errorf("failed transform: %s", f.Payload())
		}
	}
}

func TestCompileTransformErrors(t *testing.T) {
	f := false
	tests := []struct {
		name string
		key  string
		rc   RouteConfig
		want string
	}{
		{"bad when", "x", RouteConfig{Integration: kindPublish, Subject: "a", Transforms: Transforms{When: ".body |"}}, "routes.x.when: jq: line 1, column 7"},
		{"when on $connect", "$connect", RouteConfig{Integration: kindRequest, Subject: "a", Transforms: Transforms{When: "true"}}, "routes.$connect.when: not on $connect"},
		{"bad target", "x", RouteConfig{Integration: kindPublish, Subject: "a", Transforms: Transforms{Targets: []RouteConfig{{Integration: kindPublish}}}}, "routes.x.targets[0].subject: missing"},
		{"bad target when", "x", RouteConfig{Transforms: Transforms{Targets: []RouteConfig{{Integration: kindPublish, Subject: "a", Transforms: Transforms{When: "("}}}}}, "routes.x.targets[0].when: jq: line 1"},
		{"nested targets", "x", RouteConfig{Transforms: Transforms{Targets: []RouteConfig{{Integration: kindPublish, Subject: "a", Transforms: Transforms{Targets: []RouteConfig{{Integration: kindPublish, Subject: "b"}}}}}}}, "routes.x.targets[0].targets: targets do not nest"},
		{"target rate", "x", RouteConfig{Transforms: Transforms{Targets: []RouteConfig{{Integration: kindPublish, Subject: "a", Rate: 1}}}}, "routes.x.targets[0].rate:"},
		{"subject without integration", "x", RouteConfig{Subject: "a", Transforms: Transforms{Targets: []RouteConfig{{Integration: kindPublish, Subject: "b"}}}}, "routes.x.integration: missing"},
		{"request_transform on subscribe", "x", RouteConfig{Integration: kindSubscribe, Subject: "a", Transforms: Transforms{RequestTransform: "."}}, "routes.x.request_transform: only on publish"},
		{"request_transform on an http proxy", "x", RouteConfig{Integration: kindHTTP, HTTPRoute: HTTPRoute{URL: "http://h/"}, Transforms: Transforms{RequestTransform: "."}}, "routes.x.request_transform: only with proxy: false"},
		{"request_transform on GET", "x", RouteConfig{Integration: kindHTTP, HTTPRoute: HTTPRoute{URL: "http://h/", Method: "GET", Proxy: &f}, Transforms: Transforms{RequestTransform: "."}}, "routes.x.request_transform: GET sends no body"},
		{"request_transform and payload", "x", RouteConfig{Integration: kindPublish, Subject: "a", Payload: "$request.body.d", Transforms: Transforms{RequestTransform: "."}}, "routes.x.request_transform: payload and"},
		{"response_transform on publish", "x", RouteConfig{Integration: kindPublish, Subject: "a", Transforms: Transforms{ResponseTransform: "."}}, "routes.x.response_transform: only on request and http"},
		{"transform on publish", "x", RouteConfig{Integration: kindPublish, Subject: "a", Transforms: Transforms{Transform: "."}}, "routes.x.transform: only on subscribe"},
		{"bad transform", "x", RouteConfig{Integration: kindSubscribe, Subject: "a", Transforms: Transforms{Transform: "{"}}, "routes.x.transform: jq: line 1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Config{Routes: map[string]RouteConfig{tc.key: tc.rc}}.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate = %v, want %q", err, tc.want)
			}
		})
	}
}

// FuzzTransformInput runs a transform and a condition over any client
// message: they end with a result or errTransform, within the bounds.
func FuzzTransformInput(f *testing.F) {
	for _, s := range []string{`{"amount":5000}`, `{"amount":"x"}`, `{}`, `[`, `"s"`, `{"amount":1e400}`, strings.Repeat("[", 500) + strings.Repeat("]", 500), "\xff"} {
		f.Add([]byte(s))
	}
	c := transformConn(f, map[string]RouteConfig{"x": {Integration: kindPublish, Subject: "a", Transforms: Transforms{
		When: ".body.amount > 1000", RequestTransform: `{a: .body.amount, keys: (.body | if type == "object" then keys else [] end)}`}}})
	r := c.p.cur().routes["x"]
	f.Fuzz(func(t *testing.T, data []byte) {
		b := getBody()
		defer putBody(b)
		b.parse(data)
		in := &jqInput{c: c, b: b}
		if _, err := c.choose(r, in); err != nil && !errors.Is(err, errTransform) {
			t.Fatalf("choose: %v", err)
		}
		p, err := c.forward(context.Background(), r, b, in)
		if err != nil && !errors.Is(err, errTransform) {
			t.Fatalf("forward: %v", err)
		}
		if err == nil && !json.Valid(p) {
			t.Fatalf("forward made %q", p)
		}
	})
}

// FuzzDecodeJQ holds decodeValid to encoding/json's answers (UseNumber).
func FuzzDecodeJQ(f *testing.F) {
	for _, s := range []string{`{"a":1,"a":2}`, `[1,"x\u00e9\ud800",true,false,null,{"":[]}]`, ` {"k" : [ 1.5e3 , -0 ] } `, "\"a\xffb\"", `"\u0000"`, `{}`, `[]`, bench300} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if !json.Valid(data) {
			return
		}
		got := decodeJQ(data)
		d := json.NewDecoder(strings.NewReader(string(data)))
		d.UseNumber()
		var want any
		if err := d.Decode(&want); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("decodeJQ(%q) = %#v, encoding/json says %#v", data, got, want)
		}
		if b, ok := parseBody(data); ok && !reflect.DeepEqual(decodeBody(b), want) {
			t.Fatalf("decodeBody(%q) differs", data)
		}
	})
}

// TestJQConcurrent runs one compiled expression from many goroutines, as
// connections do (go test -race).
func TestJQConcurrent(t *testing.T) {
	e, err := compileJQ(`{id: .body.order.id, n: [.body.order.items[] | .qty] | add, s: .stage.x}`)
	if err != nil {
		t.Fatal(err)
	}
	shared := map[string]any{"x": "y"}
	done := make(chan string, 8)
	for range 8 {
		go func() {
			var last string
			for range 50 {
				v, err := e.first(context.Background(), map[string]any{"body": decodeJQ([]byte(bench300)), "stage": shared}, jqLimits{time.Minute, 1 << 20})
				if err != nil {
					last = err.Error()
					break
				}
				last = string(encodeResult(v))
			}
			done <- last
		}()
	}
	for range 8 {
		if got := <-done; got != `{"id":"o-1234","n":3,"s":"y"}` {
			t.Errorf("got %s", got)
		}
	}
}
