package bridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/time/rate"

	"github.com/wsgate/wsgate/auth"
	"github.com/wsgate/wsgate/subjects"
)

// Errors a Session returns to protocol adapters, which turn them into their
// protocol's own error.
var (
	ErrForbidden     = errors.New("bridge: permission denied")
	ErrReserved      = errors.New("bridge: reserved subject")
	ErrNoResponders  = errors.New("bridge: no responders")
	ErrTimeout       = errors.New("bridge: request timed out")
	ErrClosed        = errors.New("bridge: connection closed")
	ErrSlowConsumer  = errors.New("bridge: slow consumer")
	ErrNotSubscribed = errors.New("bridge: not subscribed")
)

// closeGrace is how long a closing connection waits for the client's close
// frame before the socket is closed.
const closeGrace = time.Second

// Session is one WebSocket connection: its identity and permissions, its
// subscriptions and its outbound queue. Protocol adapters read client
// messages with ReadMessage and act through Publish, Request, Subscribe and
// Send; everything else is the bridge's.
type Session struct {
	gw        *Gateway
	id        string
	proto     Protocol
	subproto  string
	netConn   net.Conn
	virtual   bool   // netConn is no socket of ours (Opener.Virtual)
	zmin      uint16 // payloads of zmin to zmax bytes go compressed (deflate.go);
	zmax      uint16 // zmax is 0 without permessage-deflate
	principal atomic.Pointer[auth.Principal]
	hdrs      atomic.Pointer[headerCache] // made by the first publish
	creds     *auth.Credentials           // the upgrade's, kept for in-band authentication only
	context   map[string]string
	adapter   any    // the protocol adapter's, from Admit to Open (SetAdapterState)
	stage     *stage // nil on a gateway without stages
	sourceIP  string
	userAgent string
	requestID string // the upgrade's X-Request-Id, or made up (access log)
	started   time.Time
	handler   Handler
	m         *protoMetrics
	limiter   *rate.Limiter // messages per second; nil without a limit

	lastRead  atomic.Int64 // unix nanoseconds of the last frame read
	lastData  atomic.Int64 // ... of the last data message read
	lastWrite atomic.Int64 // ... of the last write
	lastPing  atomic.Int64 // ... of the last ping the sweep queued
	msgsIn    atomic.Uint64
	msgsOut   atomic.Uint64
	bytesIn   atomic.Uint64
	bytesOut  atomic.Uint64

	w writer

	beside beside // requests running beside the reader

	subsMu sync.Mutex
	subs   []*Subscription // each knows its index: a slice costs less than a map
	// subsAtEnd is how many subscriptions the connection held when it
	// ended, for the info in $disconnect and the disconnect event.
	subsAtEnd int
	ctrl      *nats.Subscription

	// Until the upgrade completes, worker pushes and a close wait here.
	earlyMu      sync.Mutex
	live         bool
	early        []*Message
	closePending bool
	attached     atomic.Bool // live, for the sweeper's lock-free look

	r reader

	// Last words (ghost.go): what the protocol wants done if the gateway
	// dies with the connection open.
	lastWordsMu sync.Mutex
	lastWords   []byte
	forgotten   bool // the record is deleted: never written again
	// ghosted: the gateway was presumed dead and the connection's
	// disconnect event is out already.
	ghosted atomic.Bool

	causeOnce sync.Once
	cause     CloseInfo
	closeOnce sync.Once
	done      chan struct{}
}

// ID is the connection id: random, URL-safe, one NATS subject token.
func (s *Session) ID() string { return s.id }

// Protocol is the name of the connection's protocol.
func (s *Session) Protocol() string { return s.proto.Name() }

// Subprotocol is the Sec-WebSocket-Protocol token echoed to the client, or "".
func (s *Session) Subprotocol() string { return s.subproto }

// Principal is the connection's authenticated identity.
func (s *Session) Principal() *auth.Principal { return s.principal.Load() }

// expired reports whether the connection's credentials have expired.
func (s *Session) expired(now time.Time) bool {
	exp := s.Principal().ExpiresAt
	return !exp.IsZero() && now.After(exp)
}

// unauthenticated is the principal of a connection whose protocol has yet
// to authenticate in band: it may do nothing.
var unauthenticated = &auth.Principal{Permissions: &auth.Permissions{}}

