package mqtt

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/wsgate/wsgate/auth"
	"github.com/wsgate/wsgate/bridge"
	"github.com/wsgate/wsgate/subjects"
)

// conn is one MQTT connection. HandleMessage runs on the session's reader
// (never concurrently with itself); deliveries run on hub dispatchers and
// touch only out, under mu.
type conn struct {
	p *Protocol
	s *bridge.Session

	buf []byte // bytes of an incomplete packet, kept across messages
	// scratch is the reader's Packet for the packets every message brings
	// (PUBLISH, its acknowledgements): decoded into, handled, forgotten.
	scratch Packet

	stores atomic.Uint64 // QoS 1/2 stores, for their message ids

	// Set by CONNECT, read-only afterwards.
	version    byte   // 0 until CONNECT
	aliasMax   uint16 // v5 topic aliases the gateway may send; 0: none
	clientID   string
	clientKey  string // clientKey(principal, clientID): key of takeover and session state
	keepAlive  time.Duration
	maxOut     int // the client's Maximum Packet Size; 0: none
	will       *Will
	lastWill   atomic.Pointer[ghostWill] // the will as last words (ghostwill.go)
	lastWillMu sync.Mutex                // orders its records
	persist    *persistence              // set for a persistent session
	gen        string                    // of the persistent session (sessionState.Gen)
	// expiry is the session's expiry interval, after the cap; a v5
	// DISCONNECT may change it (the reader, before OnClose).
	expiry time.Duration
	// consExpiry is the expiry the session's consumers were made for.
	consExpiry time.Duration

	deadline atomic.Int64 // unix nanoseconds; past it the sweep closes the conn
	// ver is version for goroutines other than the reader (Goodbye, the
	// sweep, Push), stored once CONNECT has set everything else.
	ver atomic.Uint32

	// Owned by HandleMessage.
	subs            subSet            // by filter as the client wrote it
	aliases         map[uint16]string // v5 inbound topic aliases
	pendingRetained []func()          // retained deliveries due after the SUBACK being built
	wg              sync.WaitGroup

	claimRev atomic.Uint64 // revision of this connection's claim on its client id
	seenRev  atomic.Uint64 // newest other claim the watch saw before claimRev was known
	clean    atomic.Bool   // client sent DISCONNECT: no will
	goodbye  atomic.Int32  // v5 reason for Goodbye, set before a server close; 0: derive
	saidBye  atomic.Bool   // a DISCONNECT was already sent

	in *inbound // PUBLISHes on their way to NATS, in order; made by the first

	mu         sync.Mutex
	out        outbound
	outAliases aliasTable // v5 outbound topic aliases (alias.go)
}

var (
	_ bridge.Closer   = (*conn)(nil)
	_ bridge.Goodbyer = (*conn)(nil)
	_ bridge.Refuser  = (*conn)(nil)
)

func newConn(p *Protocol, s *bridge.Session) *conn {
	c := &conn{p: p, s: s}
	c.deadline.Store(time.Now().Add(p.cfg.ConnectTimeout).UnixNano())
	return c
}

// HandleMessage implements bridge.Handler: it appends data to what is
// buffered and handles every complete packet. A packet may span messages
// and a message may hold several packets.
func (c *conn) HandleMessage(_ bool, data []byte) error {
	b := data
	if len(c.buf) > 0 {
		c.buf = append(c.buf, data...)
		b = c.buf
	}
	for len(b) > 0 {
		p, n, err := decodeInto(&c.scratch, b, c.version, c.p.cfg.MaxPacketSize)
		if errors.Is(err, errIncomplete) {
			break
		}
		if err != nil {
			return c.decodeError(err)
		}
		b = b[n:]
		if c.keepAlive > 0 {
			c.deadline.Store(time.Now().Add(c.keepAlive * 3 / 2).UnixNano()) // [MQTT-3.1.2-24]
		}
		if err := c.handle(p); err != nil {
			return err
		}
	}
	// Keep what is left; never alias data, which is valid only now.
	switch {
	case len(b) == 0:
		c.buf = c.buf[:0]
		if cap(c.buf) > 64<<10 {
			c.buf = nil
		}
	case len(c.buf) > 0:
		c.buf = append(c.buf[:0], b...)
	default:
		c.buf = append([]byte(nil), b...)
	}
	return nil
}

