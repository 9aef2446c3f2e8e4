package socketio

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsgate/wsgate/bridge"
)

// Connection state recovery [Socket.IO v4.6 "Connection state recovery"]:
// a client that loses its connection and comes back within the window,
// on any gateway, gets the same socket id, its rooms and the room and
// namespace messages it missed.
//
// Everything lives in JetStream, nothing in gateway memory: a stream
// keeps every message on the room subjects for the window, and a
// key-value bucket keeps each ended socket (its namespace, rooms and
// principal) under its private id, the pid that the CONNECT answer gives
// the client. Every room or namespace EVENT carries, as its last
// argument, an offset (the time it was delivered and a digest of it): the
// client sends back the last one it got with its pid, and the replay
// starts after the stored message it names. Around the reconnection a
// message may come twice, once replayed and once live, and a live one may
// come before the replayed ones.

// RecoveryConfig is the socketio.recovery block.
type RecoveryConfig struct {
	// Window is how long after a disconnection the client may recover its
	// socket. Default 0: no recovery (and no offsets).
	Window time.Duration `yaml:"window"`
	// Stream is the JetStream stream keeping room messages for the
	// window. Default wsgate_socketio_recovery.
	Stream string `yaml:"stream"`
	// Bucket is the key-value bucket of ended sockets. Default
	// wsgate_socketio_sessions.
	Bucket string `yaml:"bucket"`
}

func (c RecoveryConfig) withDefaults() RecoveryConfig {
	if c.Stream == "" {
		c.Stream = "wsgate_socketio_recovery"
	}
	if c.Bucket == "" {
		c.Bucket = "wsgate_socketio_sessions"
	}
	return c
}

func (c RecoveryConfig) validate() []error {
	var errs []error
	if c.Window < 0 || (c.Window > 0 && c.Window < time.Second) {
		errs = append(errs, fmt.Errorf("recovery.window: %s is shorter than 1s", c.Window))
	}
	for _, n := range []struct{ key, v string }{{"recovery.stream", c.Stream}, {"recovery.bucket", c.Bucket}} {
		if n.v != "" && !validName(n.v) {
			errs = append(errs, fmt.Errorf("%s: %q may hold only letters, digits, - and _", n.key, n.v))
		}
	}
	return errs
}

func validName(s string) bool {
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return s != ""
}

// recovery is the protocol's JetStream state, made on first use.
type recovery struct {
	mu    sync.Mutex
	kv    *bridge.KV
	js    *bridge.JetStream
	retry time.Time // after a failure, no new try before this
}

// store returns the bucket, making the stream and the bucket the first
// time; nil if recovery is off or JetStream is not there.
func (p *Protocol) store(s *bridge.Session) (*bridge.KV, *bridge.JetStream) {
	if p.cfg.Recovery.Window <= 0 {
		return nil, nil
	}
	r := &p.rec
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.kv != nil {
		return r.kv, r.js
	}
	js := s.JetStream()
	if js == nil || time.Now().Before(r.retry) {
		return nil, nil
	}
	r.retry = time.Now().Add(10 * time.Second) // until it works
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rc := p.cfg.Recovery
	if err := js.EnsureStream(ctx, bridge.StreamConfig{Name: rc.Stream, Subjects: []string{p.cfg.RoomPrefix + ".>"}, MaxAge: rc.Window}); err != nil {
		s.Logger().Warn("socketio recovery stream", "stream", rc.Stream, "err", err)
		return nil, nil
	}
	kv, err := js.KV(ctx, rc.Bucket, bridge.KVConfig{TTL: rc.Window})
	if err != nil {
		s.Logger().Warn("socketio recovery bucket", "bucket", rc.Bucket, "err", err)
		return nil, nil
	}
	r.kv, r.js, r.retry = kv, js, time.Time{}
	return kv, js
}

