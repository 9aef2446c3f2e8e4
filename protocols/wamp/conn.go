package wamp

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/wsgate/wsgate/auth"
	"github.com/wsgate/wsgate/bridge"
)

// URIs the router sends [WAMP "Predefined URIs"], and ours.
const (
	errProtocolViolation  = "wamp.error.protocol_violation"
	errNoSuchRealm        = "wamp.error.no_such_realm"
	errAuthFailed         = "wamp.error.authentication_failed"
	errNoAuthMethod       = "wamp.error.no_auth_method"
	errNotAuthorized      = "wamp.error.not_authorized"
	errInvalidURIName     = "wamp.error.invalid_uri"
	errInvalidArgName     = "wamp.error.invalid_argument"
	errNoSuchProcedure    = "wamp.error.no_such_procedure"
	errProcedureExists    = "wamp.error.procedure_already_exists"
	errDifferentPolicy    = "wamp.error.procedure_exists_with_different_invocation_policy"
	errNoSuchSubscription = "wamp.error.no_such_subscription"
	errNoSuchRegistration = "wamp.error.no_such_registration"
	errCanceled           = "wamp.error.canceled"
	errTimeout            = "wamp.error.timeout"
	errLimitExceeded      = "wsgate.error.limit_exceeded"
	closeGoodbyeAndOut    = "wamp.close.goodbye_and_out"
	closeNormal           = "wamp.close.normal"
	closeSystemShutdown   = "wamp.close.system_shutdown"
	closeKilled           = "wamp.close.killed"
)

// Session states.
const (
	stateNew         int32 = iota // waiting for HELLO
	stateChallenged               // CHALLENGE sent, waiting for AUTHENTICATE
	stateEstablished              // WELCOME sent
	stateClosing                  // GOODBYE sent, waiting for the client's
	stateClosed                   // nothing more is read
)

// conn is one WAMP session. HandleMessage runs on the session's reader
// (never two at once); deliveries, invocations and call results come from
// other goroutines and touch only what is guarded or atomic.
type conn struct {
	p   *Protocol
	s   *bridge.Session
	ser Serializer

	state atomic.Int32
	quiet atomic.Bool // the client already has our last word

	// Reader-owned, fixed once established.
	hello       *Hello // kept while a challenge is out
	challenge   string // the WAMP-CRA challenge that is out
	prefix      string // the realm's subject prefix
	realm       string
	session     uint64
	sessionText string // session in decimal, as the filter headers hold it
	authid      string
	authrole    string
	authmethod  string

	mu     sync.Mutex
	subs   map[uint64]*subscription // by subscription id
	byKey  map[topicKey]*subscription
	regs   map[uint64]*registration // by registration id
	invs   map[uint64]*invocation   // by INVOCATION request id
	tokens map[string]uint64        // invocation ids by call token
	invSeq uint64
	calls  map[uint64]*call // by CALL request id

	testaments []testament // published when the session ends (testament.go)

	cancels *bridge.Subscription // cancellations, once a procedure is registered
}

var (
	_ bridge.Handler  = (*conn)(nil)
	_ bridge.Closer   = (*conn)(nil)
	_ bridge.Goodbyer = (*conn)(nil)
)

func newConn(p *Protocol, s *bridge.Session) *conn {
	return &conn{p: p, s: s, ser: serializerFor(s.Subprotocol())}
}

