package mqtt

import (
	"context"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wsgate/wsgate/bridge"
	"github.com/wsgate/wsgate/subjects"
)

// sub is one MQTT subscription: a filter (maybe shared) and its options,
// backed by one or two NATS subscriptions ("a/#" needs "a.>" and "a").
type sub struct {
	c      *conn
	filter string
	opts   Filter
	id     uint32 // v5 Subscription Identifier; 0: none
	pos    int    // in conn.subs.all
	subs   []*bridge.Subscription
	cons   *bridge.Consumer // durable consumer of a persistent QoS 1/2 subscription
	// topic, for a filter without wildcards, is the topic of everything
	// it receives (its one pattern is that literal subject).
	topic string
}

// topicOf is the topic name of a message on subject that sb (maybe nil)
// receives.
func (sb *sub) topicOf(subject string) string {
	if sb != nil && sb.topic != "" {
		return sb.topic
	}
	return subjects.MQTTSubjectToTopic(subject)
}

// Frame cache keys for QoS 0 PUBLISH frames shared by every connection of
// a version; a subscription with an identifier uses itself as key. A
// connection that receives topic aliases encodes its own frames.
type frameKey byte

const (
	keyV3 frameKey = 3
	keyV5 frameKey = 5
)

// subscribe handles SUBSCRIBE (3.8.4): one return code per filter
// [MQTT-3.8.4-5..7].
func (c *conn) subscribe(p *Packet) error {
	var id uint32
	if len(p.Props.SubscriptionIDs) > 0 {
		id = p.Props.SubscriptionIDs[0]
	}
	codes := make([]byte, len(p.Filters))
	for i, f := range p.Filters {
		codes[i] = c.subscribeOne(f, id)
	}
	// SUBACK promises delivery of what is published after it [MQTT-3.8.4-2].
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	if err := c.s.FlushSubscriptions(ctx); err != nil {
		c.s.Logger().Warn("mqtt subscribe flush failed", "err", err)
	}
	cancel()
	c.send(&Packet{Type: SUBACK, ID: p.ID, Reasons: codes}, c.version)
	c.saveSession()
	for _, f := range c.pendingRetained {
		f() // after SUBACK
	}
	c.pendingRetained = nil // an idle subscriber keeps none
	return nil
}

func (c *conn) subscribeOne(f Filter, id uint32) byte {
	fail := func(rc byte) byte {
		if c.version != V5 {
			return v3SubscribeFailure
		}
		return rc
	}
	filter, queue := f.Filter, ""
	if rest, ok := strings.CutPrefix(filter, "$share/"); ok && c.version != V31 {
		group, fl, ok := strings.Cut(rest, "/")
		// [MQTT-4.8.2-1/2]: a non-empty group without wildcards, then a filter.
		if !ok || group == "" || strings.ContainsAny(group, "+#") || fl == "" || f.NoLocal {
			return fail(rcProtocolError)
		}
		if subjects.ValidateSubject(group) != nil || strings.Contains(group, ".") {
			return fail(rcTopicFilterInvalid)
		}
		filter, queue = fl, group
	}
	patterns, err := subjects.MQTTFilterToPatterns(filter)
	if err != nil {
		return fail(rcTopicFilterInvalid)
	}
	// "a/#" is "a.>" and "a": a principal allowed only one of them gets
	// that one; allowed neither, the filter is refused.
	allowed := patterns[:0:0]
	var denied error
	for _, pt := range patterns {
		if err := c.s.CheckSubscribe(pt); err != nil {
			denied = err
			continue
		}
		allowed = append(allowed, pt)
	}
	if len(allowed) == 0 {
		return fail(reasonOfSub(denied))
	}
	patterns = allowed
	// A new subscription to the same filter replaces the old one
	// [MQTT-3.8.4-3].
	old := c.subs.del(f.Filter)
	if old != nil {
		old.unsubscribe()
	}
	sb := &sub{c: c, filter: f.Filter, opts: f, id: id}
	if !strings.ContainsAny(filter, "+#") {
		sb.topic = filter
	}
	if c.persist != nil && f.QoS > 0 && queue == "" {
		c.consume(sb, patterns) // before the live subscriptions, which read sb.cons
	}
	for _, pt := range patterns {
		s, err := c.s.Subscribe(pt, queue, sb.deliver)
		if err != nil {
			sb.unsubscribe()
			return fail(reasonOfSub(err))
		}
		sb.subs = append(sb.subs, s)
	}
	c.subs.put(sb)
	c.pendingRetained = append(c.pendingRetained, func() { c.sendRetained(sb, patterns, old == nil, queue != "") })
	return f.QoS // granted as asked: the gateway supports QoS 2
}

func reasonOfSub(err error) byte {
	switch bridge.KindOf(err) {
	case bridge.KindForbidden:
		return rcNotAuthorized
	case bridge.KindLimit:
		return rcQuotaExceeded
	case bridge.KindInvalidName:
		return rcTopicFilterInvalid
	}
	return rcUnspecified
}

func (sb *sub) unsubscribe() {
	for _, s := range sb.subs {
		s.Unsubscribe()
	}
	sb.subs = nil
	if sb.cons != nil {
		sb.cons.Stop()
	}
}

