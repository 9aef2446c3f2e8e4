package e2e

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	"github.com/nats-io/nats.go"

	"github.com/wsgate/wsgate/protocols/mqtt"
)

// aliasOf returns the Topic Alias of a PUBLISH, 0 if it has none.
func aliasOf(p *mqtt.Packet) uint16 {
	if p.Props.Has&mqtt.HasTopicAlias == 0 {
		return 0
	}
	return p.Props.TopicAlias
}

// aliasClient is a raw v5 client that allows the gateway max topic aliases
// (nil: no Topic Alias Maximum property) and subscribes to filters at QoS 1.
func aliasClient(t *testing.T, g *gateway, id string, max *uint16, maxPacket uint32, filters ...string) *raw {
	t.Helper()
	var props mqtt.Properties
	if max != nil {
		props.Has |= mqtt.HasTopicAliasMaximum
		props.TopicAliasMaximum = *max
	}
	if maxPacket > 0 {
		props.Has |= mqtt.HasMaximumPacketSize
		props.MaximumPacketSize = maxPacket
	}
	r := dialRaw(t, g, mqtt.V5)
	r.connect(&mqtt.Connect{ClientID: id, CleanStart: true}, props)
	if ack := r.expect(mqtt.CONNACK); ack.Reason != 0 {
		t.Fatalf("CONNACK 0x%02x", ack.Reason)
	}
	sub := &mqtt.Packet{Type: mqtt.SUBSCRIBE, ID: 1}
	for _, f := range filters {
		sub.Filters = append(sub.Filters, mqtt.Filter{Filter: f, QoS: 1})
	}
	r.send(sub)
	r.expect(mqtt.SUBACK)
	return r
}

// natsPub publishes data to subject from NATS, as an MQTT QoS qos message.
func natsPub(t *testing.T, nc *nats.Conn, subject string, qos int, data string) {
	t.Helper()
	m := &nats.Msg{Subject: subject, Data: []byte(data), Header: nats.Header{}}
	if qos > 0 {
		m.Header.Set(mqtt.HeaderQoS, fmt.Sprint(qos))
	}
	if err := nc.PublishMsg(m); err != nil {
		t.Fatal(err)
	}
}

// wireStep is a PUBLISH expected on the wire: topic ("" with an alias) and
// Topic Alias (0: none).
type wireStep struct {
	topic string
	alias uint16
	data  string
}

// expectPublishes reads len(want) PUBLISH packets, acknowledging QoS 1.
func (r *raw) expectPublishes(want []wireStep) {
	r.t.Helper()
	for i, w := range want {
		p := r.expect(mqtt.PUBLISH)
		if p.QoS == 1 {
			r.send(&mqtt.Packet{Type: mqtt.PUBACK, ID: p.ID})
		}
		if p.Topic != w.topic || aliasOf(p) != w.alias || string(p.Payload) != w.data {
			r.t.Fatalf("PUBLISH %d: topic %q alias %d payload %q, want %q alias %d payload %q",
				i, p.Topic, aliasOf(p), p.Payload, w.topic, w.alias, w.data)
		}
	}
}

