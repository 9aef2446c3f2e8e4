package wamp

import (
	"fmt"
	"slices"
	"strconv"
	"sync"

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
// The procedures wamp.session.count, .list and .get are answered by the
// router from the sessions of the caller's realm on the caller's own
// gateway: per gateway, not cluster-wide. They need publish permission on
// their subject, as every CALL does.
const (
	metaOnJoin  = "wamp.session.on_join"
	metaOnLeave = "wamp.session.on_leave"
	metaCount   = "wamp.session.count"
	metaList    = "wamp.session.list"
	metaGet     = "wamp.session.get"

	errNoSuchSession = "wamp.error.no_such_session"
)

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
		var roles []string
		if len(m.Args) > 0 && m.Args[0] != nil {
			l, ok := m.Args[0].([]any)
			if !ok {
				c.replyError(TypeCall, m.Request, errInvalidArgName, fmt.Errorf("filter_authroles is not a list"))
				return
			}
			roles = []string{}
			for _, v := range l {
				if s, ok := v.(string); ok {
					roles = append(roles, s)
				}
			}
		}
		sessions := c.p.sessions.inRealm(c.realm, roles)
		if m.Procedure == metaCount {
			result(int64(len(sessions)))
			return
		}
		ids := make(List, len(sessions))
		for i, s := range sessions {
			ids[i] = s.session
		}
		result(ids)
	case metaGet:
		var id uint64
		if len(m.Args) > 0 {
			id, _ = asID(m.Args[0])
		}
		if id == 0 {
			c.replyError(TypeCall, m.Request, errInvalidArgName, fmt.Errorf("wamp.session.get takes a session id"))
			return
		}
		s := c.p.sessions.get(c.realm, id)
		if s == nil {
			c.replyError(TypeCall, m.Request, errNoSuchSession, nil)
			return
		}
		result(s.details())
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
