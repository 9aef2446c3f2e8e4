package wamp

import (
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/wsgate/wsgate/bridge"
)

func TestHandshake(t *testing.T) {
	e := newEnv(t, Config{}, nil)
	for _, ser := range []Serializer{nil, JSON, Msgpack, CBOR} {
		name := "path /wamp"
		if ser != nil {
			name = ser.Subprotocol()
		}
		t.Run(name, func(t *testing.T) {
			c, w := e.join(t, ser)
			if w.Session < 1 || w.Session > maxID {
				t.Errorf("session id %d", w.Session)
			}
			roles := dictDict(w.Details, "roles")
			if dictDict(dictDict(roles, "broker"), "features")["publisher_exclusion"] != true ||
				dictDict(dictDict(roles, "dealer"), "features")["progressive_call_results"] != true {
				t.Errorf("roles %v", roles)
			}
			if w.Details["authrole"] != "anonymous" || w.Details["realm"] != "realm1" {
				t.Errorf("details %v", w.Details)
			}
			c.send(&Goodbye{Details: Dict{}, Reason: closeNormal})
			if g := expect[*Goodbye](c); g.Reason != closeGoodbyeAndOut {
				t.Errorf("goodbye %q", g.Reason)
			}
			if code := c.closeCode(); code != bridge.CloseNormal {
				t.Errorf("close %d", code)
			}
		})
	}
}

func TestRealms(t *testing.T) {
	e := newEnv(t, Config{Realms: []RealmConfig{{Name: "acme", SubjectPrefix: "t.acme"}}}, nil)
	t.Run("unknown realm", func(t *testing.T) {
		c := e.dial(t, JSON, nil)
		c.send(&Hello{Realm: "realm1", Details: Dict{}})
		if a := expect[*Abort](c); a.Reason != errNoSuchRealm {
			t.Errorf("abort %q", a.Reason)
		}
	})
	t.Run("prefix", func(t *testing.T) {
		nc := e.worker()
		sub, _ := nc.SubscribeSync("t.acme.com.app.x")
		nc.Flush()
		c := e.dial(t, JSON, nil)
		c.send(&Hello{Realm: "acme", Details: Dict{}})
		expect[*Welcome](c)
		c.send(&Publish{Request: 1, Options: Dict{"acknowledge": true}, Topic: "com.app.x", Args: List{"hi"}})
		expect[*Published](c)
		m, err := sub.NextMsg(5 * time.Second)
		if err != nil || string(m.Data) != `["hi"]` || m.Header.Get(HeaderTopic) != "com.app.x" {
			t.Fatalf("%v %v", m, err)
		}
		// Events come back without the prefix.
		c.send(&Subscribe{Request: 2, Options: Dict{"match": "prefix"}, Topic: "com"})
		s := expect[*Subscribed](c)
		nc.Publish("t.acme.com.y", []byte(`[1]`))
		ev := expect[*Event](c)
		if ev.Subscription != s.Subscription || ev.Details["topic"] != "com.y" {
			t.Errorf("event %#v", ev)
		}
	})
}

