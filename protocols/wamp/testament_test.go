package wamp

import (
	"testing"
)

// TestTestament: a session's testaments are published when it ends — a
// dropped connection or a GOODBYE — unless flushed first; they are checked
// like any publish.
func TestTestament(t *testing.T) {
	e := newEnv(t, Config{}, nil)
	sub, _ := e.join(t, JSON)
	sub.send(&Subscribe{Request: sub.id(), Options: Dict{}, Topic: "app.gone"})
	subID := expect[*Subscribed](sub).Subscription

	call := func(c *client, proc string, args ...any) Message {
		c.send(&Call{Request: c.id(), Options: Dict{}, Procedure: proc, Args: args})
		return c.next()
	}

	t.Run("published when the connection drops", func(t *testing.T) {
		a, wa := e.join(t, Msgpack)
		if f := wa.Details["roles"].(Dict)["dealer"].(Dict)["features"].(Dict); f["testament_meta_api"] != true {
			t.Errorf("dealer features %v", f)
		}
		if r, ok := call(a, metaAddTestament, "app.gone", List{"a", int64(1)}, Dict{"why": "dropped"}).(*Result); !ok {
			t.Fatalf("add_testament: %#v", r)
		}
		_ = a.ws.UnderlyingConn().Close()
		ev := expect[*Event](sub)
		if ev.Subscription != subID || len(ev.Args) != 2 || ev.Args[0] != "a" || ev.Kwargs["why"] != "dropped" {
			t.Fatalf("event %#v", ev)
		}
	})

	t.Run("flushed ones are not", func(t *testing.T) {
		a, _ := e.join(t, JSON)
		call(a, metaAddTestament, "app.gone", List{"flushed"})
		call(a, metaAddTestament, "app.gone", List{"flushed too"})
		r, ok := call(a, metaFlushTestaments).(*Result)
		if !ok || r.Args[0] != int64(2) {
			t.Fatalf("flush_testaments: %#v", r)
		}
		call(a, metaAddTestament, "app.gone", List{"kept"})
		a.send(&Goodbye{Details: Dict{}, Reason: "wamp.close.normal"})
		if ev := expect[*Event](sub); len(ev.Args) != 1 || ev.Args[0] != "kept" {
			t.Fatalf("event %#v, want only the testament left after the flush", ev)
		}
	})

	t.Run("bad testaments are refused", func(t *testing.T) {
		a, _ := e.join(t, JSON)
		for _, tc := range []struct {
			args []any
			uri  string
		}{
			{[]any{"wsgate.conn.x.send", List{}}, errNotAuthorized},
			{[]any{"wamp.session.on_join", List{}}, errInvalidURIName},
			{[]any{"a..b", List{}}, errInvalidURIName},
			{[]any{int64(3)}, errInvalidArgName},
			{[]any{"app.x", "not a list"}, errInvalidArgName},
		} {
			if e, ok := call(a, metaAddTestament, tc.args...).(*Error); !ok || e.Error != tc.uri {
				t.Errorf("add_testament%v: %#v, want ERROR %s", tc.args, e, tc.uri)
			}
		}
	})
}
