package mqtt

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/wsgate/wsgate/bridge"
	"github.com/wsgate/wsgate/subjects"
)

// Delayed wills [MQTT-3.1.3-9]: a v5 will with a Will Delay Interval (and
// a persistent session) waits min(delay, session expiry) after an abnormal
// close and is dropped if the client comes back first. A waiting will is
// state that must outlive its gateway, so it is written to the key-value
// bucket wills_bucket (key: the client key), and every gateway watches the
// bucket and keeps a timer for every waiting will. When a timer fires, the
// will is published only if
//
//   - no connection has claimed the client id since the one that left did
//     (the clients bucket keeps two values per key, so a return shows even
//     after it has ended), on any gateway; and
//   - deleting the record on condition of its revision succeeds: it was
//     not replaced by a newer will, cancelled, or published by another
//     gateway whose timer fired first.
//
// So a will is published once, by whichever gateway is up, even if the
// one the client was connected to has stopped.

// willRecord is a waiting will as stored.
type willRecord struct {
	Subject string        `json:"s"`
	Header  bridge.Header `json:"h"` // as published, with the connection's Wsgate-* headers
	Payload []byte        `json:"p,omitempty"`
	Retain  bool          `json:"r,omitempty"`
	Claim   uint64        `json:"c,omitempty"` // revision of the connection's client id claim
	Due     int64         `json:"d"`           // unix nanoseconds
}

// pendingWill is a will this gateway's timer waits for.
type pendingWill struct {
	timer *time.Timer
	rev   uint64 // of its record; 0: not stored
}

// willsKV opens the wills bucket once and starts its watch, which
// schedules every will waiting now, left by any gateway; nil without
// JetStream (wills then wait in this gateway only).
func (p *Protocol) willsKV(s *bridge.Session) *bridge.KV {
	log := s.Logger()
	return p.willStore.open(s.JetStream(), log, p.cfg.WillsBucket, p.willsConfig(),
		"mqtt delayed wills kept in this gateway only", p.watchWills(log))
}

func (p *Protocol) willsConfig() bridge.KVConfig {
	return bridge.KVConfig{TTL: p.cfg.MaxSessionExpiry + time.Hour}
}

// watchWills is the setup of the wills bucket: its watch, which lives as
// long as the process, one per gateway.
func (p *Protocol) watchWills(log *slog.Logger) func(js *bridge.JetStream, kv *bridge.KV) error {
	return func(js *bridge.JetStream, kv *bridge.KV) error {
		_, err := kv.Watch(context.Background(), ">", func(e bridge.KVEntry) { p.willEntry(js, kv, e, log) })
		return err
	}
}

// willEntry follows the wills bucket: a stored will gets a timer here too;
// a deleted one (published, cancelled) loses it.
func (p *Protocol) willEntry(js *bridge.JetStream, kv *bridge.KV, e bridge.KVEntry, log *slog.Logger) {
	if e.Deleted {
		p.dropWill(e.Key, e.Revision)
		return
	}
	var rec willRecord
	if json.Unmarshal(e.Value, &rec) != nil {
		return
	}
	key, rev := e.Key, e.Revision
	p.scheduleWill(key, rev, time.Until(time.Unix(0, rec.Due)), func() { p.fireWill(js, kv, key, rev, rec, log) })
}

// delayWill makes w wait delay (counted from closedAt) for the client's
// return. A will its principal may not publish now is dropped now.
func (c *conn) delayWill(w *Will, delay time.Duration, closedAt time.Time) {
	subject, err := subjects.MQTTTopicToSubject(w.Topic)
	if err != nil || c.s.CheckPublish(subject) != nil {
		return
	}
	hdr := c.s.Headers(bridge.EventMessage, "")
	for k, v := range c.willHeaders(w) {
		hdr[k] = v
	}
	rec := willRecord{Subject: subject, Header: hdr, Payload: w.Payload, Retain: w.Retain,
		Claim: c.claimRev.Load(), Due: closedAt.Add(delay).UnixNano()}
	js := c.s.JetStream()
	kv := c.p.willsKV(c.s)
	var rev uint64
	if kv != nil {
		b, _ := json.Marshal(rec)
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		rev, err = kv.Put(ctx, c.clientKey, b)
		cancel()
		if err != nil {
			c.s.Logger().Warn("mqtt will not stored: it waits in this gateway only", "err", err)
			kv, rev = nil, 0
		}
	}
	key, log := c.clientKey, c.s.Logger()
	c.p.scheduleWill(key, rev, time.Until(time.Unix(0, rec.Due)), func() {
		if kv == nil {
			c.publishWill(w)
			return
		}
		c.p.fireWill(js, kv, key, rev, rec, log)
	})
}

