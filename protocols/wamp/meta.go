package wamp

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/wsgate/wsgate/bridge"
)

// The session meta API [WAMP "Session Meta API"].
//
// Events are cluster-wide: when a session is established its gateway
// publishes wamp.session.on_join on the subject of that URI (under the
// realm's prefix), and wamp.session.on_leave when it ends, as the gateway
// itself (bridge.Session.Announce: the session's permissions do not
// apply). Any WAMP subscriber of those topics, on any gateway sharing the
// NATS, receives them, as does a NATS worker subscribed to the subjects.
// A subscriber needs subscribe permission on them as on any topic, and an
// event on a wamp.* topic is believed only from WAMP sessions' gateways
// and workers (identityTrusted): a STOMP, MQTT or JSON client allowed to
// publish there cannot forge one, and WAMP clients may not PUBLISH wamp.*
// at all.
//
// The procedures wamp.session.count, .list and .get are answered
// cluster-wide: the caller's gateway asks every gateway alive
// (bridge.Session.Survey) for its sessions of the caller's realm and
// merges the answers; a gateway that does not answer within
// surveyTimeout is left out, with a warning in the log. They need
// publish permission on their subject, as every CALL does.
const (
	metaOnJoin  = "wamp.session.on_join"
	metaOnLeave = "wamp.session.on_leave"
	metaCount   = "wamp.session.count"
	metaList    = "wamp.session.list"
	metaGet     = "wamp.session.get"

	errNoSuchSession = "wamp.error.no_such_session"

	// surveyTopic is the bridge survey the gateways answer with their
	// sessions.
	surveyTopic = "wamp.sessions"
	// surveyTimeout bounds the wait for the other gateways' answers.
	surveyTimeout = 2 * time.Second
)

// sessionQuestion is what a gateway asks the others.
type sessionQuestion struct {
	Realm string   `json:"realm"`
	Roles []string `json:"roles,omitempty"` // nil: any
	Any   bool     `json:"any,omitempty"`   // Roles is unset (nil is lost in JSON)
	Get   uint64   `json:"get,omitempty"`   // one session's details
}

// sessionAnswer is one gateway's answer.
type sessionAnswer struct {
	IDs     []uint64 `json:"ids,omitempty"`
	Details Dict     `json:"details,omitempty"`
}

// Surveys implements bridge.Surveyor: this gateway's sessions of a realm.
func (p *Protocol) Surveys() map[string]func([]byte) []byte {
	return map[string]func([]byte) []byte{surveyTopic: p.answerSessions}
}

func (p *Protocol) answerSessions(question []byte) []byte {
	var q sessionQuestion
	if json.Unmarshal(question, &q) != nil {
		return []byte("{}")
	}
	var a sessionAnswer
	if q.Get != 0 {
		if s := p.sessions.get(q.Realm, q.Get); s != nil {
			a.Details = s.details()
		}
	} else {
		roles := q.Roles
		if q.Any {
			roles = nil
		} else if roles == nil {
			roles = []string{}
		}
		for _, s := range p.sessions.inRealm(q.Realm, roles) {
			a.IDs = append(a.IDs, s.session)
		}
	}
	b, _ := json.Marshal(a)
	return b
}

// survey asks every gateway and merges their answers.
func (c *conn) survey(ctx context.Context, q sessionQuestion) []sessionAnswer {
	qb, _ := json.Marshal(q)
	ctx, cancel := context.WithTimeout(ctx, surveyTimeout)
	defer cancel()
	raw, complete, err := c.s.Survey(ctx, surveyTopic, qb)
	if err != nil || !complete {
		c.s.Logger().Warn("wamp session meta: not every gateway answered", "answers", len(raw), "err", err)
	}
	out := make([]sessionAnswer, 0, len(raw))
	for _, b := range raw {
		var a sessionAnswer
		if json.Unmarshal(b, &a) == nil {
			out = append(out, a)
		}
	}
	return out
}

// sessionTable is the established sessions of the process, by session id.
type sessionTable struct {
	mu   sync.Mutex
	byID map[uint64]*conn
}

func (t *sessionTable) add(c *conn) {
	t.mu.Lock()
	if t.byID == nil {
		t.byID = map[uint64]*conn{}
	}
	t.byID[c.session] = c
	t.mu.Unlock()
}

// remove reports whether c was in the table.
func (t *sessionTable) remove(c *conn) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.byID[c.session] != c {
		return false
	}
	delete(t.byID, c.session)
	return true
}

// inRealm returns the sessions of realm whose authrole is in roles (any
// when roles is nil), in no particular order.
func (t *sessionTable) inRealm(realm string, roles []string) []*conn {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []*conn
	for _, c := range t.byID {
		if c.realm == realm && (roles == nil || slices.Contains(roles, c.authrole)) {
			out = append(out, c)
		}
	}
	return out
}

