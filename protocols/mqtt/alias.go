package mqtt

import "github.com/wsgate/wsgate/bridge"

// Outbound topic aliases (MQTT 5.0 section 3.3.2.3.4): a v5 client whose
// CONNECT has a Topic Alias Maximum N > 0 accepts PUBLISH packets that name
// their topic by a number from 1 to N [MQTT-3.1.2-26/27, 3.3.2-8/11].
//
// The gateway gives aliases to the first min(N, outbound_topic_aliases)
// distinct topics it sends on a connection, in send order, and never
// reassigns one: the first topics win, later ones always go in full. The
// first PUBLISH on an aliased topic carries the topic and the alias, later
// ones an empty topic and the alias. Mappings last as long as the network
// connection, so a resumed session starts afresh.
//
// Choosing the alias and queueing the frame happen under conn.mu, so the
// PUBLISH that establishes an alias is queued before any that uses it alone,
// and a PUBLISH that is not queued (over the client's Maximum Packet Size,
// or the connection is closing) establishes nothing.

// aliasTable is a connection's outbound topic aliases by topic. It is nil
// until the first aliased PUBLISH, so an idle connection holds none.
// Guarded by conn.mu.
type aliasTable map[string]uint16

// outboundAliasMax is how many topic aliases the gateway may send to a
// client that connected with props: the client's Topic Alias Maximum,
// capped by limit (the outbound_topic_aliases setting; not positive: none).
// An absent property means 0 [MQTT-3.1.2-27].
func outboundAliasMax(props *Properties, limit int) uint16 {
	if limit <= 0 || props.Has&HasTopicAliasMaximum == 0 {
		return 0
	}
	return uint16(min(int(props.TopicAliasMaximum), limit))
}

// encode returns the v5 wire form of PUBLISH p with at most max aliases,
// and the alias that queueing it establishes (0: none). A topic with an
// established alias goes as an empty topic and the alias; a new topic,
// while aliases are free, as the topic and the next alias; any other as
// it is. p is not changed. The caller records a fresh alias with establish
// once the frame is queued, and not if it was dropped.
func (t aliasTable) encode(p *Packet, max uint16) (b []byte, fresh uint16) {
	a, known := t[p.Topic]
	if !known {
		if len(t) >= int(max) {
			return p.Encode(nil, V5), 0
		}
		a = uint16(len(t) + 1)
		fresh = a
	}
	q := *p
	q.Props.setU16(propTopicAlias, a)
	if known {
		q.Topic = ""
	}
	return q.Encode(nil, V5), fresh
}

// establish records that alias now stands for topic on the connection.
func (t *aliasTable) establish(topic string, alias uint16) {
	if *t == nil {
		*t = aliasTable{}
	}
	(*t)[topic] = alias
}

// sendPublish sends PUBLISH p to the client, with a topic alias if the
// client accepts them. Without aliases it takes no lock: the frame is the
// same for every connection of the version.
func (c *conn) sendPublish(p *Packet) {
	if c.aliasMax == 0 {
		c.sendOut(p.frame(c.version), nil, false)
		return
	}
	c.mu.Lock()
	c.sendPublishLocked(p, false)
	c.mu.Unlock()
}

// sendPublishLocked is sendPublish for a caller holding c.mu; deferred
// sends as sendOut's deferred does.
func (c *conn) sendPublishLocked(p *Packet, deferred bool) {
	if c.aliasMax == 0 {
		c.sendOut(p.frame(c.version), nil, deferred)
		return
	}
	b, fresh := c.outAliases.encode(p, c.aliasMax)
	if c.sendOut(bridge.BinaryFrame(b), nil, deferred) && fresh != 0 {
		c.outAliases.establish(p.Topic, fresh)
	}
}
