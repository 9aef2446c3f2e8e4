package mqtt

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/wsgate/wsgate/bridge"
)

// Session expiry [MQTT-3.1.2-23, §3.1.2.11.2]: a session ends its expiry
// interval (asked for at CONNECT, changed at DISCONNECT, capped by
// max_session_expiry) after its connection does — at once if the interval
// is 0. Nothing of it is kept in gateway memory:
//
//   - when its connection ends, the stored session records when, and its
//     expiry (endSession);
//   - a CONNECT that finds it expired treats it as absent and drops it,
//     so the client sees the expiry to the clock (openSession);
//   - ends and resumes are conditional on the revision they read: a
//     resume that races with an end either wins, whole, or finds no
//     session.
//
// The consumers of a session nobody resumes are removed by JetStream
// (their inactive threshold): expiry plus consumerBackstop.

// consumerBackstop is how long after its session's expiry JetStream
// removes a consumer nobody reads from, if no gateway has. It must exceed
// the life of the pull requests a consumer keeps waiting (30 s in
// nats.go), which JetStream counts as activity.
const consumerBackstop = time.Minute

// endSession settles a persistent session when its connection has ended
// at closedAt, if this connection still holds it (one that took it over,
// on any gateway, has claimed it since, and it is theirs): with an expiry
// the session is stored as gone [MQTT-3.1.2-23]; without, it ends now,
// with its consumers (§3.1.2.11.2).
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
