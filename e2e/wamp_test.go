package e2e

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// TestWAMP runs the WAMP scenarios against one gateway over each
// serializer: join and leave, pub/sub with every match policy, publisher
// exclusion, calls to NATS workers (errors, timeout, cancel, progressive
// results), NATS requests to WAMP callees.
func TestWAMP(t *testing.T) {
	g := startGateway(t, gwOpts{Config: "wamp:\n  call_timeout: 3s\n"})
	nc := natsConn(t, g.NATSURL)
	worker := func(subject string, fn nats.MsgHandler) {
		if _, err := nc.Subscribe(subject, fn); err != nil {
			t.Fatal(err)
		}
	}
	worker("e2e.wamp.upper", func(m *nats.Msg) {
		r := nats.NewMsg(m.Reply)
		r.Data = []byte(fmt.Sprintf(`{"args":[%q],"kwargs":{"caller":%q,"procedure":%q}}`,
			m.Data, m.Header.Get("Wamp-Caller"), m.Header.Get("Wamp-Procedure")))
		m.RespondMsg(r)
	})
	worker("e2e.wamp.fail", func(m *nats.Msg) {
		r := nats.NewMsg(m.Reply)
		r.Header.Set("Wamp-Error", "com.example.error.not_found")
		r.Data = []byte(`{"args":["no such user"],"kwargs":{"id":7}}`)
		m.RespondMsg(r)
	})
	worker("e2e.wamp.silent", func(*nats.Msg) {})
	worker("e2e.wamp.stream", func(m *nats.Msg) {
		for i := range 3 {
			r := nats.NewMsg(m.Reply)
			r.Header.Set("Wamp-Progress", "1")
			r.Data = []byte(strconv.Itoa(i))
			m.RespondMsg(r)
		}
		m.Respond([]byte(`["end"]`))
	})
	nc.Flush()

	for _, ser := range wampSerializers {
		t.Run(ser, func(t *testing.T) {
			t.Run("join and leave", func(t *testing.T) {
				c := dialWAMP(t, g, ser, nil)
				d := c.join("realm1", map[string]any{})
				if c.id < 1 || c.id > 1<<53 || d["authrole"] != "anonymous" || d["realm"] != "realm1" {
					t.Errorf("WELCOME %d %v", c.id, d)
				}
				c.send(6, map[string]any{}, "wamp.close.close_realm")
				if m := c.expect(6); m[2] != "wamp.close.goodbye_and_out" {
					t.Errorf("GOODBYE %v", m)
				}
				if code := c.closed(); code != 1000 {
					t.Errorf("close code %d", code)
				}
			})

			t.Run("pub/sub with match policies", func(t *testing.T) {
				c := joinWAMP(t, g, ser)
				exact := c.subscribe("e2e.chat."+ser, map[string]any{})
				prefix := c.subscribe("e2e.news."+ser, map[string]any{"match": "prefix"})
				wild := c.subscribe("e2e."+ser+"..temp", map[string]any{"match": "wildcard"})
				for _, tc := range []struct {
					subject, body string
					sub           int64
					topic         any
					args, kwargs  any
				}{
					{"e2e.chat." + ser, `["hi",1]`, exact, nil, []any{"hi", int64(1)}, nil},
					{"e2e.news." + ser + ".eu", `{"args":[2],"kwargs":{"k":"v"}}`, prefix, "e2e.news." + ser + ".eu", []any{int64(2)}, map[string]any{"k": "v"}},
					{"e2e.news." + ser, `"just one"`, prefix, "e2e.news." + ser, []any{"just one"}, nil},
					{"e2e." + ser + ".kitchen.temp", `21.5`, wild, "e2e." + ser + ".kitchen.temp", []any{21.5}, nil},
				} {
					nc.Publish(tc.subject, []byte(tc.body))
					ev := c.expect(36)
					args, kwargs := payload(ev, 4)
					details := ev[3].(map[string]any)
					if num(ev[1]) != tc.sub || details["topic"] != tc.topic || !reflect.DeepEqual(args, tc.args) || !reflect.DeepEqual(kwargs, tc.kwargs) {
						t.Errorf("%s %s: EVENT %v", tc.subject, tc.body, ev)
					}
				}

				sub, _ := nc.SubscribeSync("e2e.chat." + ser)
				nc.Flush()
				r := c.req()
				c.send(16, r, map[string]any{"acknowledge": true, "disclose_me": true}, "e2e.chat."+ser, []any{"from wamp"}, map[string]any{"n": 1})
				pub := c.expect(17)
				m := nextMsg(t, sub)
				if got := string(m.Data); got != `{"args":["from wamp"],"kwargs":{"n":1}}` && got != `{"kwargs":{"n":1},"args":["from wamp"]}` {
					t.Errorf("NATS body %s", got)
				}
				for h, want := range map[string]string{
					"Wamp-Topic": "e2e.chat." + ser, "Wamp-Publication": strconv.FormatInt(num(pub[2]), 10),
					"Wamp-Publisher": strconv.FormatInt(c.id, 10), "Wsgate-Protocol": "wamp",
				} {
					if m.Header.Get(h) != want {
						t.Errorf("header %s = %q, want %q", h, m.Header.Get(h), want)
					}
				}
				// Publisher exclusion: c is subscribed, but gets nothing of its
				// own publication; the next event it sees is a worker's.
				nc.Publish("e2e.chat."+ser, []byte(`["worker"]`))
				if ev := c.expect(36); !reflect.DeepEqual(norm(ev[4]), []any{"worker"}) {
					t.Errorf("after own publish, got %v", ev)
				}
				c.send(34, c.req(), exact)
				c.expect(35)
			})

			t.Run("calls to NATS workers", func(t *testing.T) {
				c := joinWAMP(t, g, ser)
				c.send(48, c.req(), map[string]any{"disclose_me": true}, "e2e.wamp.upper", []any{"x"})
				res := c.expect(50)
				args, kwargs := payload(res, 3)
				if !reflect.DeepEqual(args, []any{`["x"]`}) || !reflect.DeepEqual(kwargs, map[string]any{"caller": strconv.FormatInt(c.id, 10), "procedure": "e2e.wamp.upper"}) {
					t.Errorf("RESULT %v", res)
				}
				c.send(48, c.req(), map[string]any{}, "e2e.wamp.fail")
				e := c.expectError(48, "com.example.error.not_found")
				if args, kwargs := payload(e, 5); !reflect.DeepEqual(args, []any{"no such user"}) || !reflect.DeepEqual(kwargs, map[string]any{"id": int64(7)}) {
					t.Errorf("ERROR %v", e)
				}
				c.send(48, c.req(), map[string]any{}, "e2e.wamp.nobody")
				c.expectError(48, "wamp.error.no_such_procedure")
				start := time.Now()
				c.send(48, c.req(), map[string]any{"timeout": 300}, "e2e.wamp.silent")
				c.expectError(48, "wamp.error.timeout")
				if d := time.Since(start); d < 250*time.Millisecond || d > 2*time.Second {
					t.Errorf("timeout after %s", d)
				}
				r := c.req()
				c.send(48, r, map[string]any{}, "e2e.wamp.silent")
				c.send(49, r, map[string]any{"mode": "killnowait"})
				if e := c.expectError(48, "wamp.error.canceled"); num(e[2]) != r {
					t.Errorf("cancel answered %v", e)
				}
				c.send(48, c.req(), map[string]any{"receive_progress": true}, "e2e.wamp.stream")
				for i := range 3 {
					p := c.expect(50)
					if p[2].(map[string]any)["progress"] != true || !reflect.DeepEqual(norm(p[3]), []any{int64(i)}) {
						t.Errorf("progress %d: %v", i, p)
					}
				}
				if f := c.expect(50); f[2].(map[string]any)["progress"] != nil || !reflect.DeepEqual(norm(f[3]), []any{"end"}) {
					t.Errorf("final %v", f)
				}
			})

			t.Run("a NATS request to a WAMP callee", func(t *testing.T) {
				c := joinWAMP(t, g, ser)
				c.send(64, c.req(), map[string]any{}, "e2e.callee."+ser)
				reg := c.expect(65)
				done := make(chan *nats.Msg, 1)
				go func() {
					m, _ := nc.Request("e2e.callee."+ser, []byte(`{"args":[1,"two"],"kwargs":{"three":3}}`), 10*time.Second)
					done <- m
				}()
				inv := c.expect(68)
				args, kwargs := payload(inv, 4)
				if num(inv[2]) != num(reg[2]) || !reflect.DeepEqual(args, []any{int64(1), "two"}) || !reflect.DeepEqual(kwargs, map[string]any{"three": int64(3)}) {
					t.Errorf("INVOCATION %v", inv)
				}
				var bin any = []byte{0, 1}
				if ser == "json" {
					bin = "\x00AAE=" // the WAMP JSON serializer's binary convention
				}
				c.send(70, inv[1], map[string]any{}, []any{"ok", bin})
				m := <-done
				if m == nil || string(m.Data) != `["ok","\u0000AAE="]` {
					t.Fatalf("reply %v", m)
				}
				// An ERROR from the callee is a reply with Wamp-Error.
				go func() {
					m, _ := nc.Request("e2e.callee."+ser, nil, 10*time.Second)
					done <- m
				}()
				inv = c.expect(68)
				c.send(8, 68, inv[1], map[string]any{}, "com.example.error.busy", []any{"later"})
				if m := <-done; m == nil || m.Header.Get("Wamp-Error") != "com.example.error.busy" || string(m.Data) != `["later"]` {
					t.Fatalf("error reply %v", m)
				}
			})
		})
	}
}

