package wamp

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/wsgate/wsgate/bridge"
)

// subscription is one SUBSCRIBE of a session: one bridge subscription per
// subject pattern its match policy needs.
type subscription struct {
	id   *topicID
	uri  string
	subs []*bridge.Subscription
}

// eventKey names the EVENT frame of one shared subscription id in one
// serializer: every local subscriber with that id and serializer gets the
// same frame, encoded once.
type eventKey struct {
	id  *topicID
	ser Serializer
}

func (sub *subscription) stop(p *Protocol) {
	for _, s := range sub.subs {
		s.Unsubscribe()
	}
	p.topics.release(sub.id)
}

// onSubscribe handles SUBSCRIBE [WAMP "Subscribing and Unsubscribing"].
func (c *conn) onSubscribe(m *Subscribe) {
	match := dictString(m.Options, "match")
	patterns, err := topicPatterns(c.prefix, m.Topic, match)
	if err != nil {
		c.replyError(TypeSubscribe, m.Request, sessionError(err), err)
		return
	}
	if match == "" {
		match = matchExact
	}
	k := topicKey{c.prefix, m.Topic, match}
	c.mu.Lock()
	old := c.byKey[k]
	c.mu.Unlock()
	if old != nil {
		// "If the Subscriber is already subscribed to the topic, the
		// Broker [returns] the existing Subscription ID."
		c.send(&Subscribed{Request: m.Request, Subscription: old.id.id})
		return
	}
	for _, p := range patterns {
		if err := c.s.CheckSubscribe(p); err != nil {
			c.replyError(TypeSubscribe, m.Request, sessionError(err), err)
			return
		}
	}
	sub := &subscription{id: c.p.topics.acquire(k), uri: m.Topic}
	deliver := c.deliverer(sub, match != matchExact)
	for _, p := range patterns {
		bs, err := c.s.Subscribe(p, "", deliver)
		if err != nil {
			sub.stop(c.p)
			c.replyError(TypeSubscribe, m.Request, sessionError(err), err)
			return
		}
		sub.subs = append(sub.subs, bs)
	}
	c.mu.Lock()
	if c.subs == nil {
		c.subs, c.byKey = map[uint64]*subscription{}, map[topicKey]*subscription{}
	}
	c.subs[sub.id.id] = sub
	c.byKey[k] = sub
	c.mu.Unlock()
	// SUBSCRIBED promises the events published after it.
	c.flush()
	c.send(&Subscribed{Request: m.Request, Subscription: sub.id.id})
}

// deliverer returns the delivery callback of a subscription. It runs on a
// hub dispatcher: it never blocks.
func (c *conn) deliverer(sub *subscription, pattern bool) func(*bridge.Delivery) {
	// Boxed once: an eventKey made into an interface at every delivery
	// would allocate.
	var key any = eventKey{sub.id, c.ser}
	ser := c.ser
	return func(d *bridge.Delivery) {
		h := d.Msg.Header
		// Publisher exclusion: "the publisher of an event will not receive
		// the event [...] even if subscribed", unless it asked for it
		// with exclude_me: false [WAMP "Publisher Exclusion"].
		if h.Get(bridge.HeaderConnectionID) == c.s.ID() && h.Get(HeaderExcludeMe) != "false" {
			return
		}
		if filtered(d) && !c.admits(h) {
			return // not eligible, or excluded
		}
		if !trustedMeta(sub.id.key.prefix, d.Msg.Subject, h) {
			return // a forged meta event
		}
		f, err := d.Frame(key, func(msg *bridge.Message) (*bridge.Frame, error) {
			return c.p.eventFrame(ser, sub, pattern, msg)
		})
		if err == nil {
			_ = d.Send(c.s, f)
		}
	}
}

