package socketio

import (
	"github.com/wsgate/wsgate/bridge"
)

// join puts a socket in a room: a subscription to the room's subject,
// checked against the principal's subscribe permissions. Joining a room
// the socket is in already does nothing.
func (c *conn) join(sk *socket, room string) error {
	subject, err := roomSubject(c.p.cfg.RoomPrefix, sk.tok, room)
	if err != nil {
		return err
	}
	c.mu.Lock()
	_, in := sk.rooms[room]
	gone := sk.left
	c.mu.Unlock()
	if in {
		return nil
	}
	if gone {
		return bridge.ErrClosed
	}
	sub, err := c.s.Subscribe(subject, "", c.deliverer(sk))
	if err != nil {
		return err
	}
	c.mu.Lock()
	if _, in := sk.rooms[room]; in || sk.left {
		c.mu.Unlock()
		sub.Unsubscribe() // joined meanwhile (a worker and the client at once), or left
		return nil
	}
	if sk.rooms == nil {
		sk.rooms = map[string]*bridge.Subscription{}
	}
	sk.rooms[room] = sub
	c.mu.Unlock()
	c.flush()
	return nil
}

// leave takes a socket out of a room; leaving a room it is not in does
// nothing, as in socket.io.
func (c *conn) leave(sk *socket, room string) error {
	if _, err := roomSubject(c.p.cfg.RoomPrefix, sk.tok, room); err != nil {
		return err
	}
	c.mu.Lock()
	sub := sk.rooms[room]
	delete(sk.rooms, room)
	c.mu.Unlock()
	if sub != nil {
		sub.Unsubscribe()
	}
	return nil
}
