package mqtt

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"

	"github.com/wsgate/wsgate/bridge"
	"github.com/wsgate/wsgate/subjects"
)

// NATS headers the MQTT protocol reads and writes, beside the v5 user
// properties, which map to headers of their own names.
const (
	HeaderQoS             = "Mqtt-Qos"              // QoS of a message an MQTT client published (1 or 2; absent: 0)
	HeaderPayloadFormat   = "Mqtt-Payload-Format"   // "1": the payload is UTF-8
	HeaderMessageExpiry   = "Mqtt-Message-Expiry"   // seconds
	HeaderCorrelationData = "Mqtt-Correlation-Data" // base64 (standard, padded)
	HeaderResponseTopic   = "Mqtt-Response-Topic"   // topic to answer on (outbound only)
	HeaderTopic           = "Mqtt-Topic"            // topic of a worker push
	HeaderContentType     = "Content-Type"
)

// publish handles an inbound PUBLISH (3.3.4): QoS 0 fire-and-forget, QoS 1
// PUBACK, QoS 2 PUBREC with the packet id kept until PUBREL so a resent
// PUBLISH is not published twice [MQTT-4.3.3-…].
func (c *conn) publish(p *Packet) error {
	topic := p.Topic
	if c.version == V5 && p.Props.Has&HasTopicAlias != 0 {
		a := p.Props.TopicAlias
		if a == 0 || int(a) > c.p.cfg.TopicAliasMaximum {
			return c.fail("topic_alias", rcTopicAliasInvalid, "topic alias out of range") // [MQTT-3.3.2-8/9]
		}
		if topic == "" {
			if topic = c.aliases[a]; topic == "" {
				return c.fail("topic_alias", rcProtocolError, "unknown topic alias")
			}
		} else {
			if c.aliases == nil {
				c.aliases = map[uint16]string{}
			}
			c.aliases[a] = topic
		}
	}
	var kv *bridge.KV
	if p.Retain {
		if kv = c.p.retained(c.s); kv == nil && c.version == V5 {
			return c.fail("retain", rcRetainNotSupported, "retained messages are not supported") // Retain Available was 0
		}
	}
	subject, err := subjects.MQTTTopicToSubject(topic)
	if errors.Is(err, subjects.ErrMQTTWildcard) || topic == "" {
		return c.fail("topic_name", rcTopicNameInvalid, "invalid topic name") // [MQTT-3.3.2-2]
	}
	if err != nil {
		if c.version != V5 || p.QoS == 0 {
			return c.fail("topic_name", rcTopicNameInvalid, err.Error())
		}
		c.submit(&inPub{qos: p.QoS, id: p.ID, ackOnly: true, rc: rcTopicNameInvalid}, nil)
		return nil
	}
	if p.QoS == 2 {
		in := c.inbound()
		in.mu.Lock()
		_, dup := in.qos2[p.ID]
		if !dup && len(in.qos2) < c.qos2Limit() {
			// Remembered now, so that a resend is recognised even
			// while the first is still being stored.
			if in.qos2 == nil {
				in.qos2 = map[uint16]struct{}{}
			}
			in.qos2[p.ID] = struct{}{}
		} else if !dup {
			in.mu.Unlock()
			return c.fail("receive_maximum", rcReceiveMaxExceeded, "receive maximum exceeded") // [MQTT-3.3.4-9]
		}
		in.mu.Unlock()
		if dup {
			c.submit(&inPub{qos: 2, id: p.ID, ackOnly: true}, nil) // already published: only acknowledge
			return nil
		}
	}
	hdr := c.inHeaders(p)
	e := &inPub{subject: subject, hdr: hdr, payload: p.Payload, kv: kv, qos: p.QoS, id: p.ID}
	if c.version == V5 && p.Props.ResponseTopic != "" {
		e.ackOnly, e.rc = true, c.request(subject, p, hdr)
		c.submit(e, nil)
		return nil
	}
	// What is stored — in the session stream (QoS 1/2) and as the retained
	// message — is stored before the message is published and
	// acknowledged; a message the client may not publish is neither.
	var ps *persistence
	if c.s.CheckPublish(subject) != nil {
		e.kv = nil
	} else if p.QoS > 0 {
		if ps = c.p.persistence(c.s); ps != nil && !ps.wanted() {
			ps = nil
		}
	}
	if ps == nil && e.kv == nil {
		c.submit(e, nil)
		return nil
	}
	c.submit(e, func(e *inPub) { c.store(ps, e) })
	return nil
}

// qos2Limit is how many QoS 2 messages the client may have unreleased: the
// Receive Maximum a v5 client was told; 3.1.1 clients, who cannot be told,
// get v3ReleaseLimit (or Receive Maximum if that is higher).
func (c *conn) qos2Limit() int {
	if c.version == V5 {
		return c.p.cfg.ReceiveMaximum
	}
	return max(c.p.cfg.ReceiveMaximum, v3ReleaseLimit)
}

