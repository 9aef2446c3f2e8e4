package socketio

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"time"

	"github.com/wsgate/wsgate/auth"
)

// authTimeout bounds the authentication of a CONNECT.
const authTimeout = 10 * time.Second

// connectAuth is the part of CONNECT's auth object the gateway reads.
type connectAuth struct {
	Token string `json:"token"`
	// PID and Offset ask for the recovery of a socket (recovery.go).
	PID    string `json:"pid"`
	Offset string `json:"offset"`
}

// onConnect handles CONNECT: the namespace, the credentials of its auth
// object, then the socket [Socket.IO v5 "Connection to a namespace"]. A
// refusal is a CONNECT_ERROR for that namespace; the connection and its
// other namespaces go on.
func (c *conn) onConnect(pk *Packet) {
	ns := pk.Namespace
	tok, err := namespaceToken(ns)
	if err != nil {
		// The words socket.io's own server uses.
		c.connectError(ns, "invalid_name", "Invalid namespace")
		return
	}
	var a connectAuth
	if pk.Data != nil {
		_ = json.Unmarshal(pk.Data, &a) // an object, checked by the decoder; a non-string token is none
	}
	if !c.authed {
		ctx, cancel := context.WithTimeout(context.Background(), authTimeout)
		_, err := c.s.Authenticate(ctx, &auth.Credentials{Token: a.Token})
		cancel()
		if err != nil {
			c.connectError(ns, "unauthorized", "unauthorized")
			return
		}
		c.authed, c.token = true, a.Token
	} else if a.Token != "" && a.Token != c.token {
		// The principal is the connection's, shared by its namespaces.
		c.connectError(ns, "unauthorized", "this connection is authenticated with other credentials")
		return
	}
	c.mu.Lock()
	old := c.sockets.get(ns)
	n := len(c.sockets)
	c.mu.Unlock()
	if old != nil {
		c.sendConnected(old) // a CONNECT again: the same socket
		return
	}
	if n >= c.p.cfg.MaxNamespaces {
		c.s.Metrics().LimitExceeded(Name, "max_namespaces")
		c.connectError(ns, "limit", "too many namespaces on this connection")
		return
	}
	if msg := c.admitConnect(ns, pk.Data); msg != "" {
		c.connectError(ns, "refused", msg)
		return
	}
	sk := &socket{ns: ns, tok: tok, sid: newSocketID()}
	var restored *savedSocket
	if c.p.cfg.Recovery.Window > 0 {
		if restored = c.restore(a.PID, ns); restored != nil {
			sk.sid, sk.pid = restored.SID, a.PID
		} else {
			sk.pid = newPID()
		}
	}
	// Everyone in the namespace, if the principal may hear it.
	if sub := namespaceSubject(c.p.cfg.RoomPrefix, tok); c.s.CheckSubscribe(sub) == nil {
		bs, err := c.s.Subscribe(sub, "", c.deliverer(sk))
		if err != nil {
			c.connectError(ns, "limit", short(err.Error()))
			return
		}
		sk.bcast = bs
	}
	c.mu.Lock()
	c.sockets.put(sk)
	c.mu.Unlock()
	if restored != nil {
		c.recovered(sk, restored, a.Offset)
		return
	}
	c.flush()
	c.sendConnected(sk)
}

// recovered gives a recovered socket its rooms back (those its principal
// may still join), answers the CONNECT, and replays what it missed.
func (c *conn) recovered(sk *socket, sv *savedSocket, offset string) {
	var subs []string
	if sk.bcast != nil {
		subs = append(subs, sk.bcast.Pattern())
	}
	for _, room := range sv.Rooms {
		if c.join(sk, room) == nil {
			subject, _ := roomSubject(c.p.cfg.RoomPrefix, sk.tok, room)
			subs = append(subs, subject)
		}
	}
	c.flush()
	c.sendConnected(sk)
	c.replay(sk, subs, parseOffset(offset), time.Unix(0, sv.Closed), sv.Conn)
}

// sendConnected answers CONNECT: 0/ns,{"sid":"..."}, with "pid" when the
// socket may be recovered.
func (c *conn) sendConnected(sk *socket) {
	data := appendString([]byte(`{"sid":`), sk.sid)
	if sk.pid != "" {
		data = appendString(append(data, `,"pid":`...), sk.pid)
	}
	data = append(data, '}')
	_ = c.send(AppendPacket(nil, Connect, 0, sk.ns, 0, false, data))
}

// connectError refuses a CONNECT with CONNECT_ERROR {"message": msg},
// which socket.io-client raises as connect_error, and counts it.
func (c *conn) connectError(ns, kind, msg string) {
	c.s.Metrics().ProtocolError(Name, "connect_"+kind)
	data := appendString([]byte(`{"message":`), msg)
	data = append(data, '}')
	_ = c.send(AppendPacket(nil, ConnectError, 0, ns, 0, false, data))
}

// onDisconnect handles the client leaving a namespace: its socket's
// subscriptions end.
func (c *conn) onDisconnect(ns string) {
	c.mu.Lock()
	sk := c.sockets.remove(ns)
	c.mu.Unlock()
	if sk == nil {
		return
	}
	if sk.bcast != nil {
		sk.bcast.Unsubscribe()
	}
	c.mu.Lock()
	rooms := sk.rooms
	sk.rooms, sk.left = nil, true
	c.mu.Unlock()
	for _, sub := range rooms {
		sub.Unsubscribe()
	}
}

// flush waits until NATS has the connection's subscriptions, so that what
// is published after the client hears of them reaches it.
func (c *conn) flush() {
	if err := c.s.FlushSubscriptions(context.Background()); err != nil {
		c.s.Logger().Debug("socketio flush", "err", err)
	}
}

// newSocketID is a socket's id in a namespace: random, URL-safe.
func newSocketID() string {
	b := make([]byte, 15)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