func (s *Session) setPrincipal(p *auth.Principal) {
	s.principal.Store(p)
	if len(p.Context) > 0 {
		s.context = mergeContext(p.Context, s.context)
	}
}

// mergeContext returns base with over laid on it, without modifying either.
func mergeContext(base, over map[string]string) map[string]string {
	if len(over) == 0 {
		return base
	}
	if len(base) == 0 {
		return over
	}
	m := make(map[string]string, len(base)+len(over))
	maps.Copy(m, base)
	maps.Copy(m, over)
	return m
}

// Authenticate runs the gateway's authenticators on credentials the
// protocol carries in band (MQTT CONNECT username and password, STOMP
// login and passcode, a WAMP ticket), together with what the upgrade request
// carried, and makes the result the connection's principal. Call it from
// HandleMessage, before the connection does anything else. A refusal wraps
// auth.ErrDenied or auth.ErrNoCredentials and leaves the connection without
// permissions.
func (s *Session) Authenticate(ctx context.Context, in *auth.Credentials) (*auth.Principal, error) {
	c := auth.Credentials{Protocol: s.proto.Name(), SourceIP: s.sourceIP, UserAgent: s.userAgent}
	if s.creds != nil {
		c = *s.creds
	}
	if in.Token != "" {
		c.Token = in.Token
	}
	if in.Username != "" || in.Password != "" {
		c.Username, c.Password = in.Username, in.Password
	}
	if in.CRA != nil {
		// A WAMP-CRA answer stands alone: no upgrade token beside it.
		c.Token, c.CRA = "", in.CRA
	}
	// The upgrade's credentials served their purpose: an idle connection
	// does not keep its request headers.
	s.creds = nil
	p, err := s.gw.authenticator().Authenticate(ctx, &c)
	if err != nil {
		s.gw.metrics.denied.WithLabelValues(s.proto.Name(), "connect").Inc()
		s.principal.Store(unauthenticated)
		return nil, err
	}
	s.setPrincipal(p)
	return p, nil
}

// Context is the connection's context from the $connect integration. It
// must not be modified.
func (s *Session) Context() map[string]string { return s.context }

// SetAdapterState keeps v with the session for its protocol adapter: what
// the adapter's Admit learnt from the upgrade request (which is gone once
// the connection is open), for the handler its Open makes. Call it from
// Admit only.
func (s *Session) SetAdapterState(v any) { s.adapter = v }

// AdapterState returns what SetAdapterState kept, or nil.
func (s *Session) AdapterState() any { return s.adapter }

// Logger returns the gateway logger with the connection's id and protocol.
func (s *Session) Logger() *slog.Logger {
	return s.baseLogger().With("conn", s.id, "protocol", s.proto.Name())
}

// LogEnabled reports whether Logger would write at level: a check that
// costs no logger, for a line that is worth making only when it is
// written (one per failed message at debug).
func (s *Session) LogEnabled(ctx context.Context, level slog.Level) bool {
	return s.baseLogger().Enabled(ctx, level)
}

// baseLogger is the session's stage's logger, or the gateway's.
func (s *Session) baseLogger() *slog.Logger {
	if s.stage != nil {
		return s.stage.log
	}
	return s.gw.log
}

// Done is closed when the session has ended.
func (s *Session) Done() <-chan struct{} { return s.done }

// ReservedPrefix is the first token of the gateway's own subjects.
func (s *Session) ReservedPrefix() string { return s.gw.cfg.ReservedPrefix }

// Send queues a frame to the client. It never blocks: a client whose queue
// is full is disconnected as a slow consumer and Send returns
// ErrSlowConsumer.
func (s *Session) Send(f *Frame) error { return s.enqueue(f) }

// Headers returns a new header holding the connection's metadata (id,
// protocol, principal, context) plus event and route, for a message to NATS.
func (s *Session) Headers(event, route string) Header {
	h := make(Header, 8+len(s.context))
	h[HeaderConnectionID] = []string{s.id}
	h[HeaderProtocol] = []string{s.proto.Name()}
	h[HeaderGateway] = []string{s.gw.id}
	h[HeaderSourceIP] = []string{s.sourceIP}
	if id := s.Principal().ID; id != "" {
		h[HeaderPrincipal] = []string{id}
	}
	for k, v := range s.context {
		if validHeaderKey(k) {
			h[HeaderContextPrefix+k] = []string{strings.Map(noCRLF, v)}
		}
	}
	h[HeaderEvent] = []string{event}
	if s.stage != nil {
		h[HeaderStage] = []string{s.stage.name}
	}
	if route != "" {
		h[HeaderRoute] = []string{route}
	}
	return h
}