func TestPubSub(t *testing.T) {
	e := newEnv(t, Config{}, nil)
	nc := e.worker()
	for _, ser := range []Serializer{JSON, Msgpack, CBOR} {
		t.Run(ser.Subprotocol(), func(t *testing.T) {
			c, w := e.join(t, ser)
			other, _ := e.join(t, JSON)
			subscribe := func(c *client, topic, match string) uint64 {
				c.send(&Subscribe{Request: c.id(), Options: Dict{"match": match}, Topic: topic})
				return expect[*Subscribed](c).Subscription
			}
			exact := subscribe(c, "chat.room1", "")
			prefix := subscribe(c, "news", "prefix")
			wild := subscribe(c, "sensors..temp", "wildcard")
			if again := subscribe(c, "chat.room1", "exact"); again != exact {
				t.Errorf("same topic, new id %d != %d", again, exact)
			}
			if o := subscribe(other, "chat.room1", ""); o != exact {
				t.Errorf("another session's id %d != %d: ids are per (topic, policy)", o, exact)
			}

			for _, tc := range []struct {
				subject, body string
				sub           uint64
				topic         any
				args          List
				kwargs        Dict
			}{
				{"chat.room1", `["hi",2]`, exact, nil, List{"hi", int64(2)}, nil},
				{"news", `{"args":[1],"kwargs":{"k":"v"}}`, prefix, "news", List{int64(1)}, Dict{"k": "v"}},
				{"news.world.eu", `plain text`, prefix, "news.world.eu", List{"plain text"}, nil},
				{"sensors.kitchen.temp", `{"c":21.5}`, wild, "sensors.kitchen.temp", List{Dict{"c": 21.5}}, nil},
				{"sensors.k.temp", "\xff\x00", wild, "sensors.k.temp", List{[]byte{0xff, 0}}, nil},
			} {
				nc.Publish(tc.subject, []byte(tc.body))
				ev := expect[*Event](c)
				if ev.Subscription != tc.sub || ev.Details["topic"] != tc.topic ||
					!sameValue(ev.Args, tc.args) || !sameValue(ev.Kwargs, tc.kwargs) {
					t.Errorf("%s %s: got %#v", tc.subject, tc.body, ev)
				}
			}
			// Not matched: prefix is component-wise, wildcard one token.
			nc.Publish("newsx", []byte(`[]`))
			nc.Publish("sensors.a.b.temp", []byte(`[]`))
			nc.Publish("chat.room1", []byte(`["last"]`))
			if ev := expect[*Event](c); ev.Args[0] != "last" {
				t.Errorf("got %#v", ev)
			}
			for _, want := range []string{"hi", "last"} {
				if ev := expect[*Event](other); ev.Args[0] != want {
					t.Errorf("other got %#v, want %s", ev, want)
				}
			}

			// Publish: acknowledgement, publisher exclusion, identification,
			// binary through NATS.
			sub, _ := nc.SubscribeSync("chat.room1")
			nc.Flush()
			c.send(&Publish{Request: c.id(), Options: Dict{"acknowledge": true, "disclose_me": true}, Topic: "chat.room1",
				Args: List{[]byte{1, 2}}, Kwargs: Dict{"n": int64(1)}})
			pub := expect[*Published](c)
			m, err := sub.NextMsg(5 * time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if string(m.Data) != `{"args":["\u0000AQI="],"kwargs":{"n":1}}` && string(m.Data) != `{"kwargs":{"n":1},"args":["\u0000AQI="]}` {
				t.Errorf("NATS body %s", m.Data)
			}
			if m.Header.Get(HeaderPublication) != strconv.FormatUint(pub.Publication, 10) ||
				m.Header.Get(HeaderPublisher) != strconv.FormatUint(w.Session, 10) {
				t.Errorf("headers %v", m.Header)
			}
			ev := expect[*Event](other)
			if id, _ := asID(ev.Details["publisher"]); ev.Publication != pub.Publication || id != w.Session ||
				!reflect.DeepEqual(ev.Args, List{[]byte{1, 2}}) {
				t.Errorf("other got %#v", ev)
			}
			// exclude_me: false delivers to the publisher too.
			c.send(&Publish{Request: c.id(), Options: Dict{"exclude_me": false}, Topic: "chat.room1", Args: List{"me too"}})
			if ev := expect[*Event](c); ev.Args[0] != "me too" {
				t.Errorf("publisher got %#v", ev)
			}
			expect[*Event](other)

			c.send(&Unsubscribe{Request: c.id(), Subscription: exact})
			expect[*Unsubscribed](c)
			c.send(&Unsubscribe{Request: c.id(), Subscription: exact})
			if er := expect[*Error](c); er.Error != errNoSuchSubscription || er.RequestType != TypeUnsubscribe {
				t.Errorf("error %#v", er)
			}
		})
	}
}

func TestPermissionsAndURIs(t *testing.T) {
	e := newEnv(t, Config{}, nil)
	c, _ := e.join(t, JSON)
	for _, tc := range []struct {
		m    Message
		want string
	}{
		{&Subscribe{Request: 1, Options: Dict{}, Topic: "wsgate.conn.x.send"}, errNotAuthorized},
		{&Subscribe{Request: 2, Options: Dict{"match": "prefix"}, Topic: "wsgate"}, errNotAuthorized},
		{&Subscribe{Request: 3, Options: Dict{"match": "wildcard"}, Topic: "wsgate..send"}, errNotAuthorized},
		{&Subscribe{Request: 4, Options: Dict{}, Topic: "a.*"}, errInvalidURIName},
		{&Subscribe{Request: 5, Options: Dict{"match": "regex"}, Topic: "a"}, errInvalidArgName},
		{&Publish{Request: 6, Options: Dict{"acknowledge": true}, Topic: "wsgate.events.connect"}, errNotAuthorized},
		{&Publish{Request: 7, Options: Dict{"acknowledge": true}, Topic: "a b"}, errInvalidURIName},
		{&Publish{Request: 8, Options: Dict{"acknowledge": true}, Topic: "$JS.API.INFO"}, errNotAuthorized},
		{&Call{Request: 9, Options: Dict{}, Procedure: "_INBOX.x"}, errNotAuthorized},
		{&Call{Request: 10, Options: Dict{}, Procedure: "a.>"}, errInvalidURIName},
		{&Register{Request: 11, Options: Dict{}, Procedure: "wsgate.conn.x.info"}, errNotAuthorized},
		{&Register{Request: 12, Options: Dict{"match": "prefix"}, Procedure: "a"}, errInvalidArgName},
		{&Register{Request: 13, Options: Dict{"invoke": "first"}, Procedure: "a"}, errInvalidArgName},
		{&Register{Request: 14, Options: Dict{}, Procedure: "wamp.session.count"}, errInvalidURIName},
		{&Call{Request: 15, Options: Dict{}, Procedure: "wamp.session.kill"}, errNoSuchProcedure},
		{&Unregister{Request: 16, Registration: 5}, errNoSuchRegistration},
	} {
		c.send(tc.m)
		er := expect[*Error](c)
		if er.Error != tc.want || er.RequestType != tc.m.Type() {
			t.Errorf("%#v: got %s for %s, want %s", tc.m, er.Error, er.RequestType, tc.want)
		}
	}
	// A publish without acknowledge gets no answer, error or not.
	c.send(&Publish{Request: 20, Options: Dict{}, Topic: "wsgate.x"})
	c.send(&Publish{Request: 21, Options: Dict{"acknowledge": true}, Topic: "fine"})
	if p := expect[*Published](c); p.Request != 21 {
		t.Errorf("published %d", p.Request)
	}
}

func TestBadInput(t *testing.T) {
	e := newEnv(t, Config{MaxMessageBytes: 1024}, nil)
	for _, tc := range []struct {
		name        string
		established bool
		in          string
		kind        string
	}{
		{"not JSON", false, `[1,"realm1"`, "malformed_message"},
		{"message before HELLO", false, `[32,1,{},"a"]`, "protocol"},
		{"unknown type", true, `[200,1]`, "malformed_message"},
		{"wrong-typed field", true, `[32,1,[],"a"]`, "malformed_message"},
		{"id out of range", true, `[32,9007199254740993,{},"a"]`, "malformed_message"},
		{"id zero", true, `[48,0,{},"a"]`, "malformed_message"},
		{"second HELLO", true, `[1,"realm1",{}]`, "protocol"},
		{"router message", true, `[36,1,1,{}]`, "protocol"},
		{"too large", true, `[16,1,{},"a",["` + string(make([]byte, 1100)) + `"]]`, "message_too_large"},
		{"too deep", true, `[16,1,{},"a",[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]`, "too_deep"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := e.metric("wsgate_protocol_errors_total", `protocol="wamp"`, `kind="`+tc.kind+`"`)
			var c *client
			if tc.established {
				c, _ = e.join(t, JSON)
			} else {
				c = e.dial(t, JSON, nil)
			}
			bystander, _ := e.join(t, JSON)
			c.raw([]byte(tc.in))
			var reason string
			if tc.established {
				reason = expect[*Goodbye](c).Reason
			} else {
				reason = expect[*Abort](c).Reason
			}
			if reason != errProtocolViolation {
				t.Errorf("reason %q", reason)
			}
			if code := c.closeCode(); code != bridge.CloseProtocolError {
				t.Errorf("close code %d", code)
			}
			if after := e.metric("wsgate_protocol_errors_total", `protocol="wamp"`, `kind="`+tc.kind+`"`); after != before+1 {
				t.Errorf("%s errors %v -> %v", tc.kind, before, after)
			}
			// Only that session is affected.
			bystander.send(&Subscribe{Request: 1, Options: Dict{}, Topic: "still.here"})
			expect[*Subscribed](bystander)
		})
	}
}