// unsubscribe handles UNSUBSCRIBE (3.10.4).
func (c *conn) unsubscribe(p *Packet) {
	codes := make([]byte, len(p.Filters))
	for i, f := range p.Filters {
		if sb := c.subs.del(f.Filter); sb != nil {
			sb.unsubscribe()
			if sb.cons != nil {
				ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
				_ = c.persist.js.DeleteConsumer(ctx, c.persist.stream, sb.cons.Name())
				cancel()
			}
		} else {
			codes[i] = rcNoSubscriptionExisted
		}
	}
	c.send(&Packet{Type: UNSUBACK, ID: p.ID, Reasons: codes}, c.version)
	c.saveSession()
}

// deliver sends one NATS message to the client. It runs on a hub
// dispatcher and never blocks.
func (sb *sub) deliver(d *bridge.Delivery) {
	c := sb.c
	m := d.Msg
	if sb.opts.NoLocal && m.Header.Get(bridge.HeaderConnectionID) == c.s.ID() {
		return // [MQTT-3.8.3-3]
	}
	if sb.cons != nil && m.Header.Get(HeaderStored) == "1" {
		return // it comes from the session's consumer
	}
	// Live messages carry RETAIN 0 except to a v5 Retain As Published
	// subscription [MQTT-3.3.1-12/13].
	retain := c.version == V5 && sb.opts.RetainAsPublished && m.Header.Get(HeaderRetain) == "1"
	qos := min(sb.opts.QoS, msgQoS(m))
	if qos > 0 {
		c.mu.Lock()
		c.queueOut(m, qos, sb, retain)
		c.mu.Unlock()
		return
	}
	if c.aliasMax > 0 {
		// An aliased frame is this connection's alone: not cached.
		if p := c.outPacket(m, sb.topicOf(m.Subject), 0, sb); p != nil {
			p.Retain = retain
			c.sendPublish(p)
		}
		return
	}
	var key any = keyV3
	if c.version == V5 {
		key = keyV5
		if sb.id != 0 || retain {
			key = sb
		}
	}
	f, err := d.Frame(key, func(m *bridge.Message) (*bridge.Frame, error) {
		p := c.outPacket(m, sb.topicOf(m.Subject), 0, sb)
		if p == nil {
			return nil, errNoTopic
		}
		p.Retain = retain
		return p.frame(c.version), nil
	})
	if err == nil {
		c.sendOut(f, d, false)
	}
}

var errNoTopic = errors.New("mqtt: subject has no MQTT topic")

// sendOut sends a PUBLISH frame unless it exceeds the client's Maximum
// Packet Size, in which case it is dropped [MQTT-3.1.2-25]. It reports
// whether the frame was queued. d, when not nil, is the hub delivery the
// frame belongs to: the writer then wakes once the dispatcher's batch is
// queued, writing several frames in one system call; deferred starts it
// on a goroutine of its own (Session.SendDeferred).
func (c *conn) sendOut(f *bridge.Frame, d *bridge.Delivery, deferred bool) bool {
	if c.maxOut > 0 && len(f.Payload()) > c.maxOut {
		c.s.Metrics().LimitExceeded(Name, "client_max_packet_size")
		return false
	}
	var err error
	switch {
	case d != nil:
		err = d.Send(c.s, f)
	case deferred:
		err = c.s.SendDeferred(f)
	default:
		err = c.s.Send(f)
	}
	if errors.Is(err, bridge.ErrSlowConsumer) {
		c.goodbye.CompareAndSwap(0, rcQuotaExceeded)
	}
	return err == nil
}

// msgQoS is the QoS a message was published with: its Mqtt-Qos header, 0
// for a message from NATS.
func msgQoS(m *bridge.Message) byte {
	switch m.Header.Get(HeaderQoS) {
	case "1":
		return 1
	case "2":
		return 2
	}
	return 0
}

// outPacket makes the PUBLISH of m on topic, or nil if topic cannot be sent.
// sb (maybe nil) adds its Subscription Identifier. The packet id is left
// for the caller.
func (c *conn) outPacket(m *bridge.Message, topic string, qos byte, sb *sub) *Packet {
	if topic == "" || !utf8.ValidString(topic) || strings.ContainsAny(topic, "+#\x00") {
		return nil
	}
	p := &Packet{Type: PUBLISH, Topic: topic, QoS: qos, Payload: m.Data}
	if c.version != V5 {
		return p
	}
	pr := &p.Props
	if sb != nil && sb.id != 0 {
		pr.SubscriptionIDs = []uint32{sb.id}
	}
	for k, vs := range m.Header {
		switch k {
		case HeaderContentType:
			if utf8.ValidString(vs[0]) {
				pr.ContentType = vs[0]
			}
			continue
		case HeaderPayloadFormat:
			if vs[0] == "1" {
				pr.setByte(propPayloadFormat, 1)
			}
			continue
		case HeaderMessageExpiry:
			if n, err := strconv.ParseUint(vs[0], 10, 32); err == nil {
				pr.setU32(propMessageExpiry, uint32(n))
			}
			continue
		case HeaderCorrelationData:
			if b, err := base64.StdEncoding.DecodeString(vs[0]); err == nil && len(b) <= 0xffff {
				pr.CorrelationData = b
			}
			continue
		case HeaderResponseTopic:
			if _, err := subjects.MQTTTopicToSubject(vs[0]); err == nil {
				pr.ResponseTopic = vs[0]
			}
			continue
		}
		if !userHeader(k) || !utf8.ValidString(k) {
			continue
		}
		for _, v := range vs {
			if len(pr.User) < maxUserProperties && utf8.ValidString(v) && !strings.Contains(v, "\x00") {
				pr.User = append(pr.User, UserProperty{k, v})
			}
		}
	}
	return p
}