// headerCache is the header set of a connection's messages on one route,
// built once and shared by every message that adds nothing of its own: a
// publish then allocates no header map. It is immutable: nats.go only
// reads a message's header.
type headerCache struct {
	route string
	p     *auth.Principal // the principal it was built for
	h     Header
}

// msgHeaders returns the headers of a client message on route, plus extra.
// The result must not be modified.
func (s *Session) msgHeaders(route string, extra Header) Header {
	p := s.Principal()
	c := s.hdrs.Load()
	if c == nil || c.route != route || c.p != p {
		c = &headerCache{route: route, p: p, h: s.Headers(EventMessage, route)}
		s.hdrs.Store(c)
	}
	if len(extra) == 0 {
		return c.h
	}
	h := make(Header, len(c.h)+len(extra))
	maps.Copy(h, c.h)
	maps.Copy(h, extra)
	return h
}

// CheckPublish reports whether the connection may publish (or send a
// request) to subject: it must be a valid literal subject outside the
// reserved space, allowed by the principal's permissions.
func (s *Session) CheckPublish(subject string) error {
	return s.check("publish", subject, subjects.ValidateSubject, s.Principal().Permissions.CanPublish)
}

// CheckSubscribe reports whether the connection may subscribe to pattern:
// a valid pattern outside the reserved space, everything it can match
// allowed.
func (s *Session) CheckSubscribe(pattern string) error {
	return s.check("subscribe", pattern, subjects.ValidatePattern, s.Principal().Permissions.CanSubscribe)
}

// check is the one place every protocol's publishes and subscribes are
// checked; refusals are counted by action.
func (s *Session) check(action, name string, valid func(string) error, allowed func(string) bool) error {
	if err := valid(name); err != nil {
		return err
	}
	var err error
	switch {
	case subjects.IsReserved(name, s.gw.cfg.ReservedPrefix):
		err = fmt.Errorf("%w: %q", ErrReserved, name)
	case !allowed(name):
		err = fmt.Errorf("%w: %s to %q", ErrForbidden, action, name)
	default:
		return nil
	}
	s.gw.metrics.denied.WithLabelValues(s.proto.Name(), action).Inc()
	return err
}

// Publish sends data to subject on NATS with the connection's headers plus
// hdr (which may be nil) after checking permissions.
func (s *Session) Publish(subject, route string, hdr Header, data []byte) error {
	return s.PublishContext(context.Background(), subject, route, hdr, data)
}

// PublishContext is Publish within ctx's trace: with tracing on, the
// message gets a producer span, child of ctx's span (or of the trace
// context the client put in hdr), and carries its traceparent.
func (s *Session) PublishContext(ctx context.Context, subject, route string, hdr Header, data []byte) error {
	err := s.publish(ctx, subject, route, hdr, data)
	if s.gw.access != nil {
		s.autoAccess(route, 0, err, len(data))
	}
	return err
}

func (s *Session) publish(ctx context.Context, subject, route string, hdr Header, data []byte) error {
	if err := s.CheckPublish(subject); err != nil {
		return err
	}
	if t := s.gw.tr; t != nil {
		var sp trace.Span
		hdr, sp = t.startSend(ctx, trace.SpanKindProducer, "publish", subject, route, hdr)
		err := s.publishChecked(subject, route, hdr, data)
		endSend(sp, err)
		return err
	}
	return s.publishChecked(subject, route, hdr, data)
}

// publishChecked is publish once permissions are checked.
func (s *Session) publishChecked(subject, route string, hdr Header, data []byte) error {
	if err := s.gw.publishClient(subject, s.msgHeaders(route, hdr), data); err != nil {
		return fmt.Errorf("publish %q: %w", subject, err)
	}
	return nil
}