// TestMQTTOutboundTopicAliases: the gateway names topics by alias to a v5
// client that allows it, for the first topics it sends, after sending each
// in full once; never to a client that does not.
func TestMQTTOutboundTopicAliases(t *testing.T) {
	g := startGateway(t, gwOpts{})
	nc := natsConn(t, g.NATSURL)
	u16 := func(n uint16) *uint16 { return &n }

	t.Run("paho", func(t *testing.T) {
		// A retained message first: the retained path aliases too.
		pub := connectV5(t, g, nil)
		pub.publish(t, &paho.Publish{Topic: "pa/r", Retain: true, QoS: 1, Payload: []byte("pa/r retained")})

		c := connectV5(t, g, &paho.Connect{CleanStart: true, KeepAlive: 30,
			Properties: &paho.ConnectProperties{TopicAliasMaximum: u16(2)}})
		c.subscribe(t, paho.SubscribeOptions{Topic: "pa/#", QoS: 1})
		topics := []string{"pa/a", "pa/b", "pa/c", "pa/r"}
		for round := range 3 {
			for i, tp := range topics {
				natsPub(t, nc, strings.ReplaceAll(tp, "/", "."), (round+i)%2, fmt.Sprintf("%s %d", tp, round))
			}
		}
		// paho hands over the packet as sent: the test keeps the aliases,
		// as a client must.
		aliases := map[uint16]string{}
		aliasOnly, retained := 0, 0
		for i := range 1 + 3*len(topics) {
			p := c.next(t)
			topic := p.Topic
			if p.Properties != nil && p.Properties.TopicAlias != nil {
				a := *p.Properties.TopicAlias
				if a == 0 || a > 2 {
					t.Fatalf("message %d: alias %d, client allows 1..2", i, a)
				}
				if topic != "" {
					aliases[a] = topic
				} else if topic = aliases[a]; topic == "" {
					t.Fatalf("message %d: alias %d used before it was set", i, a)
				} else {
					aliasOnly++
				}
			}
			if topic == "" {
				t.Fatalf("message %d: no topic and no alias", i)
			}
			if !strings.HasPrefix(string(p.Payload), topic+" ") {
				t.Fatalf("message %d: payload %q arrived on %q", i, p.Payload, topic)
			}
			if p.Retain {
				retained++
			}
		}
		if len(aliases) != 2 || aliasOnly == 0 || retained != 1 {
			t.Fatalf("aliases %v, %d messages by alias only, %d retained", aliases, aliasOnly, retained)
		}
		c.none(t, 200*time.Millisecond)
	})

	t.Run("on the wire", func(t *testing.T) {
		r := aliasClient(t, g, "alias-wire", u16(2), 0, "aw/#")
		for _, m := range []struct {
			subject string
			qos     int
		}{{"aw.a", 0}, {"aw.a", 1}, {"aw.b", 0}, {"aw.c", 1}, {"aw.c", 0}, {"aw.b", 1}, {"aw.a", 0}} {
			natsPub(t, nc, m.subject, m.qos, m.subject)
		}
		r.expectPublishes([]wireStep{
			{"aw/a", 1, "aw.a"}, {"", 1, "aw.a"}, {"aw/b", 2, "aw.b"},
			{"aw/c", 0, "aw.c"}, {"aw/c", 0, "aw.c"}, // more topics than aliases: in full
			{"", 2, "aw.b"}, {"", 1, "aw.a"},
		})
	})

	t.Run("concurrent subscriptions", func(t *testing.T) {
		// Three overlapping subscriptions get each message (three NATS
		// subscriptions, so the gateway's dispatchers deliver copies of
		// one topic concurrently), at QoS 0 and 1; yet an alias is always
		// on the wire with its topic before it is used alone.
		const topics, rounds, max, copies = 8, 40, 4, 3
		filters := []string{"cc/+", "cc/#"}
		for i := range topics {
			filters = append(filters, fmt.Sprintf("cc/%d", i))
		}
		r := aliasClient(t, g, "alias-concurrent", u16(max), 0, filters...)
		for round := range rounds {
			for i := range topics {
				natsPub(t, nc, fmt.Sprintf("cc.%d", i), (round+i)%2, fmt.Sprintf("cc/%d %d", i, round))
			}
		}
		aliases := map[uint16]string{}
		seen := map[string]int{}
		for n := range topics * rounds * copies {
			p := r.expect(mqtt.PUBLISH)
			if p.QoS == 1 {
				r.send(&mqtt.Packet{Type: mqtt.PUBACK, ID: p.ID})
			}
			topic := p.Topic
			if a := aliasOf(p); a != 0 {
				switch {
				case a > max:
					t.Fatalf("PUBLISH %d: alias %d, client allows 1..%d", n, a, max)
				case topic != "" && aliases[a] != "" && aliases[a] != topic:
					t.Fatalf("PUBLISH %d: alias %d moved from %s to %s", n, a, aliases[a], topic)
				case topic != "":
					aliases[a] = topic
				case aliases[a] == "":
					t.Fatalf("PUBLISH %d: alias %d used before it was set", n, a)
				default:
					topic = aliases[a]
				}
			}
			if !strings.HasPrefix(string(p.Payload), topic+" ") || seen[string(p.Payload)] == copies {
				t.Fatalf("PUBLISH %d: payload %q on %q (seen %d times before)", n, p.Payload, topic, seen[string(p.Payload)])
			}
			seen[string(p.Payload)]++
		}
		if len(aliases) != max {
			t.Fatalf("aliases %v, want %d", aliases, max)
		}
	})

	t.Run("dropped by maximum packet size", func(t *testing.T) {
		r := aliasClient(t, g, "alias-max-packet", u16(4), 64, "mp/#")
		natsPub(t, nc, "mp.t", 0, string(bytes.Repeat([]byte("x"), 100))) // over 64 bytes: dropped
		natsPub(t, nc, "mp.t", 0, "small")
		natsPub(t, nc, "mp.t", 1, "again")
		// The dropped PUBLISH did not establish the alias: the next one does.
		r.expectPublishes([]wireStep{{"mp/t", 1, "small"}, {"", 1, "again"}})
	})

	t.Run("not allowed", func(t *testing.T) {
		for _, max := range []*uint16{nil, u16(0)} {
			r := aliasClient(t, g, fmt.Sprintf("alias-none-%v", max != nil), max, 0, "na/#")
			natsPub(t, nc, "na.t", 0, "1")
			natsPub(t, nc, "na.t", 1, "2")
			natsPub(t, nc, "na.t", 0, "3")
			r.expectPublishes([]wireStep{{"na/t", 0, "1"}, {"na/t", 0, "2"}, {"na/t", 0, "3"}})
			r.send(&mqtt.Packet{Type: mqtt.DISCONNECT})
		}
	})

	t.Run("capped by outbound_topic_aliases", func(t *testing.T) {
		g2 := startGateway(t, gwOpts{NATSURL: g.NATSURL, Config: "mqtt:\n  outbound_topic_aliases: 1\n"})
		r := aliasClient(t, g2, "alias-capped", u16(10), 0, "cap/#")
		for _, s := range []string{"cap.a", "cap.b", "cap.a", "cap.b"} {
			natsPub(t, nc, s, 0, s)
		}
		r.expectPublishes([]wireStep{{"cap/a", 1, "cap.a"}, {"cap/b", 0, "cap.b"}, {"", 1, "cap.a"}, {"cap/b", 0, "cap.b"}})
	})
}
