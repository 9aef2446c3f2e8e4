package mqtt

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/wsgate/wsgate/bridge"
)

// Session expiry [MQTT-3.1.2-23, §3.1.2.11.2]: a session ends its expiry
// interval (asked for at CONNECT, changed at DISCONNECT, capped by
// max_session_expiry) after its connection does — at once if the interval
// is 0 — on whichever gateway, whether or not the one it was connected to
// still runs. Nothing of it is kept in gateway memory:
//
//   - when its connection ends, the stored session records when, and its
//     expiry (endSession);
//   - a CONNECT that finds it expired treats it as absent and drops it,
//     so the client sees the expiry to the clock (openSession);
//   - its end is scheduled in the stream <session_stream>_EXPIRY: a
//     message that JetStream itself (nats-server 2.12+, message
//     schedules) publishes on <reserved prefix>.mqtt.expiry.due.<client>
//     when it is due, to one durable consumer that every gateway reads
//     from, so one of them drops the session then, with its consumers and
//     so the messages stored for it (expireDue);
//   - the scheduled end names the revision of the session it ends, and
//     both ends and resumes are conditional on the revision they read: a
//     session resumed (or ended and begun again) since is left alone, and
//     a resume that races with an end either wins, whole, or finds no
//     session.
//
// The consumers' inactive threshold is the backstop when no gateway acts
// (one killed before it could record the end, or a server without
// message schedules): expiry plus consumerBackstop.

// consumerBackstop is how long after its session's expiry JetStream
// removes a consumer nobody reads from, if no gateway has. It must exceed
// the life of the pull requests a consumer keeps waiting (30 s in
// nats.go), which JetStream counts as activity.
const consumerBackstop = time.Minute

// expiryStream is where session ends are scheduled.
type expiryStream struct {
	at  string // subject prefix of schedules, ending in '.'
	due string // subject prefix of due ends, ending in '.'
}

// dueRecord is a scheduled session end.
type dueRecord struct {
	Rev uint64 `json:"rev"` // of the session it ends
}

// openExpiry makes the expiry stream and starts this gateway's share of
// its due ends.
// expirySuffix names the session stream's expiry stream.
const expirySuffix = "_EXPIRY"

func (p *Protocol) openExpiry(ctx context.Context, s *bridge.Session, ps *persistence) (*expiryStream, error) {
	prefix := s.ReservedPrefix() + ".mqtt.expiry."
	es := &expiryStream{at: prefix + "at.", due: prefix + "due."}
	name := p.cfg.SessionStream + expirySuffix
	// Work queue: a due end is gone once handled; a schedule, once fired.
	// One message per subject: a newer schedule replaces the older.
	err := ps.js.EnsureStream(ctx, bridge.StreamConfig{
		Name: name, Subjects: []string{prefix + ">"}, Retention: "workqueue",
		MaxMsgsPerSubject: 1, AllowMsgSchedules: true,
	})
	if err != nil {
		return nil, err
	}
	// The consumption lives as long as the process: one per gateway.
	_, err = ps.js.Consume(ctx, bridge.ConsumerConfig{
		Stream: name, Durable: "mqtt_session_expiry", FilterSubjects: []string{es.due + ">"},
	}, func(dm *bridge.DurableMessage) { ps.expireDue(es, dm) })
	if err != nil {
		return nil, err
	}
	return es, nil
}