// decodeError answers a packet the codec refused.
func (c *conn) decodeError(err error) error {
	var uv *UnsupportedVersionError
	switch {
	case errors.As(err, &uv):
		// [MQTT-3.1.2-2]: CONNACK 0x01 (3.1.1 form; a v5 client reads 0x84).
		rc := byte(v3Unacceptable)
		if uv.Level == V5 {
			rc = rcUnsupportedVersion
		}
		c.send(&Packet{Type: CONNACK, Reason: rc}, V311)
		return c.fail("unsupported_version", 0, err.Error())
	case errors.Is(err, ErrTooLarge):
		return c.fail("too_large", rcPacketTooLarge, err.Error())
	case errors.Is(err, ErrProtocol):
		return c.fail("protocol", rcProtocolError, err.Error())
	}
	return c.fail("malformed", rcMalformed, err.Error())
}

// fail counts a protocol error, tells a v5 client why with DISCONNECT
// (rc 0 sends none) and returns the error that closes the connection.
func (c *conn) fail(kind string, rc byte, reason string) error {
	c.s.Metrics().ProtocolError(Name, kind)
	if c.version == V5 && rc != 0 && c.saidBye.CompareAndSwap(false, true) {
		c.send(&Packet{Type: DISCONNECT, Reason: rc, Props: Properties{ReasonString: clip(reason)}}, V5)
	}
	return &bridge.CloseError{Code: bridge.CloseProtocolError, Reason: clip(reason)}
}

