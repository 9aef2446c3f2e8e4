package mqtt

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wsgate/wsgate/bridge"
	"github.com/wsgate/wsgate/subjects"
)

// Persistent sessions (Clean Session 0 in 3.1.1, Session Expiry > 0 in 5.0;
// and a stored session that a v5 Clean Start 0 resumes without an expiry,
// until its connection ends) live in JetStream, never in gateway memory:
//
//   - a stream (interest retention) stores what MQTT clients publish at
//     QoS 1 and 2, on <reserved prefix>.mqtt.msgs.<subject>;
//   - each QoS 1/2 subscription of a persistent session is a durable
//     consumer of it, named from the client id, the session's generation
//     and the filter;
//   - the session — subscriptions, unreleased QoS 2 ids, the connection
//     holding it or when it went, its expiry — is a JSON value in a
//     key-value bucket, keyed by client id;
//   - its end is scheduled in JetStream when its connection goes
//     (expiry.go).
//
// While the client is connected its QoS 1/2 messages come from the
// consumer (the live subscription skips messages marked Mqtt-Stored), so
// nothing arrives twice; what it has not acknowledged when it goes is handed
// back to JetStream and redelivered, with DUP, on reconnect. Messages from
// NATS publishers are not stored: they reach only connected clients, at QoS 0.

// HeaderStored marks a live message that also went to the session stream.
const HeaderStored = "Mqtt-Stored"

// sessionState is a persistent session as stored.
type sessionState struct {
	Subs []storedSub `json:"subs"`
	// Rel holds the packet ids of QoS 2 messages the client has received
	// (PUBREC) but not completed (PUBCOMP): their PUBREL is resent when the
	// session resumes [MQTT-4.4.0-1], and the ids stay in use until then.
	Rel []uint16 `json:"rel,omitempty"`
	// Gen is the session's generation: the id of the connection that began
	// it, part of its consumers' names, so that a session begun after
	// another ended never shares a consumer with it (whoever is still
	// deleting the old one's). "" for sessions stored before generations.
	Gen string `json:"gen,omitempty"`
	// Conn is the connection holding the session; "" once it has gone.
	Conn string `json:"conn,omitempty"`
	// Expiry is the session's expiry interval, after the cap.
	Expiry time.Duration `json:"exp,omitempty"`
	// Gone is when the session's last connection ended, in unix
	// nanoseconds; 0 while a connection holds it.
	Gone int64 `json:"gone,omitempty"`
}

// expired reports whether the session has ended by now: its connection
// has gone and its expiry interval has passed since [MQTT-3.1.2-23].
func (st *sessionState) expired(now time.Time) bool {
	return st.Gone != 0 && now.UnixNano() >= st.Gone+int64(st.Expiry)
}

// consumerFilters are the filters of st's subscriptions that have a
// consumer: QoS 1/2, not shared.
func (st *sessionState) consumerFilters() []string {
	var fs []string
	for _, sb := range st.Subs {
		if sb.QoS > 0 && !strings.HasPrefix(sb.Filter, "$share/") {
			fs = append(fs, sb.Filter)
		}
	}
	return fs
}

type storedSub struct {
	Filter string `json:"f"`
	QoS    byte   `json:"q"`
	NL     bool   `json:"nl,omitempty"`
	RAP    bool   `json:"rap,omitempty"`
	RH     byte   `json:"rh,omitempty"`
	ID     uint32 `json:"id,omitempty"`
}

// persistence is the gateway's handle on the session stream and bucket.
type persistence struct {
	js     *bridge.JetStream
	kv     *bridge.KV
	log    *slog.Logger
	stream string
	prefix string // subject prefix of stored messages, ending in '.'
	// consumers says whether any session has a durable consumer of the
	// stream, anywhere: without one, a message would be stored for
	// nobody (interest retention), so it is not stored at all and QoS 1/2
	// costs about what QoS 0 does.
	consumers *bridge.ConsumerWatch
	// sessions says whether the sessions bucket may hold a session: while
	// it holds none (anywhere), a CONNECT has nothing to look up.
	sessions *bridge.EmptyWatch
	// expiry is where session ends are scheduled (expiry.go); nil when
	// JetStream cannot schedule (nats-server before 2.12).
	expiry *expiryStream
}

// wanted reports whether storing a message may serve a session.
func (ps *persistence) wanted() bool {
	return ps.consumers == nil || ps.consumers.HasConsumers()
}

type persistStore struct {
	mu    sync.Mutex
	p     *persistence
	retry time.Time
}