// endSession settles a persistent session when its connection has ended
// at closedAt, if this connection still holds it (one that took it over,
// on any gateway, has claimed it since, and it is theirs): with an expiry
// the session is stored as gone and its end scheduled [MQTT-3.1.2-23];
// without, it ends now, with its consumers (§3.1.2.11.2).
func (c *conn) endSession(closedAt time.Time) {
	ps := c.persist
	if ps == nil || c.goodbye.Load() == rcSessionTakenOver {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	me := c.s.ID()
	for range 3 {
		st, rev, err := ps.load(ctx, c.clientKey)
		switch {
		case errors.Is(err, bridge.ErrNotFound):
			// Never stored (nothing to store yet), or aged out of the
			// bucket while connected: stored now. (A clean start
			// elsewhere, which drops it, takes this connection over.)
			rev = 0
		case err != nil:
			c.s.Logger().Warn("mqtt session not ended", "err", err)
			return
		case st.Conn != me:
			return
		}
		if c.expiry == 0 {
			if rev == 0 {
				ps.dropConsumers(ctx, c.clientKey, c.gen, c.consumerFilters())
				return
			}
			if err := ps.drop(ctx, c.clientKey, st, rev, c.consumerFilters()...); errors.Is(err, bridge.ErrWrongRev) {
				continue
			}
			return
		}
		gone := c.sessionState()
		gone.Conn, gone.Gone = "", closedAt.UnixNano()
		b, _ := json.Marshal(gone)
		if rev == 0 {
			rev, err = ps.kv.Create(ctx, c.clientKey, b)
		} else {
			rev, err = ps.kv.Update(ctx, c.clientKey, b, rev)
		}
		if errors.Is(err, bridge.ErrWrongRev) || errors.Is(err, bridge.ErrKeyExists) {
			continue // changed meanwhile: look again
		}
		if err != nil {
			c.s.Logger().Warn("mqtt session not stored at close", "err", err)
			return
		}
		if c.expiry > c.consExpiry {
			c.extendConsumers(ctx) // DISCONNECT lengthened the expiry
		}
		ps.scheduleEnd(ctx, c.clientKey, rev, closedAt.Add(c.expiry))
		return
	}
	c.s.Logger().Warn("mqtt session changing under its close: not ended")
}

// consumerFilters are the filters of the connection's subscriptions that
// have a consumer.
func (c *conn) consumerFilters() []string {
	var fs []string
	for _, sb := range c.subs.all {
		if sb.cons != nil {
			fs = append(fs, sb.filter)
		}
	}
	return fs
}

// extendConsumers gives the session's consumers the inactive threshold of
// its current expiry.
func (c *conn) extendConsumers(ctx context.Context) {
	for _, sb := range c.subs.all {
		if sb.cons == nil {
			continue
		}
		if err := sb.cons.SetInactiveThreshold(ctx, c.expiry+consumerBackstop); err != nil {
			c.s.Logger().Warn("mqtt session consumer not extended", "filter", sb.filter, "err", err)
		}
	}
}

// scheduleEnd has JetStream announce at due that the session of key
// stored at revision rev ends. Without a schedule the session still
// expires, seen by the next CONNECT, and its consumers after the backstop.
func (ps *persistence) scheduleEnd(ctx context.Context, key string, rev uint64, due time.Time) {
	es := ps.expiry
	if es == nil || strings.ContainsAny(key, "*>") {
		return
	}
	b, _ := json.Marshal(dueRecord{Rev: rev})
	if err := ps.js.PublishAt(ctx, es.at+key, es.due+key, due, b); err != nil {
		ps.log.Warn("mqtt session end not scheduled", "err", err)
	}
}

// expireDue ends the session a due message names, if it is still the one
// that was scheduled to end (same revision) and its expiry has passed by
// this gateway's clock too. It runs on the expiry consumer's goroutine.
func (ps *persistence) expireDue(es *expiryStream, dm *bridge.DurableMessage) {
	key := strings.TrimPrefix(dm.Subject, es.due)
	var d dueRecord
	if json.Unmarshal(dm.Data, &d) != nil {
		_ = dm.Term()
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, rev, err := ps.load(ctx, key)
	switch {
	case errors.Is(err, bridge.ErrNotFound), err == nil && rev != d.Rev:
		_ = dm.Ack() // ended already, or resumed since
		return
	case err != nil:
		_ = dm.Nak(time.Second)
		return
	}
	if left := time.Until(time.Unix(0, st.Gone+int64(st.Expiry))); left > 0 {
		_ = dm.Nak(left) // this gateway's clock is behind JetStream's
		return
	}
	if err := ps.drop(ctx, key, st, rev); err != nil && !errors.Is(err, bridge.ErrWrongRev) {
		_ = dm.Nak(time.Second)
		return
	}
	_ = dm.Ack()
}
