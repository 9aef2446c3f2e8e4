package wamp

import (
	"context"
	"strconv"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/wsgate/wsgate/auth"
)

// named admits a ticket's authid as the principal's id, with every
// permission: a realm of users with distinct authids.
type named struct{}

func (named) Authenticate(_ context.Context, c *auth.Credentials) (*auth.Principal, error) {
	if c.Username == "" {
		return nil, auth.ErrNoCredentials
	}
	return &auth.Principal{ID: c.Username}, nil
}

// joinAs establishes a session with a ticket for authid.
func (e *env) joinAs(t *testing.T, ser Serializer, authid string) (*client, *Welcome) {
	t.Helper()
	c := e.dial(t, ser, nil)
	c.send(&Hello{Realm: "realm1", Details: Dict{"authid": authid, "authmethods": List{"ticket"},
		"roles": Dict{"subscriber": Dict{}, "publisher": Dict{}}}})
	expect[*Challenge](c)
	c.send(&Authenticate{Signature: "secret", Extra: Dict{}})
	return c, expect[*Welcome](c)
}

// TestBlackWhiteListing: eligible and exclude lists of session ids,
// authids and authroles decide which subscribers get an event, on every
// serializer; a worker's message with the same headers is filtered the
// same way; malformed lists are refused.
func TestBlackWhiteListing(t *testing.T) {
	e := newEnv(t, Config{}, named{})
	nc := e.worker()
	ada, wa := e.joinAs(t, JSON, "ada")
	bob, wb := e.joinAs(t, Msgpack, "bob")
	cat, wc := e.joinAs(t, CBOR, "cat")
	pub, wp := e.joinAs(t, JSON, "pub")
	for _, c := range []*client{ada, bob, cat} {
		c.send(&Subscribe{Request: c.id(), Options: Dict{}, Topic: "room"})
		expect[*Subscribed](c)
	}
	features := routerRoles()["broker"].(Dict)["features"].(Dict)
	if features["subscriber_blackwhite_listing"] != true {
		t.Error("subscriber_blackwhite_listing not announced")
	}
	id := func(w *Welcome) int64 { return int64(w.Session) }
	who := map[*client]string{ada: "ada", bob: "bob", cat: "cat"}
	for n, tc := range []struct {
		options Dict
		want    []*client
	}{
		{Dict{}, []*client{ada, bob, cat}},
		{Dict{"eligible": List{id(wa), id(wc)}}, []*client{ada, cat}},
		{Dict{"exclude": List{id(wa)}}, []*client{bob, cat}},
		{Dict{"eligible": List{id(wa), id(wb)}, "exclude": List{id(wb)}}, []*client{ada}},
		{Dict{"eligible_authid": List{"bob"}}, []*client{bob}},
		{Dict{"exclude_authid": List{"bob", "cat"}}, []*client{ada}},
		{Dict{"eligible_authrole": List{"user"}, "exclude_authid": List{"ada"}}, []*client{bob, cat}},
		{Dict{"exclude_authrole": List{"user"}}, nil},
		{Dict{"eligible": List{}}, nil},
		{Dict{"exclude": List{}}, []*client{ada, bob, cat}},
		// Intersection: in every eligible list.
		{Dict{"eligible": List{id(wa), id(wb)}, "eligible_authid": List{"bob", "cat"}}, []*client{bob}},
		// The publisher itself is never in the way: exclude_me decides.
		{Dict{"eligible": List{id(wp)}}, nil},
	} {
		tc.options["acknowledge"] = true
		body := "n" + strconv.Itoa(n)
		pub.send(&Publish{Request: pub.id(), Options: tc.options, Topic: "room", Args: List{body}})
		expect[*Published](pub)
		// A marker everyone gets, so that a missing event is seen as the
		// marker coming first.
		pub.send(&Publish{Request: pub.id(), Options: Dict{}, Topic: "room", Args: List{"mark"}})
		for _, c := range []*client{ada, bob, cat} {
			got := expect[*Event](c).Args[0]
			wanted := false
			for _, w := range tc.want {
				wanted = wanted || w == c
			}
			if wanted {
				if got != body {
					t.Errorf("%d %v: %s got %v, want %s", n, tc.options, who[c], got, body)
				}
				got = expect[*Event](c).Args[0]
			}
			if got != "mark" {
				t.Errorf("%d %v: %s got %v, want the marker", n, tc.options, who[c], got)
			}
		}
	}

	// A worker filters with the same headers.
	msg := &nats.Msg{Subject: "room", Data: []byte(`["from a worker"]`), Header: nats.Header{
		HeaderExcludeAuthid: {"ada"},
		HeaderEligible:      {strconv.FormatUint(wa.Session, 10), strconv.FormatUint(wc.Session, 10)},
	}}
	if err := nc.PublishMsg(msg); err != nil {
		t.Fatal(err)
	}
	nc.Publish("room", []byte(`["mark"]`))
	if ev := expect[*Event](cat); ev.Args[0] != "from a worker" {
		t.Errorf("cat got %#v", ev)
	}
	for _, c := range []*client{ada, bob, cat} {
		if ev := expect[*Event](c); ev.Args[0] != "mark" {
			t.Errorf("%s got %#v", who[c], ev)
		}
	}

	// What the lists must be.
	for _, bad := range []Dict{
		{"eligible": "all"},
		{"eligible": List{"ada"}},
		{"exclude": List{int64(0)}},
		{"exclude": List{float64(1.5)}},
		{"eligible_authid": List{int64(1)}},
		{"exclude_authrole": List{"bad\r\nWamp-Eligible: 1"}},
		{"exclude_authid": List{""}},
		{"exclude": make(List, maxFilterEntries+1)},
	} {
		bad["acknowledge"] = true
		pub.send(&Publish{Request: pub.id(), Options: bad, Topic: "room", Args: List{"never"}})
		if er := expect[*Error](pub); er.Error != errInvalidArgName || er.RequestType != TypePublish {
			t.Errorf("%v: %#v", bad, er)
		}
	}
	pub.send(&Publish{Request: pub.id(), Options: Dict{}, Topic: "room", Args: List{"mark"}})
	for _, c := range []*client{ada, bob, cat} {
		if ev := expect[*Event](c); ev.Args[0] != "mark" {
			t.Errorf("%s got %#v after refused publications", who[c], ev)
		}
	}
}