func (t *sessionTable) get(realm string, id uint64) *conn {
	t.mu.Lock()
	defer t.mu.Unlock()
	if c := t.byID[id]; c != nil && c.realm == realm {
		return c
	}
	return nil
}

// details is a session's SessionDetails, as on_join and wamp.session.get
// give them.
func (c *conn) details() Dict {
	return Dict{
		"session":      c.session,
		"authid":       c.authid,
		"authrole":     c.authrole,
		"authmethod":   c.authmethod,
		"authprovider": "wsgate",
		"transport":    Dict{"type": "websocket", "serializer": c.ser.Subprotocol()},
	}
}

// joined enters an established session in the table and announces it.
func (c *conn) joined() {
	c.p.sessions.add(c)
	c.announce(metaOnJoin, List{c.details()})
}

// left removes a session that was established and announces its end.
func (c *conn) left() {
	if c.p.sessions.remove(c) {
		c.announce(metaOnLeave, List{c.session, c.authid, c.authrole})
	}
}

// announce publishes a meta event of the session's realm.
func (c *conn) announce(topic string, args List) {
	subject, err := uriSubject(c.prefix, topic)
	if err == nil {
		var body []byte
		if body, err = encodeBody(args, nil); err == nil {
			err = c.s.Announce(subject, bridge.Header{
				HeaderTopic:       {topic},
				HeaderPublication: {strconv.FormatUint(newID(), 10)},
			}, body)
		}
	}
	if err != nil {
		c.s.Logger().Warn("wamp meta event", "topic", topic, "err", err)
	}
}

// metaCall answers a CALL of a wamp.* procedure.
func (c *conn) metaCall(m *Call) {
	result := func(args ...any) {
		c.send(&Result{Request: m.Request, Details: Dict{}, Args: args})
	}
	switch m.Procedure {
	case metaCount, metaList:
		q := sessionQuestion{Realm: c.realm, Any: true}
		if len(m.Args) > 0 && m.Args[0] != nil {
			l, ok := m.Args[0].([]any)
			if !ok {
				c.replyError(TypeCall, m.Request, errInvalidArgName, fmt.Errorf("filter_authroles is not a list"))
				return
			}
			q.Any, q.Roles = false, []string{}
			for _, v := range l {
				if s, ok := v.(string); ok {
					q.Roles = append(q.Roles, s)
				}
			}
		}
		c.beside(m, func(ctx context.Context) {
			ids := List{}
			for _, a := range c.survey(ctx, q) {
				for _, id := range a.IDs {
					ids = append(ids, id)
				}
			}
			if m.Procedure == metaCount {
				result(int64(len(ids)))
				return
			}
			result(ids)
		})
	case metaGet:
		var id uint64
		if len(m.Args) > 0 {
			id, _ = asID(m.Args[0])
		}
		if id == 0 {
			c.replyError(TypeCall, m.Request, errInvalidArgName, fmt.Errorf("wamp.session.get takes a session id"))
			return
		}
		if s := c.p.sessions.get(c.realm, id); s != nil {
			result(s.details()) // on this gateway: no need to ask
			return
		}
		c.beside(m, func(ctx context.Context) {
			for _, a := range c.survey(ctx, sessionQuestion{Realm: c.realm, Get: id}) {
				if a.Details != nil {
					// JSON made the id a float: an id again (ids are at
					// most 2^53, exact in a float64).
					a.Details["session"] = id
					result(a.Details)
					return
				}
			}
			c.replyError(TypeCall, m.Request, errNoSuchSession, nil)
		})
	case metaAddTestament:
		if err := c.addTestament(m); err != nil {
			c.replyError(TypeCall, m.Request, sessionError(err), err)
			return
		}
		result()
	case metaFlushTestaments:
		result(c.flushTestaments())
	default:
		c.replyError(TypeCall, m.Request, errNoSuchProcedure, fmt.Errorf("no procedure %q", short(m.Procedure)))
	}
}

// trustedMeta reports whether a message on subject may be delivered as an
// EVENT: one on a wamp.* topic only from a WAMP session's gateway or a
// worker.
func trustedMeta(prefix, subject string, h bridge.Header) bool {
	return !isWAMPURI(subjectURI(prefix, subject)) || identityTrusted(h)
}

// beside runs a meta procedure that asks the other gateways beside the
// reader, counted with the connection's calls (max_inflight).
func (c *conn) beside(m *Call, fn func(ctx context.Context)) {
	if err := c.s.Beside(c.p.cfg.MaxInflight, fn); err != nil {
		c.replyError(TypeCall, m.Request, sessionError(err), err)
	}
}