// HandleMessage implements bridge.Handler: one WebSocket message is one
// WAMP message [WAMP "WebSocket Transport"].
func (c *conn) HandleMessage(_ bool, data []byte) error {
	st := c.state.Load()
	if st == stateClosed {
		return nil
	}
	m, err := Decode(c.ser, data, c.p.lim)
	if err != nil {
		return c.violation(err)
	}
	switch st {
	case stateNew:
		switch m := m.(type) {
		case *Hello:
			return c.onHello(m)
		case *Abort:
			return c.closeQuietly("client aborted")
		}
		return c.violation(fmt.Errorf("%s before HELLO", m.Type()))
	case stateChallenged:
		switch m := m.(type) {
		case *Authenticate:
			return c.onAuthenticate(m)
		case *Abort:
			return c.closeQuietly("client aborted")
		}
		return c.violation(fmt.Errorf("%s while waiting for AUTHENTICATE", m.Type()))
	case stateClosing:
		// "the other peer [...] MUST NOT send any further messages" but
		// the GOODBYE reply; anything else in flight is dropped.
		if _, ok := m.(*Goodbye); ok {
			return c.closeQuietly("goodbye")
		}
		return nil
	}
	switch m := m.(type) {
	case *Publish:
		c.onPublish(m)
	case *Subscribe:
		c.onSubscribe(m)
	case *Unsubscribe:
		c.onUnsubscribe(m)
	case *Call:
		return c.onCall(m)
	case *Cancel:
		c.onCancel(m)
	case *Register:
		c.onRegister(m)
	case *Unregister:
		c.onUnregister(m)
	case *Yield:
		c.onYield(m)
	case *Error:
		if m.RequestType != TypeInvocation {
			return c.violation(fmt.Errorf("ERROR for a %s", m.RequestType))
		}
		c.onInvocationError(m)
	case *Goodbye:
		// "a Peer [...] replies with GOODBYE [...] wamp.close.goodbye_and_out"
		// [WAMP "Session Closing"].
		c.quiet.Store(true)
		c.send(&Goodbye{Details: Dict{}, Reason: closeGoodbyeAndOut})
		return c.closeQuietly("goodbye")
	case *Abort:
		return c.closeQuietly("client aborted")
	case *Hello:
		return c.violation(errors.New("a second HELLO"))
	default:
		return c.violation(fmt.Errorf("%s is not a client message", m.Type()))
	}
	return nil
}

// closeQuietly ends the connection with no further WAMP message.
func (c *conn) closeQuietly(reason string) error {
	c.quiet.Store(true)
	c.state.Store(stateClosed)
	c.s.Close(bridge.CloseNormal, reason)
	return nil
}

// send encodes m and queues it. An error means the connection is closing.
func (c *conn) send(m Message) error {
	f, err := c.frame(m)
	if err != nil {
		c.s.Logger().Warn("wamp encode", "type", m.Type(), "err", err)
		return err
	}
	return c.s.Send(f)
}

// frame encodes m into a WebSocket frame: text for JSON, binary else.
func (c *conn) frame(m Message) (*bridge.Frame, error) {
	b, err := Encode(c.ser, nil, m)
	if err != nil {
		return nil, err
	}
	if c.ser.Text() {
		return bridge.TextFrame(b), nil
	}
	return bridge.BinaryFrame(b), nil
}

// errorKind is the metrics label of a protocol error.
func errorKind(err error) string {
	switch {
	case errors.Is(err, ErrTooLarge):
		return "message_too_large"
	case errors.Is(err, ErrTooDeep):
		return "too_deep"
	case errors.Is(err, ErrMalformed):
		return "malformed_message"
	case errors.Is(err, auth.ErrDenied), errors.Is(err, auth.ErrNoCredentials):
		return "unauthorized"
	}
	return "protocol"
}

// violation ends the session for bad input: ABORT before it is
// established, GOODBYE after, both with wamp.error.protocol_violation
// [WAMP "Protocol Errors"], then the close. Only this connection is
// affected; the error is counted by kind.
func (c *conn) violation(err error) error {
	c.s.Metrics().ProtocolError(Name, errorKind(err))
	details := Dict{"message": short(err.Error())}
	if !c.quiet.Swap(true) {
		if c.state.Load() == stateEstablished {
			c.send(&Goodbye{Details: details, Reason: errProtocolViolation})
		} else {
			c.send(&Abort{Details: details, Reason: errProtocolViolation})
		}
	}
	c.state.Store(stateClosed)
	return &bridge.CloseError{Code: bridge.CloseProtocolError, Reason: "protocol violation"}
}