// Request sends data to subject and waits for one reply, at most timeout.
func (s *Session) Request(ctx context.Context, subject, route string, hdr Header, data []byte, timeout time.Duration) (*Message, error) {
	if s.gw.access == nil {
		return s.request(ctx, subject, route, hdr, data, timeout)
	}
	start := time.Now()
	m, err := s.request(ctx, subject, route, hdr, data, timeout)
	s.autoAccess(route, time.Since(start), err, len(data))
	return m, err
}

func (s *Session) request(ctx context.Context, subject, route string, hdr Header, data []byte, timeout time.Duration) (*Message, error) {
	if err := s.CheckPublish(subject); err != nil {
		return nil, err
	}
	if t := s.gw.tr; t != nil {
		var sp trace.Span
		hdr, sp = t.startSend(ctx, trace.SpanKindClient, "request", subject, route, hdr)
		m, err := s.requestChecked(ctx, subject, route, hdr, data, timeout)
		endSend(sp, err)
		return m, err
	}
	return s.requestChecked(ctx, subject, route, hdr, data, timeout)
}

// requestChecked is request once permissions are checked.
func (s *Session) requestChecked(ctx context.Context, subject, route string, hdr Header, data []byte, timeout time.Duration) (*Message, error) {
	h := s.msgHeaders(route, hdr)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	reply, err := s.gw.nc.RequestMsgWithContext(ctx, &nats.Msg{Subject: subject, Header: nats.Header(h), Data: data})
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		return nil, fmt.Errorf("%w on %q", ErrNoResponders, subject)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, nats.ErrTimeout):
		return nil, fmt.Errorf("%w after %s on %q", ErrTimeout, timeout, subject)
	case err != nil:
		return nil, fmt.Errorf("request %q: %w", subject, err)
	}
	return &Message{Subject: reply.Subject, Header: Header(reply.Header), Data: reply.Data}, nil
}

// Subscribe delivers every message on pattern to deliver, after checking
// permissions. queue, when not empty, joins a queue group: each message goes
// to one member across every gateway. deliver runs on a hub dispatcher
// goroutine and must not block; it typically encodes with d.Frame and calls
// Send.
func (s *Session) Subscribe(pattern, queue string, deliver func(d *Delivery)) (*Subscription, error) {
	gen := s.gw.reloads.Load() // a reload from here on may have narrowed what was checked
	if err := s.CheckSubscribe(pattern); err != nil {
		return nil, err
	}
	return s.subscribe(pattern, queue, deliver, true, gen)
}

// subscribe makes a subscription; checked says it was made under the
// principal's permissions, so a reload that narrows them may drop it, and
// gen is the reload count before they were checked.
func (s *Session) subscribe(pattern, queue string, deliver func(d *Delivery), checked bool, gen uint64) (*Subscription, error) {
	if queue != "" {
		if err := subjects.ValidateSubject(queue); err != nil {
			return nil, fmt.Errorf("queue group: %w", err)
		}
	}
	sub := &Subscription{s: s, pattern: pattern, queue: queue, deliver: deliver, checked: checked}
	s.subsMu.Lock()
	if max := s.limits().MaxSubscriptions; max > 0 && len(s.subs) >= max {
		s.subsMu.Unlock()
		s.gw.metrics.limited.WithLabelValues(s.proto.Name(), "max_subscriptions").Inc()
		return nil, fmt.Errorf("%w: at most %d subscriptions per connection", ErrLimit, max)
	}
	if s.isClosed() {
		s.subsMu.Unlock()
		return nil, ErrClosed
	}
	// A reload since the check may have walked the subscriptions already:
	// check again under the new principal (Gateway.Reload stores it
	// before it walks, so whatever it has not stored yet it will find).
	if checked && s.gw.reloads.Load() != gen && !s.Principal().Permissions.CanSubscribe(pattern) {
		s.subsMu.Unlock()
		s.gw.metrics.denied.WithLabelValues(s.proto.Name(), "subscribe").Inc()
		return nil, fmt.Errorf("%w: subscribe to %q", ErrForbidden, pattern)
	}
	sub.idx = len(s.subs)
	s.subs = append(s.subs, sub)
	s.subsMu.Unlock()
	if err := s.gw.hub.add(sub); err != nil {
		s.subsMu.Lock()
		s.dropSub(sub)
		s.subsMu.Unlock()
		return nil, err
	}
	// The session's end, if it came while sub was joining, found it not
	// yet a member: it leaves now (leaving twice is a no-op).
	// Nor did a reload that dropped it meanwhile.
	s.subsMu.Lock()
	gone, dropped := s.subs == nil, sub.idx < 0
	s.subsMu.Unlock()
	switch {
	case gone:
		s.gw.hub.remove(sub)
		return nil, ErrClosed
	case dropped:
		s.gw.hub.remove(sub)
		return nil, fmt.Errorf("%w: subscribe to %q", ErrForbidden, pattern)
	}
	return sub, nil
}