// v3ReleaseLimit bounds the unreleased QoS 2 messages of a 3.1.1 client:
// enough for any sane in-flight window, small enough that a client cannot
// make the gateway hold all 65,535 packet ids.
const v3ReleaseLimit = 1024

// reasonOf maps a Session error to a v5 reason code.
func reasonOf(err error) byte {
	switch bridge.KindOf(err) {
	case bridge.KindForbidden:
		return rcNotAuthorized
	case bridge.KindInvalidName:
		return rcTopicNameInvalid
	case bridge.KindLimit:
		return rcQuotaExceeded
	}
	return rcUnspecified
}

// inHeaders makes the NATS headers of an inbound PUBLISH: its QoS and, for
// v5, its user properties and message properties.
func (c *conn) inHeaders(p *Packet) bridge.Header {
	var h bridge.Header
	set := func(k, v string) {
		if h == nil {
			h = bridge.Header{}
		}
		h[k] = append(h[k], v)
	}
	if p.QoS > 0 {
		set(HeaderQoS, strconv.Itoa(int(p.QoS)))
	}
	if p.Retain {
		set(HeaderRetain, "1")
	}
	if c.version != V5 {
		return h
	}
	for _, u := range p.Props.User {
		if userHeader(u.Key) && !strings.ContainsAny(u.Value, "\r\n") {
			set(u.Key, u.Value)
		}
	}
	pr := &p.Props
	if pr.ContentType != "" && !strings.ContainsAny(pr.ContentType, "\r\n") {
		h = setOne(h, HeaderContentType, pr.ContentType)
	}
	if pr.Has&HasPayloadFormat != 0 && pr.PayloadFormat == 1 {
		h = setOne(h, HeaderPayloadFormat, "1")
	}
	if pr.Has&HasMessageExpiry != 0 {
		h = setOne(h, HeaderMessageExpiry, strconv.FormatUint(uint64(pr.MessageExpiry), 10))
	}
	if pr.CorrelationData != nil {
		h = setOne(h, HeaderCorrelationData, base64.StdEncoding.EncodeToString(pr.CorrelationData))
	}
	return h
}

func setOne(h bridge.Header, k, v string) bridge.Header {
	if h == nil {
		h = bridge.Header{}
	}
	h[k] = []string{v}
	return h
}

// userHeader reports whether a v5 user property name may become a NATS
// header: a valid header name outside the gateway's (Wsgate-), NATS's
// (Nats-) and this protocol's (Mqtt-) own, and not Content-Type.
func userHeader(k string) bool {
	if k == "" || len(k) > 256 {
		return false
	}
	for i := 0; i < len(k); i++ {
		if c := k[i]; c <= ' ' || c == ':' || c >= 0x7f {
			return false
		}
	}
	l := strings.ToLower(k)
	return !strings.HasPrefix(l, "wsgate-") && !strings.HasPrefix(l, "nats-") &&
		!strings.HasPrefix(l, "mqtt-") && l != "content-type"
}

// request turns a v5 PUBLISH with a Response Topic into a NATS request; the
// reply is published to the response topic with the correlation data, for
// the client's own subscription to pick up. It returns the reason code for
// the PUBLISH's acknowledgement.
func (c *conn) request(subject string, p *Packet, hdr bridge.Header) byte {
	respSubject, err := subjects.MQTTTopicToSubject(p.Props.ResponseTopic)
	if err != nil {
		return rcTopicNameInvalid
	}
	if err := c.s.CheckPublish(subject); err != nil {
		return reasonOf(err)
	}
	if err := c.s.CheckPublish(respSubject); err != nil {
		return reasonOf(err)
	}
	corr := bytes.Clone(p.Props.CorrelationData)
	// The request carries both properties too, so that an MQTT subscriber
	// can answer by publishing to the response topic itself.
	hdr = setOne(hdr, HeaderResponseTopic, p.Props.ResponseTopic)
	if corr != nil {
		hdr = setOne(hdr, HeaderCorrelationData, base64.StdEncoding.EncodeToString(corr))
	}
	err = c.s.RequestAsync(c.p.cfg.MaxRequests, subject, "", hdr, p.Payload, c.p.cfg.RequestTimeout, func(reply *bridge.Message, err error) {
		if err != nil {
			c.s.Logger().Debug("mqtt request failed", "subject", subject, "err", err)
			return
		}
		h := bridge.Header{}
		for k, v := range reply.Header {
			if userHeader(k) || k == HeaderContentType {
				h[k] = v
			}
		}
		if corr != nil {
			h.Set(HeaderCorrelationData, base64.StdEncoding.EncodeToString(corr))
		}
		if err := c.s.Publish(respSubject, "", h, reply.Data); err != nil {
			c.s.Logger().Debug("mqtt response refused", "subject", respSubject, "err", err)
		}
	})
	if err != nil {
		return reasonOf(err)
	}
	return rcSuccess
}
