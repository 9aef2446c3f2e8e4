package mqtt

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"strings"
	"time"

	"github.com/wsgate/wsgate/bridge"
	"github.com/wsgate/wsgate/subjects"
)

// Retained messages live in a JetStream key-value bucket keyed by subject,
// shared by every gateway and kept across restarts. Without JetStream the
// gateway says Retain Available 0 (v5) and publishes a 3.1.1 retained
// message like any other.

// HeaderRetain marks a message published with the RETAIN flag ("1").
const HeaderRetain = "Mqtt-Retain"

// retainedRecord is the stored form of a retained message.
type retainedRecord struct {
	Subject string        `json:"s"`
	Header  bridge.Header `json:"h,omitempty"`
	Data    []byte        `json:"d"`
}

// retained is the retained bucket, opened on first use; nil without
// JetStream.
func (p *Protocol) retained(s *bridge.Session) *bridge.KV {
	return p.retain.open(s.JetStream(), s.Logger(), p.cfg.RetainedBucket, bridge.KVConfig{}, "mqtt retained messages unavailable", nil)
}

// kvToken maps one subject token (or '*' / '>') to a key token: KV keys
// allow only [-/_=.a-zA-Z0-9], so any other token becomes "=" and its
// unpadded base64url form. Per token, so NATS wildcards still filter keys.
func kvToken(t string) string {
	if t == "*" || t == ">" {
		return t
	}
	ok := t != "" && t[0] != '='
	for i := 0; ok && i < len(t); i++ {
		c := t[i]
		ok = c == '-' || c == '_' || c == '/' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
	}
	if ok {
		return t
	}
	return "=" + base64.RawURLEncoding.EncodeToString([]byte(t))
}

// kvKey maps a subject or pattern to a key or key filter.
func kvKey(subject string) string {
	toks := strings.Split(subject, ".")
	for i, t := range toks {
		toks[i] = kvToken(t)
	}
	return strings.Join(toks, ".")
}

// storeRetained sets (or, with an empty payload, clears) the retained
// message of subject [MQTT-3.3.1-5/6/10] without waiting; done (which
// must not block) reports whether it did. Updates from one gateway reach
// the bucket in the order they were made.
func (c *conn) storeRetained(kv *bridge.KV, subject string, hdr bridge.Header, data []byte, done func(ok bool)) {
	c.p.storeRetained(kv, subject, hdr, data, c.s.Logger(), done)
}

func (p *Protocol) storeRetained(kv *bridge.KV, subject string, hdr bridge.Header, data []byte, log *slog.Logger, done func(ok bool)) {
	key := kvKey(subject)
	if len(data) == 0 {
		kv.DeleteAsync(key, func(err error) {
			if err != nil {
				log.Warn("mqtt retained delete failed", "subject", subject, "err", err)
			}
			done(err == nil)
		})
		return
	}
	h := bridge.Header{}
	for k, v := range hdr {
		// Neither the delivery flags nor who published it: a retained
		// message is sent later to others, never with Wsgate-* headers.
		if k != HeaderRetain && k != HeaderStored && !strings.HasPrefix(k, "Wsgate-") {
			h[k] = v
		}
	}
	b, _ := json.Marshal(retainedRecord{Subject: subject, Header: h, Data: data})
	kv.PutAsync(key, b, func(_ uint64, err error) {
		if err != nil {
			log.Warn("mqtt retained store failed", "subject", subject, "err", err)
		}
		done(err == nil)
	})
}

// sendRetained delivers the retained messages matching a new subscription,
// after its SUBACK, each checked against the principal with MayReceive
// [MQTT-3.3.1-9, 3.8.4-4]. Retain Handling 1 sends them only for a new
// subscription, 2 never; shared subscriptions get none [MQTT-4.8.2-…].
func (c *conn) sendRetained(sb *sub, patterns []string, isNew bool, shared bool) {
	rh := sb.opts.RetainHandling
	if shared || rh == 2 || rh == 1 && !isNew {
		return
	}
	kv := c.p.retained(c.s)
	if kv == nil {
		return
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for _, pt := range patterns {
			// A filter without wildcards names one key: one Get, not a
			// listing (which costs JetStream a consumer).
			keys := []string{kvKey(pt)}
			if !subjects.IsLiteral(pt) {
				var err error
				if keys, err = kv.Keys(ctx, kvKey(pt)); err != nil {
					continue // none, or JetStream trouble: nothing to send
				}
			}
			for _, key := range keys {
				v, _, err := kv.Get(ctx, key)
				if err != nil {
					continue
				}
				var r retainedRecord
				if json.Unmarshal(v, &r) != nil || !subjects.Match(pt, r.Subject) || !c.s.MayReceive(r.Subject) {
					continue
				}
				m := &bridge.Message{Subject: r.Subject, Header: r.Header, Data: r.Data}
				qos := min(sb.opts.QoS, msgQoS(m))
				if qos == 0 {
					p := c.outPacket(m, subjects.MQTTSubjectToTopic(m.Subject), 0, sb)
					if p != nil {
						p.Retain = true
						c.sendPublish(p)
					}
					continue
				}
				c.mu.Lock()
				c.queueOut(m, qos, sb, true)
				c.mu.Unlock()
			}
		}
	}()
}