// fireWill publishes a stored will that is still due: its client has not
// come back and no other gateway has published it.
func (p *Protocol) fireWill(js *bridge.JetStream, kv *bridge.KV, key string, rev uint64, rec willRecord, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if rec.Claim != 0 {
		if clients := p.takeovers.bucket(); clients != nil {
			back, err := clients.PutSince(ctx, key, rec.Claim)
			if err != nil {
				log.Warn("mqtt will: cannot tell whether the client came back; publishing", "err", err)
			}
			if back {
				_ = kv.DeleteIf(ctx, key, rev)
				return
			}
		}
	}
	if kv.DeleteIf(ctx, key, rev) != nil {
		return // replaced by a newer will, cancelled, or published elsewhere
	}
	if err := js.Republish(rec.Subject, rec.Header, rec.Payload); err != nil {
		log.Warn("mqtt will not published", "subject", rec.Subject, "err", err)
		return
	}
	if rec.Retain {
		if rkv := p.retain.bucket(); rkv != nil {
			p.storeRetained(rkv, rec.Subject, rec.Header, rec.Payload, log, func(bool) {})
		}
	}
}

// scheduleWill runs fire after delay unless cancelWill comes first. One
// will per client key: a newer one replaces the older (the same one seen
// twice, from the connection and from the watch, keeps its first timer).
func (p *Protocol) scheduleWill(key string, rev uint64, delay time.Duration, fire func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if old := p.wills[key]; old != nil {
		if rev != 0 && old.rev >= rev {
			return
		}
		old.timer.Stop()
	}
	pw := &pendingWill{rev: rev}
	pw.timer = time.AfterFunc(max(delay, 0), func() {
		p.mu.Lock()
		if p.wills[key] == pw {
			delete(p.wills, key)
		}
		p.mu.Unlock()
		fire()
	})
	p.wills[key] = pw
}

// dropWill stops this gateway's timer for the will of key whose record
// was deleted at revision deletedAt.
func (p *Protocol) dropWill(key string, deletedAt uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if pw := p.wills[key]; pw != nil && pw.rev != 0 && pw.rev < deletedAt {
		pw.timer.Stop()
		delete(p.wills, key)
	}
}

// cancelWill drops the delayed will of a client that came back to this
// gateway, and its record. (A client that comes back to another gateway is
// seen by fireWill.)
func (p *Protocol) cancelWill(key string) {
	p.mu.Lock()
	pw := p.wills[key]
	delete(p.wills, key)
	p.mu.Unlock()
	if pw == nil {
		return
	}
	pw.timer.Stop()
	if kv := p.willStore.bucket(); kv != nil && pw.rev != 0 {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			_ = kv.DeleteIf(ctx, key, pw.rev)
		}()
	}
}

// publishWill publishes the will now, with the connection's permissions.
// It may run after the connection has gone; a will is due when the
// session ends [MQTT-3.1.3-9].
func (c *conn) publishWill(w *Will) {
	subject, err := subjects.MQTTTopicToSubject(w.Topic)
	if err != nil {
		return
	}
	hdr := c.willHeaders(w)
	if err := c.s.Publish(subject, "", hdr, w.Payload); err != nil {
		c.s.Logger().Debug("will refused", "topic", w.Topic, "err", err)
		return
	}
	if w.Retain {
		if kv := c.p.retained(c.s); kv != nil {
			c.storeRetained(kv, subject, hdr, w.Payload, func(bool) {})
		}
	}
}

// willHeaders are the NATS headers of the will as a PUBLISH of its own.
func (c *conn) willHeaders(w *Will) bridge.Header {
	return c.inHeaders(&Packet{Topic: w.Topic, QoS: w.QoS, Retain: w.Retain, Payload: w.Payload, Props: w.Props})
}