// abort refuses a session that is not established.
func (c *conn) abort(reason, msg string, code int) error {
	c.quiet.Store(true)
	c.send(&Abort{Details: Dict{"message": msg}, Reason: reason})
	c.state.Store(stateClosed)
	return &bridge.CloseError{Code: code, Reason: msg}
}

// replyError answers a request with an ERROR.
func (c *conn) replyError(t Type, req uint64, uri string, err error) {
	e := &Error{RequestType: t, Request: req, Details: Dict{}, Error: uri}
	if err != nil {
		e.Args = List{short(err.Error())}
	}
	c.send(e)
}

// sessionError maps an error of the Session or of a name to an error URI.
func sessionError(err error) string {
	switch {
	case errors.Is(err, errInvalidURI):
		return errInvalidURIName
	case errors.Is(err, errInvalidArgument):
		return errInvalidArgName
	}
	switch bridge.KindOf(err) {
	case bridge.KindForbidden:
		return errNotAuthorized
	case bridge.KindInvalidName:
		return errInvalidURIName
	case bridge.KindLimit:
		return errLimitExceeded
	case bridge.KindNoResponders:
		return errNoSuchProcedure
	case bridge.KindTimeout:
		return errTimeout
	}
	return "wamp.error.runtime_error"
}

// short cuts a message for the wire.
func short(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}

// Goodbye implements bridge.Goodbyer: a close the server starts (token
// expiry, a worker's close, shutdown) reaches the client as GOODBYE, or
// ABORT if its session was not yet established.
func (c *conn) Goodbye(ci bridge.CloseInfo) *bridge.Frame {
	if c.quiet.Swap(true) {
		return nil
	}
	reason := closeKilled
	if ci.Code == bridge.CloseGoingAway {
		reason = closeSystemShutdown
	}
	details := Dict{"message": strings.ToValidUTF8(short(ci.Reason), "?")}
	var m Message = &Abort{Details: details, Reason: reason}
	if c.state.Load() == stateEstablished {
		m = &Goodbye{Details: details, Reason: reason}
	}
	f, err := c.frame(m)
	if err != nil {
		return nil
	}
	return f
}

// OnClose implements bridge.Closer: the session's departure is announced
// (wamp.session.on_leave), calls still running are canceled,
// registrations released and unanswered invocations answered for the
// callee that left.
func (c *conn) OnClose(bridge.CloseInfo) {
	c.state.Store(stateClosed)
	c.publishTestaments()
	c.left()
	// The bridge has cancelled the calls running beside the reader and
	// waited for them.
	c.mu.Lock()
	subs, regs, invs := c.subs, c.regs, c.invs
	c.subs, c.byKey, c.regs, c.invs, c.tokens = nil, nil, nil, nil, nil
	cancels := c.cancels
	c.mu.Unlock()
	if cancels != nil {
		cancels.Unsubscribe()
	}
	for _, sub := range subs {
		sub.stop(c.p)
	}
	for _, r := range regs {
		r.stop(c)
	}
	for _, inv := range invs {
		inv.abandon(c)
	}
}

// Push implements bridge.Handler: a worker's message to this connection
// (wsgate.conn.<id>.send) whose Wamp-Topic header names a topic the session
// is subscribed to (match exact) arrives as an EVENT of that subscription.
// Others are dropped: WAMP has no message outside a subscription.
func (c *conn) Push(m *bridge.Message) {
	topic := m.Header.Get(HeaderTopic)
	if topic == "" || c.state.Load() != stateEstablished {
		return
	}
	c.mu.Lock()
	sub := c.byKey[topicKey{c.prefix, topic, matchExact}]
	c.mu.Unlock()
	if sub == nil {
		return
	}
	args, kwargs := decodeBody(m.Data, c.p.lim.MaxDepth)
	c.send(&Event{Subscription: sub.id.id, Publication: newID(), Details: Dict{}, Args: args, Kwargs: kwargs})
}
