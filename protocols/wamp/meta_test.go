package wamp

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/wsgate/wsgate/auth"
	"github.com/wsgate/wsgate/bridge"
)

// TestSessionMeta: on_join and on_leave reach a subscriber on another
// gateway, forged ones do not; count, list and get answer for every
// gateway.
func TestSessionMeta(t *testing.T) {
	gcfg := bridge.Config{GhostTimeout: 600 * time.Millisecond}
	e1 := newEnvGateway(t, newEmbedded(t), gcfg, Config{}, nil)
	e2 := newEnvGateway(t, e1.emb, gcfg, Config{}, nil)
	// Each knows the other within a heartbeat.
	deadline := time.Now().Add(5 * time.Second)
	for len(e1.gw.Peers()) != 2 || len(e2.gw.Peers()) != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("peers %v and %v", e1.gw.Peers(), e2.gw.Peers())
		}
		time.Sleep(20 * time.Millisecond)
	}

	a, wa := e1.join(t, JSON)
	for _, role := range []string{"broker", "dealer"} {
		if f := wa.Details["roles"].(Dict)[role].(Dict)["features"].(Dict); f["session_meta_api"] != true {
			t.Errorf("%s features %v", role, f)
		}
	}
	subscribe := func(topic string) uint64 {
		a.send(&Subscribe{Request: a.id(), Options: Dict{}, Topic: topic})
		return expect[*Subscribed](a).Subscription
	}
	onJoin, onLeave := subscribe(metaOnJoin), subscribe(metaOnLeave)

	// Forged: a message on the subject from a non-WAMP client.
	nc := e1.worker()
	forged := nats.NewMsg(metaOnJoin)
	forged.Header.Set(bridge.HeaderProtocol, "stomp")
	forged.Data = []byte(`[{"session":1}]`)
	nc.PublishMsg(forged)
	nc.Flush()

	b, wb := e2.join(t, CBOR)
	ev := expect[*Event](a)
	d, _ := ev.Args[0].(Dict)
	if ev.Subscription != onJoin || d["session"] != int64(wb.Session) || d["authrole"] != "anonymous" ||
		d["authprovider"] != "wsgate" || d["transport"].(Dict)["serializer"] != SubprotocolCBOR {
		t.Fatalf("on_join %#v", ev)
	}

	call := func(c *client, proc string, args ...any) Message {
		c.send(&Call{Request: c.id(), Options: Dict{}, Procedure: proc, Args: args})
		return c.next()
	}
	count := func(c *client, args ...any) int64 {
		t.Helper()
		r, ok := call(c, metaCount, args...).(*Result)
		if !ok {
			t.Fatalf("count: %#v", r)
		}
		return r.Args[0].(int64)
	}
	c, wc := e1.join(t, Msgpack)
	if ev := expect[*Event](a); ev.Args[0].(Dict)["session"] != int64(wc.Session) {
		t.Fatalf("on_join of c %#v", ev)
	}
	for i, cl := range []*client{a, b} {
		if n := count(cl); n != 3 {
			t.Errorf("count on gateway %d: %d, want 3", i+1, n)
		}
	}
	if n := count(a, List{"user"}); n != 0 {
		t.Errorf("count of role user: %d", n)
	}
	r, ok := call(c, metaList).(*Result)
	if !ok {
		t.Fatalf("list %#v", r)
	}
	var ids []uint64
	for _, v := range r.Args[0].([]any) {
		id, _ := asID(v)
		ids = append(ids, id)
	}
	slices.Sort(ids)
	want := []uint64{wa.Session, wb.Session, wc.Session}
	slices.Sort(want)
	if !slices.Equal(ids, want) {
		t.Errorf("list %v, want %v", ids, want)
	}
	if r, ok := call(a, metaGet, int64(wc.Session)).(*Result); !ok || r.Args[0].(Dict)["authid"] != "anonymous" {
		t.Errorf("get %#v", r)
	}
	if r, ok := call(a, metaGet, int64(wb.Session)).(*Result); !ok || r.Args[0].(Dict)["session"] != int64(wb.Session) ||
		r.Args[0].(Dict)["transport"].(Dict)["serializer"] != SubprotocolCBOR {
		t.Errorf("get of a session on the other gateway: %#v", r)
	}
	if er, ok := call(a, metaGet, int64(12345)).(*Error); !ok || er.Error != errNoSuchSession {
		t.Errorf("get of no session: %#v", er)
	}
	if er, ok := call(a, metaGet).(*Error); !ok || er.Error != errInvalidArgName {
		t.Errorf("get without an id: %#v", er)
	}

	b.send(&Goodbye{Details: Dict{}, Reason: closeNormal})
	expect[*Goodbye](b)
	ev = expect[*Event](a)
	if ev.Subscription != onLeave || !sameValue([]any(ev.Args), []any{int64(wb.Session), "anonymous", "anonymous"}) {
		t.Fatalf("on_leave %#v", ev)
	}
	// A PUBLISH on a wamp.* topic stays refused.
	c.send(&Publish{Request: c.id(), Options: Dict{"acknowledge": true}, Topic: metaOnJoin})
	if er := expect[*Error](c); er.Error != errInvalidURIName {
		t.Errorf("publish on_join: %#v", er)
	}
}

// restricted admits everyone with permissions that allow neither
// publishing nor calling anything under wamp.
type restricted struct{}

func (restricted) Authenticate(context.Context, *auth.Credentials) (*auth.Principal, error) {
	return &auth.Principal{ID: "ada", Permissions: &auth.Permissions{
		Publish:   auth.Rules{Allow: []string{"app.>"}},
		Subscribe: auth.Rules{Allow: []string{"wamp.session.on_leave"}},
	}}, nil
}

// TestSessionMetaPermissions: a session announces its joining and leaving
// whatever it may publish, but needs subscribe permission to hear of
// others and publish permission to call the meta procedures.
func TestSessionMetaPermissions(t *testing.T) {
	e := newEnv(t, Config{}, restricted{})
	a, _ := e.join(t, JSON)
	a.send(&Subscribe{Request: a.id(), Options: Dict{}, Topic: metaOnJoin})
	if er := expect[*Error](a); er.Error != errNotAuthorized {
		t.Errorf("subscribe on_join: %#v", er)
	}
	a.send(&Subscribe{Request: a.id(), Options: Dict{}, Topic: metaOnLeave})
	expect[*Subscribed](a)
	a.send(&Call{Request: a.id(), Options: Dict{}, Procedure: metaCount})
	if er := expect[*Error](a); er.Error != errNotAuthorized {
		t.Errorf("call count: %#v", er)
	}

	nc := e.worker()
	joins, err := nc.SubscribeSync(metaOnJoin)
	if err != nil {
		t.Fatal(err)
	}
	nc.Flush()
	b, wb := e.join(t, Msgpack)
	m, err := joins.NextMsg(5 * time.Second)
	if err != nil {
		t.Fatalf("no on_join on NATS: %v", err)
	}
	if m.Header.Get(HeaderTopic) != metaOnJoin || !strings.Contains(string(m.Data), `"authid":"ada"`) ||
		!strings.Contains(string(m.Data), `"session":`+strconv.FormatUint(wb.Session, 10)) {
		t.Errorf("on_join %v %s", m.Header, m.Data)
	}
	b.send(&Goodbye{Details: Dict{}, Reason: closeNormal})
	expect[*Goodbye](b)
	if ev := expect[*Event](a); !sameValue([]any(ev.Args), []any{int64(wb.Session), "ada", "user"}) {
		t.Errorf("on_leave %#v", ev)
	}
}
