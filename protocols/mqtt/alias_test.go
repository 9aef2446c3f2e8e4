package mqtt

import (
	"bytes"
	"reflect"
	"testing"
)

func TestOutboundAliasMax(t *testing.T) {
	withMax := func(n uint16) *Properties {
		p := &Properties{}
		p.setU16(propTopicAliasMaximum, n)
		return p
	}
	for _, tc := range []struct {
		name  string
		props *Properties
		limit int
		want  uint16
	}{
		{"absent", &Properties{}, 16, 0},
		{"client 0", withMax(0), 16, 0},
		{"client below limit", withMax(5), 16, 5},
		{"client above limit", withMax(100), 16, 16},
		{"disabled", withMax(5), -1, 0},
		{"full range", withMax(65535), 65535, 65535},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := outboundAliasMax(tc.props, tc.limit); got != tc.want {
				t.Errorf("got %d, want %d", got, tc.want)
			}
		})
	}
}

// TestAliasTableEncode sends a sequence of PUBLISH packets through one
// table, queueing or dropping each as the connection would, and decodes
// what went out.
func TestAliasTableEncode(t *testing.T) {
	type step struct {
		topic     string
		queued    bool   // false: the frame was dropped (Maximum Packet Size)
		wantTopic string // on the wire
		wantAlias uint16 // 0: no Topic Alias property
	}
	for _, tc := range []struct {
		name  string
		max   uint16
		steps []step
	}{
		{"none allowed", 0, []step{
			{"a", true, "a", 0},
			{"a", true, "a", 0},
		}},
		{"first topics win", 2, []step{
			{"a/1", true, "a/1", 1},
			{"a/1", true, "", 1},
			{"b", true, "b", 2},
			{"c", true, "c", 0}, // table full: in full, for good
			{"c", true, "c", 0},
			{"b", true, "", 2},
			{"a/1", true, "", 1},
		}},
		{"dropped establishment", 2, []step{
			{"a", false, "a", 1}, // not queued: alias 1 is still free
			{"b", true, "b", 1},
			{"a", true, "a", 2},
			{"a", true, "", 2},
			{"b", true, "", 1},
		}},
		{"dropped use", 1, []step{
			{"a", true, "a", 1},
			{"a", false, "", 1},
			{"a", true, "", 1},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var table aliasTable
			for i, s := range tc.steps {
				p := &Packet{Type: PUBLISH, Topic: s.topic, Payload: []byte("x")}
				b, fresh := table.encode(p, tc.max)
				if p.Topic != s.topic || p.Props.Has != 0 {
					t.Fatalf("step %d: encode changed the packet: %+v", i, p)
				}
				got, n, err := Decode(b, V5, 0)
				if err != nil || n != len(b) {
					t.Fatalf("step %d: decode % x: %v", i, b, err)
				}
				alias := uint16(0)
				if got.Props.Has&HasTopicAlias != 0 {
					alias = got.Props.TopicAlias
				}
				if got.Topic != s.wantTopic || alias != s.wantAlias || string(got.Payload) != "x" {
					t.Fatalf("step %d (%s): sent topic %q alias %d, want %q alias %d",
						i, s.topic, got.Topic, alias, s.wantTopic, s.wantAlias)
				}
				wantFresh := uint16(0)
				if s.wantTopic != "" && s.wantAlias != 0 {
					wantFresh = s.wantAlias
				}
				if fresh != wantFresh {
					t.Fatalf("step %d: fresh alias %d, want %d", i, fresh, wantFresh)
				}
				if s.queued && fresh != 0 {
					table.establish(s.topic, fresh)
				}
			}
			if tc.max == 0 && table != nil {
				t.Errorf("table made without aliases: %v", table)
			}
		})
	}
}

// TestAliasTableWire pins the bytes of an aliased PUBLISH and checks that
// the other properties and the packet id survive aliasing.
func TestAliasTableWire(t *testing.T) {
	var table aliasTable
	table.establish("t", 1)
	b, fresh := table.encode(&Packet{Type: PUBLISH, Topic: "t", Payload: []byte("x")}, 16)
	// PUBLISH QoS 0, remaining length 7, empty topic, properties (3 bytes):
	// Topic Alias 1, payload "x".
	want := []byte{0x30, 0x07, 0x00, 0x00, 0x03, 0x23, 0x00, 0x01, 'x'}
	if !bytes.Equal(b, want) || fresh != 0 {
		t.Fatalf("got % x (fresh %d), want % x", b, fresh, want)
	}

	p := &Packet{Type: PUBLISH, Topic: "u/v", QoS: 1, ID: 7, Retain: true, Payload: []byte("y"),
		Props: Properties{ContentType: "text/plain", SubscriptionIDs: []uint32{9}, User: []UserProperty{{"k", "v"}}}}
	b, fresh = table.encode(p, 16)
	if fresh != 2 {
		t.Fatalf("fresh alias %d, want 2", fresh)
	}
	got, _, err := Decode(b, V5, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got.Topic != "u/v" || got.ID != 7 || got.QoS != 1 || !got.Retain || got.Props.TopicAlias != 2 ||
		got.Props.ContentType != "text/plain" || !reflect.DeepEqual(got.Props.SubscriptionIDs, []uint32{9}) ||
		!reflect.DeepEqual(got.Props.User, p.Props.User) {
		t.Fatalf("decoded %+v", got)
	}
}