// Subscriptions is the number of live subscriptions of the connection; once
// it has ended, the number it held at the end.
func (s *Session) Subscriptions() int {
	s.subsMu.Lock()
	defer s.subsMu.Unlock()
	if s.subs == nil {
		return s.subsAtEnd
	}
	return len(s.subs)
}

// Close ends the connection with a WebSocket close code and reason. It is
// safe to call from any goroutine, any number of times; the first cause
// wins.
func (s *Session) Close(code int, reason string) {
	s.closeBy(CloseInfo{Code: code, Reason: reason, By: "server"})
}

func (s *Session) closeBy(c CloseInfo) {
	first := false
	s.causeOnce.Do(func() { s.cause = c; first = true })
	if !first {
		return
	}
	s.earlyMu.Lock()
	if !s.live {
		s.closePending = true // goLive sends it once there is a socket
		s.earlyMu.Unlock()
		return
	}
	s.earlyMu.Unlock()
	s.sendClose(c)
}

// sendClose sends the protocol's goodbye, if it has one, and the close
// frame.
func (s *Session) sendClose(c CloseInfo) {
	if g, ok := s.handler.(Goodbyer); ok && c.By != "client" {
		if f := g.Goodbye(c); f != nil {
			_ = s.enqueue(f)
		}
	}
	s.enqueueClose(c.Code, c.Reason, false)
}

func (s *Session) isClosed() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// finish is the one way out: it records the cause, flushes what can be
// flushed, closes the socket, unsubscribes everything, emits the disconnect
// event and logs one line.
func (s *Session) finish(err error) {
	s.closeOnce.Do(func() {
		defer s.gw.wg.Done()
		if s.ctrl != nil {
			s.gw.ctrl.release(s.ctrl)
		}
		c := s.causeFromError(err)
		s.w.drain(s, s.gw.cfg.WriteTimeout)
		s.closeSocket()
		s.cancelBeside()
		close(s.done)
		s.r.release()

		s.subsMu.Lock()
		subs := s.subs
		s.subs, s.subsAtEnd = nil, len(subs)
		s.subsMu.Unlock()
		for _, sub := range subs {
			s.gw.hub.remove(sub)
		}
		s.gw.unregister(s)
		s.gw.adm.release(s.sourceIP)
		s.endBeside()
		s.forget()
		if !s.ghosted.Load() {
			if cl, ok := s.handler.(Closer); ok {
				cl.OnClose(c)
			}
			s.gw.publishDisconnect(s, c)
		}
		s.m.connections.Dec()
		s.gw.metrics.disconnects.WithLabelValues(s.proto.Name(), c.By).Inc()
		lvl := slog.LevelInfo
		if c.By == "error" {
			lvl = slog.LevelWarn
		}
		s.gw.log.Log(context.Background(), lvl, "connection closed",
			"conn", s.id, "protocol", s.proto.Name(), "remote", s.sourceIP,
			"duration", time.Since(s.started).Round(time.Millisecond),
			"msgs_in", s.msgsIn.Load(), "msgs_out", s.msgsOut.Load(),
			"code", c.Code, "reason", c.Reason, "by", c.By)
		s.gw.recordClose(s, c)
		s.logConnection(c)
	})
}

// causeFromError settles how the connection ended: a cause recorded by Close
// wins; otherwise the read error that ended Serve says it.
func (s *Session) causeFromError(err error) CloseInfo {
	var c CloseInfo
	var ce *CloseError
	switch {
	case errors.As(err, &ce):
		// A protocol violation found by the frame parser or a handler's
		// own close: tell the client why.
		c = CloseInfo{Code: ce.Code, Reason: ce.Reason, By: "server"}
		s.gw.metrics.protocolErrors.WithLabelValues(s.proto.Name(), "close_"+itoa(ce.Code)).Inc()
		s.causeOnce.Do(func() {
			s.cause = c
			s.enqueueClose(c.Code, c.Reason, false)
		})
	case err == nil, errors.Is(err, errClientClosed):
		c = CloseInfo{Code: CloseNormal, By: "server"}
	default:
		c = CloseInfo{Code: closeAbnormal, Reason: err.Error(), By: "error"}
	}
	s.causeOnce.Do(func() { s.cause = c })
	return s.cause
}