// clip shortens a reason to fit a close frame, on a rune boundary.
func clip(s string) string {
	const max = 100
	if len(s) <= max {
		return s
	}
	s = s[:max]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// send encodes p for protocol level v and queues it.
func (c *conn) send(p *Packet, v byte) {
	_ = c.s.Send(p.frame(v))
}

// encodeBufs holds packets being encoded on their way into frames.
var encodeBufs = sync.Pool{New: func() any { return new([]byte) }}

// frame encodes p for protocol level v into a WebSocket frame of its own,
// through a pooled buffer: the frame is the one allocation of its bytes.
func (p *Packet) frame(v byte) *bridge.Frame {
	b := encodeBufs.Get().(*[]byte)
	*b = p.Encode((*b)[:0], v)
	f := bridge.BinaryFrame(*b)
	if cap(*b) <= 64<<10 { // a rare huge message does not stay pooled
		encodeBufs.Put(b)
	}
	return f
}

// handle dispatches one decoded packet.
func (c *conn) handle(p *Packet) error {
	if p.Type == CONNECT {
		if c.version != 0 {
			return c.fail("second_connect", rcProtocolError, "second CONNECT") // [MQTT-3.1.0-2]
		}
		return c.connect(p)
	}
	switch p.Type {
	case PUBLISH:
		return c.publish(p)
	case PUBACK:
		c.acked(p.ID, PUBACK, false)
	case PUBREC:
		if c.version == V5 && p.Reason >= 0x80 {
			c.acked(p.ID, PUBREC, true) // refused: the exchange ends here
			break
		}
		if c.acked(p.ID, PUBREC, false) {
			c.saveRel() // the id is unreleased until PUBCOMP, across reconnects
		}
		c.send(&Packet{Type: PUBREL, ID: p.ID}, c.version)
	case PUBREL:
		// [MQTT-4.3.3-…]: release the id; answer even if unknown.
		rc := byte(rcSuccess)
		if in := c.in; in == nil {
			rc = 0x92 // Packet Identifier not found
		} else {
			in.mu.Lock()
			if _, ok := in.qos2[p.ID]; !ok {
				rc = 0x92
			}
			delete(in.qos2, p.ID)
			in.mu.Unlock()
		}
		c.send(&Packet{Type: PUBCOMP, ID: p.ID, Reason: rc}, c.version)
	case PUBCOMP:
		if c.acked(p.ID, PUBCOMP, false) {
			c.saveRel()
		}
	case SUBSCRIBE:
		return c.subscribe(p)
	case UNSUBSCRIBE:
		c.unsubscribe(p)
	case PINGREQ:
		c.send(&Packet{Type: PINGRESP}, c.version) // [MQTT-3.12.4-1]
	case DISCONNECT:
		if c.version == V5 && p.Props.Has&HasSessionExpiry != 0 {
			// §3.14.2.2.2: a session that was to end with the connection
			// cannot be given an expiry now; such a DISCONNECT is not
			// valid (the will is published).
			if c.expiry == 0 && p.Props.SessionExpiry != 0 {
				return c.fail("session_expiry", rcProtocolError, "DISCONNECT sets a session expiry after CONNECT set none")
			}
			c.expiry = c.sessionExpiry(p.Props.SessionExpiry)
		}
		if p.Reason != rcDisconnectWithWill {
			c.clean.Store(true) // [MQTT-3.14.4-3]
			c.lastWill.Store(nil)
			c.s.SetLastWords(nil)
		}
		c.saidBye.Store(true)
		c.s.Close(bridge.CloseNormal, "DISCONNECT")
	case AUTH:
		return c.fail("auth", rcProtocolError, "AUTH without an authentication method")
	default:
		return c.fail("packet_type", rcProtocolError, fmt.Sprintf("packet type %d from a client", p.Type))
	}
	return nil
}

// connect handles CONNECT: version, client id, credentials, will, CONNACK.
func (c *conn) connect(p *Packet) error {
	cp := p.Connect
	v := cp.Level
	refuse := func(v3rc, v5rc byte, kind, reason string) error {
		rc := v3rc
		if v == V5 {
			rc = v5rc
		}
		c.send(&Packet{Type: CONNACK, Reason: rc, Props: Properties{ReasonString: clip(reason)}}, v)
		c.s.Metrics().ProtocolError(Name, kind)
		return &bridge.CloseError{Code: bridge.ClosePolicy, Reason: clip(reason)}
	}
	if v == V5 && p.Props.AuthMethod != "" {
		return refuse(v3NotAuthorized, rcBadAuthMethod, "auth_method", "enhanced authentication is not supported")
	}
	id := cp.ClientID
	assigned := false
	if id == "" {
		if v != V5 && (!cp.CleanStart || v == V31) {
			return refuse(v3IDRejected, rcClientIDNotValid, "client_id", "empty client id without clean session") // [MQTT-3.1.3-8]
		}
		id, assigned = "wsgate-"+c.s.ID(), true // [MQTT-3.1.3-6]
	}
	if w := cp.Will; w != nil {
		if _, err := subjects.MQTTTopicToSubject(w.Topic); err != nil {
			return refuse(v3Unacceptable, rcTopicNameInvalid, "will_topic", "will topic: "+err.Error())
		}
		if w.Retain && v == V5 && c.p.retained(c.s) == nil {
			return refuse(v3Unacceptable, rcRetainNotSupported, "will_retain", "retained messages are not supported")
		}
	}
	creds := &auth.Credentials{Username: cp.Username, Password: string(cp.Password)}
	if _, err := c.s.Authenticate(context.Background(), creds); err != nil {
		switch {
		case errors.Is(err, auth.ErrNoCredentials):
			return refuse(v3NotAuthorized, rcNotAuthorized, "auth_denied", "not authorized")
		case errors.Is(err, auth.ErrDenied):
			return refuse(v3BadUserPassword, rcBadUserPassword, "auth_denied", "bad user name or password")
		}
		return refuse(v3Unavailable, rcServerUnavailable, "auth_error", "authentication unavailable")
	}

	c.version, c.clientID, c.clientKey, c.will = v, id, clientKey(c.s.Principal().ID, id), cp.Will
	ka := time.Duration(cp.KeepAlive) * time.Second
	serverKA := false
	if max := c.p.cfg.MaxKeepAlive; max > 0 && v == V5 && (ka == 0 || ka > max) {
		ka, serverKA = max.Truncate(time.Second), true
	}
	c.keepAlive = ka
	if ka > 0 {
		c.deadline.Store(time.Now().Add(ka * 3 / 2).UnixNano())
	} else {
		c.deadline.Store(0)
	}
	window := c.p.cfg.MaxInflight
	if v == V5 {
		if p.Props.Has&HasReceiveMaximum != 0 {
			window = min(window, int(p.Props.ReceiveMaximum))
		}
		if p.Props.Has&HasMaximumPacketSize != 0 {
			c.maxOut = int(min(p.Props.MaximumPacketSize, maxRemaining))
		}
		c.aliasMax = outboundAliasMax(&p.Props, c.p.cfg.OutboundTopicAliases)
	}
	c.mu.Lock()
	c.out.init(window)
	c.mu.Unlock()
	// A v5 session with no expiry still resumes a stored one (Clean Start
	// 0) and ends with the connection (openSession, endSession).
	persistent := (v != V5 && !cp.CleanStart) || (v == V5 && p.Props.SessionExpiry > 0)
	c.expiry = c.p.cfg.MaxSessionExpiry // 3.1.1: the cap
	if v == V5 {
		c.expiry = c.sessionExpiry(p.Props.SessionExpiry)
	}
	c.consExpiry = c.expiry
	var resumed *sessionState
	if !assigned {
		resumed = c.openSession(persistent, cp.CleanStart) // [MQTT-3.1.2-4/5/6]
	}
	c.ver.Store(uint32(v))

	ack := &Packet{Type: CONNACK}
	if v == V5 {
		pr := &ack.Props
		pr.setU16(propReceiveMaximum, uint16(c.p.cfg.ReceiveMaximum))
		pr.setU16(propTopicAliasMaximum, uint16(c.p.cfg.TopicAliasMaximum))
		pr.setU32(propMaximumPacketSize, uint32(c.p.cfg.MaxPacketSize))
		if c.p.retained(c.s) == nil {
			pr.setByte(propRetainAvailable, 0)
		}
		switch {
		case persistent && c.persist == nil:
			pr.setU32(propSessionExpiry, 0) // no JetStream: the session ends with the connection
		case persistent && c.expiry != time.Duration(p.Props.SessionExpiry)*time.Second:
			pr.setU32(propSessionExpiry, uint32(c.expiry/time.Second))
		}
		if assigned {
			pr.AssignedClientID = id
		}
		if serverKA {
			pr.setU16(propServerKeepAlive, uint16(ka/time.Second))
		}
	}
	c.p.cancelWill(c.clientKey)
	if old := c.p.takeover(c); old != nil {
		old.close(rcSessionTakenOver, bridge.ClosePolicy, "session taken over") // [MQTT-3.1.4-3]
	}
	ack.SessionPresent = resumed != nil // [MQTT-3.2.2-2/3]
	c.send(ack, v)
	if !assigned {
		c.claim()
	}
	c.recordWill()
	c.restore(resumed)
	return nil
}

// sessionExpiry is the expiry of a session whose client asked for v
// seconds (0xFFFFFFFF: never), capped by max_session_expiry.
func (c *conn) sessionExpiry(v uint32) time.Duration {
	if v == 0xFFFFFFFF {
		return c.p.cfg.MaxSessionExpiry
	}
	return min(c.p.cfg.MaxSessionExpiry, time.Duration(v)*time.Second)
}

// close ends the connection from the server side with a v5 reason.
func (c *conn) close(rc byte, code int, reason string) {
	c.goodbye.CompareAndSwap(0, int32(rc))
	c.s.Close(code, reason)
}

// expire is called by the sweep when the connection is past its deadline.
func (c *conn) expire() {
	c.s.Metrics().ProtocolError(Name, "keep_alive")
	if c.ver.Load() == 0 {
		c.close(0, bridge.ClosePolicy, "no CONNECT in time")
		return
	}
	c.close(rcKeepAliveTimeout, bridge.ClosePolicy, "keep alive timeout")
}

// Goodbye implements bridge.Goodbyer: a v5 client learns why the server
// closes with a DISCONNECT reason code [MQTT-3.14.2-…]; 3.1.1 has no way.
func (c *conn) Goodbye(ci bridge.CloseInfo) *bridge.Frame {
	if c.ver.Load() != uint32(V5) || !c.saidBye.CompareAndSwap(false, true) {
		return nil
	}
	rc := byte(c.goodbye.Load())
	var ref string
	if rc == 0 {
		switch {
		case ci.Code == bridge.CloseGoingAway && c.p.cfg.ServerReference != "":
			rc, ref = rcUseAnotherServer, c.p.cfg.ServerReference
		case ci.Code == bridge.CloseGoingAway:
			rc = rcServerShuttingDown
		case ci.By == "worker":
			rc = rcAdministrativeAction
		case strings.Contains(ci.Reason, "slow consumer"):
			rc = rcQuotaExceeded
		default:
			rc = rcUnspecified
		}
	}
	d := &Packet{Type: DISCONNECT, Reason: rc, Props: Properties{ReasonString: clip(ci.Reason), ServerReference: ref}}
	return d.frame(V5)
}

// Refuse implements bridge.Refuser. Dropping part of an MQTT stream would
// break its framing, so a message refused by a limit closes the connection.
func (c *conn) Refuse(_ bool, _ []byte, err error) error {
	return c.fail("rate_limited", rcMessageRateTooHigh, err.Error())
}

// OnClose implements bridge.Closer (the session has stopped the
// connection's requests already): it settles the session (endSession),
// forgets the client id and publishes the will unless the client
// disconnected cleanly [MQTT-3.1.2-8/10].
func (c *conn) OnClose(bridge.CloseInfo) {
	c.p.untrack(c)
	c.closeSession()
	closedAt := time.Now()
	c.wg.Wait() // the claim too, which a delayed will records
	if w := c.will; w != nil && !c.clean.Load() {
		// [MQTT-3.1.3-9]: a v5 will waits min(Will Delay, session expiry)
		// and is cancelled by the client's return (will.go).
		delay := time.Duration(w.Props.WillDelay) * time.Second
		if c.persist == nil {
			delay = 0
		}
		delay = min(delay, c.expiry)
		if delay > 0 && c.clientKey != "" {
			c.delayWill(w, delay, closedAt)
		} else {
			c.publishWill(w)
		}
	}
	c.endSession(closedAt)
	c.release()
}

// Push implements bridge.Handler: a worker's message goes to the client as
// a QoS 0 PUBLISH on the topic in its Mqtt-Topic header, else on the
// topic of its subject.
func (c *conn) Push(m *bridge.Message) {
	if c.ver.Load() == 0 {
		return
	}
	topic := m.Header.Get(HeaderTopic)
	if topic == "" {
		topic = subjects.MQTTSubjectToTopic(m.Subject)
	}
	if p := c.outPacket(m, topic, 0, nil); p != nil {
		c.sendPublish(p)
	}
}

// clientKey is the key of a client id in the takeover map and the session
// buckets: scoped by principal, so that one principal can neither take over
// nor resume another's session by using its client id. (In dev mode there
// is no principal: client ids are global, as in MQTT.)
func clientKey(principal, clientID string) string {
	if principal == "" {
		return kvToken(clientID)
	}
	return kvToken(principal + "\x00" + clientID)
}