// persistence opens the stream and bucket once; nil without JetStream.
func (p *Protocol) persistence(s *bridge.Session) *persistence {
	ps := &p.persist
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.p != nil || time.Now().Before(ps.retry) {
		return ps.p
	}
	js := s.JetStream()
	if js == nil {
		ps.retry = time.Now().Add(10 * time.Second)
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	prefix := s.ReservedPrefix() + ".mqtt.msgs."
	err := js.EnsureStream(ctx, bridge.StreamConfig{
		Name: p.cfg.SessionStream, Subjects: []string{prefix + ">"},
		Retention: "interest", MaxAge: p.cfg.MaxSessionExpiry,
		Duplicates: storeRetryFor + 5*time.Second, // a store's retries share its id
	})
	var kv *bridge.KV
	if err == nil {
		// A stored session outlives its expiry by a little, for the
		// scheduled end to find it (and its consumers) there.
		kv, err = js.KV(ctx, p.cfg.SessionsBucket, bridge.KVConfig{TTL: p.cfg.MaxSessionExpiry + time.Hour})
	}
	if err != nil {
		s.Logger().Warn("mqtt persistent sessions unavailable", "err", err)
		ps.retry = time.Now().Add(10 * time.Second)
		return nil
	}
	watch, err := js.WatchConsumers(p.cfg.SessionStream)
	if err != nil {
		s.Logger().Warn("mqtt session consumers not watched: storing every QoS 1/2 message", "err", err)
	}
	empty, err := kv.WatchEmpty()
	if err != nil {
		s.Logger().Warn("mqtt sessions bucket not watched: every CONNECT looks its session up", "err", err)
	}
	ps.p = &persistence{js: js, kv: kv, log: s.Logger(), stream: p.cfg.SessionStream, prefix: prefix, consumers: watch, sessions: empty}
	if ps.p.expiry, err = p.openExpiry(ctx, s, ps.p); err != nil {
		s.Logger().Warn("mqtt session expiry not scheduled: enforced when a client comes back, "+
			"JetStream removes the consumers of a session nobody resumes a minute after its expiry", "err", err)
	}
	// Wills left waiting by a gateway that stopped are taken over now,
	// not at this gateway's first delayed will.
	go p.willsKV(s)
	return ps.p
}

// consumerName names the durable consumer of a session's subscription;
// gen is the session's generation ("": a session stored before them).
func consumerName(clientKey, gen, filter string) string {
	id := clientKey + "\x00" + filter
	if gen != "" {
		id = clientKey + "\x00" + gen + "\x00" + filter
	}
	h := sha256.Sum256([]byte(id))
	return "mqtt_" + hex.EncodeToString(h[:16])
}

// load reads a stored session and its revision; bridge.ErrNotFound if
// there is none. A value that does not decode is deleted and counts as
// none.
func (ps *persistence) load(ctx context.Context, key string) (*sessionState, uint64, error) {
	v, rev, err := ps.kv.Get(ctx, key)
	if err != nil {
		return nil, 0, err
	}
	var st sessionState
	if json.Unmarshal(v, &st) != nil {
		_ = ps.kv.DeleteIf(ctx, key, rev)
		return nil, 0, bridge.ErrNotFound
	}
	return &st, rev, nil
}

// drop deletes a stored session if it is still at revision rev
// (bridge.ErrWrongRev if not), then its consumers and those of filters
// [MQTT-3.1.2-4]. The session goes first: a connection that resumes it
// meanwhile keeps it whole, and one that comes after finds none and
// begins another generation, whose consumers are not these.
func (ps *persistence) drop(ctx context.Context, key string, st *sessionState, rev uint64, filters ...string) error {
	if err := ps.kv.DeleteIf(ctx, key, rev); err != nil {
		return err
	}
	ps.dropConsumers(ctx, key, st.Gen, append(st.consumerFilters(), filters...))
	return nil
}

// dropConsumers deletes the consumers of generation gen of a session
// for filters; JetStream's inactive threshold is the backstop for any
// that fails.
func (ps *persistence) dropConsumers(ctx context.Context, key, gen string, filters []string) {
	done := map[string]bool{}
	for _, f := range filters {
		name := consumerName(key, gen, f)
		if done[name] {
			continue
		}
		done[name] = true
		if err := ps.js.DeleteConsumer(ctx, ps.stream, name); err != nil && !errors.Is(err, bridge.ErrNotFound) {
			ps.log.Warn("mqtt session consumer not deleted", "consumer", name, "err", err)
		}
	}
}

// saveSession stores the connection's subscriptions and unreleased ids
// and waits for JetStream.
func (c *conn) saveSession() {
	if c.persist == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if _, err := c.persist.kv.Put(ctx, c.clientKey, c.sessionValue()); err != nil {
		c.s.Logger().Warn("mqtt session save failed", "err", err)
	}
}

// saveRel stores the session after a QoS 2 exchange moved on, without
// waiting: puts from one gateway reach JetStream in the order they were
// made, so the newest state wins.
func (c *conn) saveRel() {
	if c.persist == nil {
		return
	}
	c.persist.kv.PutAsync(c.clientKey, c.sessionValue(), func(_ uint64, err error) {
		if err != nil {
			c.s.Logger().Warn("mqtt session save failed", "err", err)
		}
	})
}

// sessionState is the session as the connection holds it. It runs on the
// reader, which owns subs, or in OnClose, after it.
func (c *conn) sessionState() *sessionState {
	st := &sessionState{Gen: c.gen, Conn: c.s.ID(), Expiry: c.expiry}
	for _, sb := range c.subs.all {
		st.Subs = append(st.Subs, storedSub{Filter: sb.filter, QoS: sb.opts.QoS, NL: sb.opts.NoLocal,
			RAP: sb.opts.RetainAsPublished, RH: sb.opts.RetainHandling, ID: sb.id})
	}
	c.mu.Lock()
	for id, f := range c.out.inflight {
		if f.rel {
			st.Rel = append(st.Rel, id)
		}
	}
	c.mu.Unlock()
	slices.Sort(st.Rel)
	return st
}

// sessionValue encodes the session as stored.
func (c *conn) sessionValue() []byte {
	b, _ := json.Marshal(c.sessionState())
	return b
}

// openSession settles the session at CONNECT. Clean Start drops a stored
// session [MQTT-3.1.2-4]; otherwise a stored one is resumed, whatever the
// Session Expiry Interval [MQTT-3.1.2-5] (0 ends it when this connection
// closes: expiry.go), unless it has expired: then it is dropped and
// treated as absent. A persistent connection without a session to resume
// begins one [MQTT-3.1.2-6]. It returns the session to restore (after
// CONNACK), or nil.
//
// Resuming claims the session — this connection's id in it — on
// condition that it has not changed since it was read, so a CONNECT and
// a scheduled end (or a CONNECT on another gateway) that race settle it
// one way, not both.
func (c *conn) openSession(persistent, cleanStart bool) *sessionState {
	ps := c.p.persistence(c.s)
	if ps == nil {
		return nil
	}
	begin := func() *sessionState {
		if persistent {
			c.persist, c.gen = ps, c.s.ID()
		}
		return nil
	}
	if ps.sessions != nil && !ps.sessions.MayHaveKeys() {
		return begin() // no session stored anywhere
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for range 3 {
		st, rev, err := ps.load(ctx, c.clientKey)
		if errors.Is(err, bridge.ErrNotFound) {
			return begin()
		}
		if err != nil {
			c.s.Logger().Warn("mqtt session lookup failed", "err", err)
			return begin()
		}
		if cleanStart || st.expired(time.Now()) {
			if err := ps.drop(ctx, c.clientKey, st, rev); err != nil {
				continue // changed meanwhile: look again
			}
			return begin()
		}
		st.Conn, st.Gone, st.Expiry = c.s.ID(), 0, c.expiry
		b, _ := json.Marshal(st)
		if _, err := ps.kv.Update(ctx, c.clientKey, b, rev); err != nil {
			if errors.Is(err, bridge.ErrWrongRev) {
				continue
			}
			c.s.Logger().Warn("mqtt session not resumed", "err", err)
			return begin()
		}
		c.persist, c.gen = ps, st.Gen
		return st
	}
	c.s.Logger().Warn("mqtt session changing under CONNECT: not resumed")
	return begin()
}

// restore resubscribes a resumed session's subscriptions and resends the
// PUBREL of every QoS 2 message the client had not completed.
func (c *conn) restore(st *sessionState) {
	if st == nil {
		return
	}
	for _, s := range st.Subs {
		c.subscribeOne(Filter{Filter: s.Filter, QoS: s.QoS, NoLocal: s.NL, RetainAsPublished: s.RAP, RetainHandling: 2}, s.ID)
	}
	c.pendingRetained = nil // no retained messages on resume
	if len(st.Rel) == 0 {
		return
	}
	c.mu.Lock()
	for _, id := range st.Rel {
		c.out.release(id)
	}
	c.mu.Unlock()
	for _, id := range st.Rel {
		c.send(&Packet{Type: PUBREL, ID: id}, c.version)
	}
}

// consume starts the durable consumer of a persistent QoS 1/2 subscription.
func (c *conn) consume(sb *sub, patterns []string) {
	ps := c.persist
	filters := make([]string, len(patterns))
	for i, pt := range patterns {
		filters[i] = ps.prefix + pt
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cons, err := ps.js.Consume(ctx, bridge.ConsumerConfig{
		Stream: ps.stream, Durable: consumerName(c.clientKey, c.gen, sb.filter), FilterSubjects: filters,
		DeliverPolicy: "new", MaxAckPending: c.out.window, InactiveThreshold: c.expiry + consumerBackstop,
	}, sb.deliverDurable)
	if err != nil {
		c.s.Logger().Warn("mqtt durable subscription failed: delivering live only", "filter", sb.filter, "err", err)
		return
	}
	sb.cons = cons
}

// deliverDurable sends one stored message to the client, checked against
// the principal [MQTT-…; ACL on replay].
func (sb *sub) deliverDurable(dm *bridge.DurableMessage) {
	c := sb.c
	subject := strings.TrimPrefix(dm.Subject, c.persist.prefix)
	if !c.s.MayReceive(subject) {
		_ = dm.Term()
		return
	}
	if sb.opts.NoLocal && dm.Header.Get(bridge.HeaderConnectionID) == c.s.ID() {
		_ = dm.Ack()
		return
	}
	m := &bridge.Message{Subject: subject, Header: dm.Header, Data: dm.Data}
	qos := max(min(sb.opts.QoS, msgQoS(m)), 1)
	p := c.outPacket(m, subjects.MQTTSubjectToTopic(subject), qos, sb)
	if p == nil {
		_ = dm.Term()
		return
	}
	p.Dup = dm.Delivered > 1 // [MQTT-3.3.1-1]
	p.Retain = c.version == V5 && sb.opts.RetainAsPublished && m.Header.Get(HeaderRetain) == "1"
	c.mu.Lock()
	c.queueFlight(&flight{p: p, dm: dm, expires: expiryDeadline(m.Header, dm.Time)})
	c.mu.Unlock()
}

// store runs e's stores without waiting: into the session stream (ps,
// when set; with the publisher's connection id for No Local) and as the
// retained message (e.kv, when set). The pipeline (inbound.go) completes e
// when both have answered.
func (c *conn) store(ps *persistence, e *inPub) {
	n := int32(0)
	if ps != nil {
		n++
	}
	if e.kv != nil {
		n++
	}
	e.waits.Store(n)
	finish := func(b *bridge.Batch) {
		if e.waits.Add(-1) == 0 {
			c.stored(e, b)
		}
	}
	if e.kv != nil {
		c.storeRetained(e.kv, e.subject, e.hdr, e.payload, func(bool) { finish(nil) })
	}
	if ps == nil {
		return
	}
	// The connection id is in the live message's headers anyway.
	e.hdr = setOne(e.hdr, bridge.HeaderConnectionID, c.s.ID())
	// A store that gets no answer (its NATS server gone, the stream
	// between leaders) is tried again, under one message id so that the
	// stream keeps it once, for up to storeRetryFor: the PUBACK waits,
	// rather than acknowledging a message only delivered live.
	hdr := maps.Clone(e.hdr)
	hdr[bridge.HeaderMsgID] = []string{c.s.ID() + "." + strconv.FormatUint(c.stores.Add(1), 10)}
	giveUp := time.Now().Add(storeRetryFor)
	var try func()
	try = func() {
		ps.js.PublishBatched(ps.prefix+e.subject, hdr, e.payload, func(_ uint64, err error, b *bridge.Batch) {
			if err != nil && bridge.Retryable(err) && time.Now().Before(giveUp) {
				time.AfterFunc(storeRetryWait, try)
				return
			}
			if err != nil {
				c.s.Logger().Warn("mqtt store failed: delivering live only", "subject", e.subject, "err", err)
			}
			e.stored = err == nil
			finish(b)
		})
	}
	try()
}

// storeRetryFor bounds the retries of a QoS 1/2 store that gets no
// answer; storeRetryWait is the pause between them.
const (
	storeRetryFor  = 15 * time.Second
	storeRetryWait = 100 * time.Millisecond
)

// closeSession stops the consumers of a persistent session and hands back
// what the client has not acknowledged.
func (c *conn) closeSession() {
	c.nakAll()
	for _, sb := range c.subs.all {
		if sb.cons != nil {
			sb.cons.Drain() // late deliveries are handed back (out.closed)
		}
	}
}