// savedSocket is an ended socket in the bucket, under its pid.
type savedSocket struct {
	SID       string   `json:"sid"`
	Namespace string   `json:"namespace"`
	Principal string   `json:"principal"`
	Conn      string   `json:"conn"` // the connection id, whose own messages are not replayed
	Rooms     []string `json:"rooms"`
	Closed    int64    `json:"closed"` // unix nanoseconds
}

// newPID is a socket's private id: a secret the client keeps to recover it.
func newPID() string {
	b := make([]byte, 18)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// offsetNow is the offset of a message delivered now.
func offsetNow(m *bridge.Message) string {
	return offset{nanos: time.Now().UnixNano(), digest: digest(m.Subject, m.Data)}.String()
}

// saveSockets keeps the connection's sockets for recovery when it ends
// other than by the client's or the server's deliberate close.
func (c *conn) saveSockets(socks []*socket) {
	if c.noRecovery.Load() || len(socks) == 0 {
		return
	}
	kv, _ := c.p.store(c.s)
	if kv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	now := time.Now().UnixNano()
	for _, sk := range socks {
		if sk.pid == "" {
			continue
		}
		c.mu.Lock()
		rooms := make([]string, 0, len(sk.rooms))
		for r := range sk.rooms {
			rooms = append(rooms, r)
		}
		c.mu.Unlock()
		b, _ := json.Marshal(savedSocket{SID: sk.sid, Namespace: sk.ns, Principal: c.s.Principal().ID, Conn: c.s.ID(), Rooms: rooms, Closed: now})
		if _, err := kv.Put(ctx, sk.pid, b); err != nil {
			c.s.Logger().Warn("socketio recovery: socket not saved", "err", err)
			return
		}
	}
}

// restore takes the saved socket of pid for namespace ns, once: nil if
// there is none (expired, taken, another namespace or principal).
func (c *conn) restore(pid, ns string) *savedSocket {
	kv, _ := c.p.store(c.s)
	if kv == nil || pid == "" || !validName(pid) || len(pid) > 64 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	b, rev, err := kv.Get(ctx, pid)
	if err != nil {
		return nil
	}
	var sv savedSocket
	if json.Unmarshal(b, &sv) != nil || sv.Namespace != ns || sv.Principal != c.s.Principal().ID {
		return nil
	}
	if kv.DeleteIf(ctx, pid, rev) != nil {
		return nil // another connection recovered it first
	}
	return &sv
}

// replaySlack is how far a stored message's time may be from the
// delivery time its offset records (the stream stores a message about
// when the gateway delivers it, either side, and gateways' clocks differ).
const replaySlack = 2 * time.Second

// maxReplay bounds what one recovery replays: the latest messages.
const maxReplay = 1000

// replay sends a recovered socket what its rooms and namespace got after
// the offset (after its end, without one), up to what was stored when the
// replay began: what comes after is delivered live. It runs beside the
// reader.
func (c *conn) replay(sk *socket, subjects []string, off offset, closed time.Time, prevConn string) {
	_, js := c.p.store(c.s)
	if js == nil || len(subjects) == 0 {
		return
	}
	since := closed
	if off.valid() {
		since = time.Unix(0, off.nanos)
	}
	stream := c.p.cfg.Recovery.Stream
	err := c.s.Beside(c.p.cfg.MaxInflight, func(ctx context.Context) {
		var mu sync.Mutex
		var got []*bridge.DurableMessage
		var n, pending atomic.Uint64
		pending.Store(^uint64(0))
		more := make(chan struct{}, 1)
		cons, err := js.Consume(ctx, bridge.ConsumerConfig{Stream: stream, FilterSubjects: subjects,
			DeliverPolicy: "by_start_time", StartTime: since.Add(-replaySlack), InactiveThreshold: time.Minute},
			func(m *bridge.DurableMessage) {
				_ = m.Ack()
				if n.Add(1) > pending.Load() {
					return // stored after the replay began: it came live
				}
				mu.Lock()
				if got = append(got, m); len(got) > 2*maxReplay {
					got = append(got[:0], got[len(got)-maxReplay:]...)
				}
				mu.Unlock()
				select {
				case more <- struct{}{}:
				default:
				}
			})
		if err != nil {
			c.s.Logger().Warn("socketio recovery: no replay", "err", err)
			return
		}
		pending.Store(cons.Pending())
		timeout := time.NewTimer(10 * time.Second)
		defer timeout.Stop()
		for n.Load() < pending.Load() {
			select {
			case <-more:
			case <-ctx.Done():
				cons.Stop()
				return
			case <-timeout.C:
				n.Store(pending.Load())
			}
		}
		cons.Stop()
		mu.Lock()
		msgs := missed(got, off, closed)
		mu.Unlock()
		if len(msgs) > maxReplay {
			msgs = msgs[len(msgs)-maxReplay:]
		}
		for _, m := range msgs {
			c.replayOne(sk, m, prevConn)
		}
	})
	if err != nil && !errors.Is(err, bridge.ErrClosed) {
		c.s.Logger().Warn("socketio recovery: no replay", "err", err)
	}
}

// missed picks, of the stored messages around the offset, those the client
// did not get: after the one the offset names (the first with its digest
// near its time), or, if none matches, those stored after the offset's
// time (after the end, without an offset).
func missed(msgs []*bridge.DurableMessage, off offset, closed time.Time) []*bridge.DurableMessage {
	if off.valid() {
		for i, m := range msgs {
			if d := m.Time.UnixNano() - off.nanos; d > -int64(replaySlack) && d < int64(replaySlack) && digest(m.Subject, m.Data) == off.digest {
				return msgs[i+1:]
			}
		}
		closed = time.Unix(0, off.nanos)
	}
	for i, m := range msgs {
		if m.Time.After(closed) {
			return msgs[i:]
		}
	}
	return nil
}

// offset names the last room message a client got: when it was delivered
// and a digest of it, "<unix nanoseconds>-<digest>".
type offset struct {
	nanos  int64
	digest string
}

func (o offset) valid() bool { return o.nanos > 0 }

// String is the offset as the client keeps it.
func (o offset) String() string { return strconv.FormatInt(o.nanos, 10) + "-" + o.digest }

// parseOffset reads a client's offset; a bad one is none.
func parseOffset(s string) offset {
	n, d, ok := strings.Cut(s, "-")
	nanos, err := strconv.ParseInt(n, 10, 64)
	if !ok || err != nil || nanos <= 0 || len(d) != 16 {
		return offset{}
	}
	return offset{nanos: nanos, digest: d}
}

// digest is a short hash of a message, to find it among stored ones.
func digest(subject string, data []byte) string {
	h := fnv.New64a()
	_, _ = h.Write([]byte(subject))
	_, _ = h.Write([]byte{0})
	_, _ = h.Write(data)
	return fmt.Sprintf("%016x", h.Sum64())
}

// replayOne sends one stored message as the live delivery would have.
func (c *conn) replayOne(sk *socket, m *bridge.DurableMessage, prevConn string) {
	h := m.Header
	if id := h.Get(bridge.HeaderConnectionID); id == prevConn || id == c.s.ID() {
		return
	}
	if ex := h.Get(HeaderExcept); ex == prevConn || ex == c.s.ID() {
		return
	}
	if reservedEvent(h.Get(HeaderEvent)) || !c.s.MayReceive(m.Subject) {
		return
	}
	off := offset{nanos: m.Time.UnixNano(), digest: digest(m.Subject, m.Data)}.String()
	if isBinary(&m.Message) {
		c.sendPair(binaryEventPacket(sk.ns, &m.Message, 0, false, off), m.Data)
		return
	}
	_ = c.send(eventPacket(sk.ns, &m.Message, 0, false, off))
}