// eventFrame encodes a NATS message as the EVENT of a shared subscription
// id, the same for every subscriber of it.
func (p *Protocol) eventFrame(ser Serializer, sub *subscription, pattern bool, msg *bridge.Message) (*bridge.Frame, error) {
	details := Dict{}
	prefix := sub.id.key.prefix
	if pattern {
		// "the Broker MUST supply the original PUBLISH.Topic|uri as
		// EVENT.Details.topic" for pattern-based subscriptions.
		details["topic"] = subjectURI(prefix, msg.Subject)
	}
	if pub, err := strconv.ParseUint(msg.Header.Get(HeaderPublisher), 10, 64); err == nil && pub > 0 && identityTrusted(msg.Header) {
		details["publisher"] = pub
		if a := msg.Header.Get(HeaderPublisherAuthid); a != "" {
			details["publisher_authid"] = a
		}
		if r := msg.Header.Get(HeaderPublisherAuthrole); r != "" {
			details["publisher_authrole"] = r
		}
	}
	pubID, err := strconv.ParseUint(msg.Header.Get(HeaderPublication), 10, 64)
	if err != nil || pubID == 0 || pubID > maxID {
		pubID = newID()
	}
	args, kwargs := decodeBody(msg.Data, p.lim.MaxDepth)
	b, err := Encode(ser, nil, &Event{Subscription: sub.id.id, Publication: pubID, Details: details, Args: args, Kwargs: kwargs})
	if err != nil {
		return nil, err
	}
	if ser.Text() {
		return bridge.TextFrame(b), nil
	}
	return bridge.BinaryFrame(b), nil
}

// onUnsubscribe handles UNSUBSCRIBE.
func (c *conn) onUnsubscribe(m *Unsubscribe) {
	c.mu.Lock()
	sub := c.subs[m.Subscription]
	if sub != nil {
		delete(c.subs, m.Subscription)
		delete(c.byKey, sub.id.key)
	}
	c.mu.Unlock()
	if sub == nil {
		c.replyError(TypeUnsubscribe, m.Request, errNoSuchSubscription, nil)
		return
	}
	sub.stop(c.p)
	c.send(&Unsubscribed{Request: m.Request})
}

// onPublish handles PUBLISH [WAMP "Publishing and Events"]. Errors are
// answered only when the publisher asked for an acknowledgement.
func (c *conn) onPublish(m *Publish) {
	ack := dictBool(m.Options, "acknowledge")
	fail := func(err error) {
		if ack {
			c.replyError(TypePublish, m.Request, sessionError(err), err)
		}
	}
	subject, err := uriSubject(c.prefix, m.Topic)
	if err != nil {
		fail(err)
		return
	}
	if isWAMPURI(m.Topic) {
		fail(fmt.Errorf("%w: %q is reserved for WAMP itself", errInvalidURI, short(m.Topic)))
		return
	}
	body, err := encodeBody(m.Args, m.Kwargs)
	if err != nil {
		fail(fmt.Errorf("%w: %w", errInvalidArgument, err))
		return
	}
	pub := newID()
	hdr := bridge.Header{
		HeaderTopic:       {m.Topic},
		HeaderPublication: {strconv.FormatUint(pub, 10)},
	}
	if dictBool(m.Options, "disclose_me") {
		c.identify(hdr, HeaderPublisher, HeaderPublisherAuthid, HeaderPublisherAuthrole)
	}
	if v, ok := m.Options["exclude_me"].(bool); ok && !v {
		hdr.Set(HeaderExcludeMe, "false")
	}
	if err := addFilter(hdr, m.Options); err != nil {
		fail(err)
		return
	}
	if err := c.s.Publish(subject, "", hdr, body); err != nil {
		if errors.Is(err, bridge.ErrClosed) {
			return
		}
		fail(err)
		return
	}
	if ack {
		c.send(&Published{Request: m.Request, Publication: pub})
	}
}

// identify puts the session's identity in hdr under the given names.
func (c *conn) identify(hdr bridge.Header, id, authid, authrole string) {
	hdr.Set(id, strconv.FormatUint(c.session, 10))
	hdr.Set(authid, c.authid)
	hdr.Set(authrole, c.authrole)
}

// isWAMPURI reports whether uri is in the wamp. namespace, which "is
// reserved for WAMP itself" [WAMP "Reserved URIs"].
func isWAMPURI(uri string) bool {
	return len(uri) >= 5 && uri[:5] == "wamp."
}