// TestPush: a worker's push to a connection with a Wamp-Topic header is an
// EVENT of the connection's subscription to that topic.
func TestPush(t *testing.T) {
	e := newEnv(t, Config{}, nil)
	nc := e.worker()
	c, _ := e.join(t, CBOR)
	c.send(&Subscribe{Request: 1, Options: Dict{}, Topic: "inbox.mine"})
	sub := expect[*Subscribed](c)
	probe, _ := nc.SubscribeSync("probe")
	nc.Flush()
	c.send(&Publish{Request: 2, Options: Dict{}, Topic: "probe"})
	m, err := probe.NextMsg(5 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	id := m.Header.Get(bridge.HeaderConnectionID)
	push := func(topic, body string) {
		msg := nats.NewMsg("wsgate.conn." + id + ".send")
		if topic != "" {
			msg.Header.Set(HeaderTopic, topic)
		}
		msg.Data = []byte(body)
		if err := nc.PublishMsg(msg); err != nil {
			t.Fatal(err)
		}
	}
	push("", `["no topic: dropped"]`)
	push("inbox.other", `["not subscribed: dropped"]`)
	push("inbox.mine", `["for you"]`)
	ev := expect[*Event](c)
	if ev.Subscription != sub.Subscription || !sameValue(ev.Args, List{"for you"}) {
		t.Errorf("event %#v", ev)
	}
}

// TestRateLimit: a request over the message rate is answered with an
// ERROR, and the session goes on.
func TestRateLimit(t *testing.T) {
	emb, err := bridge.StartEmbedded(bridge.EmbeddedConfig{Listen: "-", DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emb.Shutdown)
	e := newEnvGateway(t, emb, bridge.Config{Limits: bridge.Limits{MessageRate: 1, MessageBurst: 3}}, Config{}, nil)
	c, _ := e.join(t, JSON) // HELLO takes one token
	limited := 0
	for i := range 5 {
		c.send(&Subscribe{Request: uint64(i + 1), Options: Dict{}, Topic: "rate.t"})
	}
	for range 5 {
		switch m := c.next().(type) {
		case *Subscribed:
		case *Error:
			if m.Error != errRateLimited || m.RequestType != TypeSubscribe {
				t.Errorf("error %#v", m)
			}
			limited++
		default:
			t.Fatalf("got %#v", m)
		}
	}
	if limited == 0 {
		t.Error("nothing was rate limited")
	}
}

// TestForgedIdentity: identity headers on a message another protocol's
// client sent (Wsgate-Protocol is not wamp) are not believed.
func TestForgedIdentity(t *testing.T) {
	e := newEnv(t, Config{}, nil)
	nc := e.worker()
	c, _ := e.join(t, JSON)
	c.send(&Subscribe{Request: 1, Options: Dict{}, Topic: "forged"})
	expect[*Subscribed](c)
	for _, tc := range []struct {
		protocol string
		trusted  bool
	}{{"stomp", false}, {"", true}, {"wamp", true}} {
		m := nats.NewMsg("forged")
		m.Header.Set(HeaderPublisher, "42")
		if tc.protocol != "" {
			m.Header.Set(bridge.HeaderProtocol, tc.protocol)
		}
		m.Data = []byte(`[]`)
		nc.PublishMsg(m)
		ev := expect[*Event](c)
		if _, has := ev.Details["publisher"]; has != tc.trusted {
			t.Errorf("Wsgate-Protocol %q: details %v", tc.protocol, ev.Details)
		}
	}
}

// TestShutdownSaysGoodbye: a gateway that shuts down tells its WAMP
// sessions with GOODBYE wamp.close.system_shutdown, and sessions still in
// the handshake with ABORT.
func TestShutdownSaysGoodbye(t *testing.T) {
	e := newEnv(t, Config{}, nil)
	c, _ := e.join(t, Msgpack)
	pending := e.dial(t, JSON, nil) // no HELLO yet
	c.send(&Subscribe{Request: 1, Options: Dict{}, Topic: "a"})
	expect[*Subscribed](c) // both connections are live by now
	go e.stop()
	if g := expect[*Goodbye](c); g.Reason != closeSystemShutdown {
		t.Errorf("GOODBYE %q", g.Reason)
	}
	if code := c.closeCode(); code != bridge.CloseGoingAway {
		t.Errorf("close code %d", code)
	}
	if a := expect[*Abort](pending); a.Reason != closeSystemShutdown {
		t.Errorf("ABORT %q", a.Reason)
	}
}