// TestWAMPCluster runs two gateway processes on one NATS: a single
// registration is exclusive across them, a call through one reaches a
// callee on the other, and shared registrations spread across both.
func TestWAMPCluster(t *testing.T) {
	g1 := startGateway(t, gwOpts{})
	g2 := startGateway(t, gwOpts{NATSURL: g1.NATSURL})
	nc := natsConn(t, g1.NATSURL)

	callee := joinWAMP(t, g1, "json")
	callee.send(64, callee.req(), map[string]any{}, "e2e.cluster.add")
	callee.expect(65)

	other := joinWAMP(t, g2, "msgpack")
	other.send(64, other.req(), map[string]any{}, "e2e.cluster.add")
	other.expectError(64, "wamp.error.procedure_already_exists")

	other.send(48, other.req(), map[string]any{}, "e2e.cluster.add", []any{2, 3})
	inv := callee.expect(68)
	args, _ := payload(inv, 4)
	sum := args.([]any)[0].(int64) + args.([]any)[1].(int64)
	callee.send(70, inv[1], map[string]any{}, []any{sum})
	if r := other.expect(50); !reflect.DeepEqual(norm(r[3]), []any{int64(5)}) {
		t.Errorf("RESULT %v", r)
	}

	// The callee leaves: the procedure is free for the other gateway.
	callee.send(6, map[string]any{}, "wamp.close.close_realm")
	callee.expect(6)
	deadline := time.Now().Add(10 * time.Second)
	for {
		other.send(64, other.req(), map[string]any{}, "e2e.cluster.add")
		m, err := other.read(5 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if num(m[0]) == 65 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("procedure not released: %v", m)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// Shared registrations on both gateways: NATS spreads the requests.
	a, b := joinWAMP(t, g1, "json"), joinWAMP(t, g2, "cbor")
	for _, c := range []*wampClient{a, b} {
		c.send(64, c.req(), map[string]any{"invoke": "roundrobin"}, "e2e.cluster.shared")
		c.expect(65)
	}
	// Each callee answers its invocations with its gateway's name, from a
	// reader of its own until the test ends.
	for _, x := range []struct {
		c    *wampClient
		name string
	}{{a, "g1"}, {b, "g2"}} {
		go func() {
			for {
				m, err := x.c.read(30 * time.Second)
				if err != nil {
					return
				}
				if num(m[0]) == 68 {
					_ = x.c.trySend(70, m[1], map[string]any{}, []any{x.name})
				}
			}
		}()
	}
	seen := map[string]int{}
	for i := 0; i < 40 && (seen["g1"] == 0 || seen["g2"] == 0); i++ {
		m, err := nc.Request("e2e.cluster.shared", nil, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		var name []string
		json.Unmarshal(m.Data, &name)
		seen[name[0]]++
	}
	if seen["g1"] == 0 || seen["g2"] == 0 {
		t.Errorf("requests were not shared: %v", seen)
	}
}