// Subscription is one session's interest in a subject pattern.
type Subscription struct {
	s       *Session
	pattern string
	queue   string
	deliver func(*Delivery)
	idx     int  // in s.subs; -1 once dropped (under subsMu)
	checked bool // made by Subscribe, under the principal's permissions

	// chunk is where the hub keeps it while it is a member, nil before it
	// joins and once it has left; slot is its place there (under the
	// subject's lock).
	chunk atomic.Pointer[memberChunk]
	slot  int
}

// Pattern is the subscribed subject pattern.
func (sub *Subscription) Pattern() string { return sub.pattern }

// Queue is the queue group, or "".
func (sub *Subscription) Queue() string { return sub.queue }

// Unsubscribe ends the subscription. It is idempotent. A message that
// reaches the gateway after it returns is not delivered to the
// subscription; one being fanned out at that very moment may still be.
func (sub *Subscription) Unsubscribe() {
	s := sub.s
	s.subsMu.Lock()
	ok := s.dropSub(sub)
	s.subsMu.Unlock()
	if ok {
		s.gw.hub.remove(sub)
	}
}

// dropSub removes sub from s.subs in constant time (the last takes its
// place) and reports whether it was there. Called with subsMu held.
func (s *Session) dropSub(sub *Subscription) bool {
	i := sub.idx
	if i < 0 || i >= len(s.subs) || s.subs[i] != sub {
		return false
	}
	last := len(s.subs) - 1
	s.subs[i] = s.subs[last]
	s.subs[i].idx = i
	s.subs[last] = nil
	s.subs = s.subs[:last]
	sub.idx = -1
	return true
}

// LastWrite is when the connection last wrote to its client: a protocol's
// own keep-alive (STOMP heart-beats) is due only when it has been quiet.
func (s *Session) LastWrite() time.Time { return time.Unix(0, s.lastWrite.Load()) }

// Metrics lets the protocol adapter record its own events.
func (s *Session) Metrics() Metrics { return Metrics{s.gw.metrics} }

// FlushSubscriptions waits until NATS has processed every subscription made
// so far, so that a protocol's subscribe acknowledgement (JSON subscribed,
// a STOMP RECEIPT, an MQTT SUBACK) promises delivery of what is published
// after it, from any connection. A ctx without a deadline gets one of
// flushTimeout: nats.go refuses to flush without one, and a caller that
// ignored that error would promise what it had not checked.
func (s *Session) FlushSubscriptions(ctx context.Context) error {
	ctx, cancel := flushContext(ctx)
	defer cancel()
	if err := s.gw.hub.nc.FlushWithContext(ctx); err != nil {
		return fmt.Errorf("flush subscriptions: %w", err)
	}
	return nil
}

// flushControl waits until NATS holds the connection's control
// subscription (its <prefix>.conn.<id>.* subjects, on the gateway's own
// connection, not the hub's): Opener.Virtual's promise. Workers need no
// such wait: what tells them of a connection ($connect, the connect event)
// follows the subscription on the same NATS connection. ctx is as for
// FlushSubscriptions.
func (s *Session) flushControl(ctx context.Context) error {
	ctx, cancel := flushContext(ctx)
	defer cancel()
	if err := s.gw.nc.FlushWithContext(ctx); err != nil {
		return fmt.Errorf("flush the control subscription: %w", err)
	}
	return nil
}

// flushContext gives ctx a deadline of flushTimeout if it has none.
func flushContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, flushTimeout)
}

// flushTimeout bounds FlushSubscriptions and flushControl when their caller
// gave no deadline.
const flushTimeout = 5 * time.Second

// CRAParams are the WAMP-CRA parameters of authid's key, if the gateway's
// authenticators hold one (auth.WAMPCRA).
func (s *Session) CRAParams(authid string) (auth.CRAParams, bool) {
	return auth.LookupCRA(s.gw.authenticator(), authid)
}
