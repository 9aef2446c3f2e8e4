package bridge

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/wsgate/wsgate/auth"
	"github.com/wsgate/wsgate/bridge/internal/wire"
)

// Options are what New needs.
type Options struct {
	// Config tunes the gateway; its zero value means defaults.
	Config Config
	// NATS is the gateway's shared connection. Required.
	NATS *nats.Conn
	// HubNATS, when set, is a second connection made with nats.NoEcho: the
	// fan-out hub subscribes on it and clients' messages are published on
	// it, so a client's message reaches the gateway's own subscribers in
	// process, with no trip through NATS and no header decoding, and
	// everyone else through NATS. Nil: everything goes through NATS.
	HubNATS *nats.Conn
	// Authenticator identifies clients. Nil means auth.None: dev mode.
	Authenticator auth.Authenticator
	// Logger receives structured logs. Nil means slog.Default().
	Logger *slog.Logger
	// Protocols are the wire protocols spoken, in order of preference for
	// paths they share.
	Protocols []Protocol
	// StreamReplicas is how many servers of a clustered JetStream keep
	// each stream and key-value bucket the protocols make, unless they
	// name a count of their own (at most MaxReplicas). Existing ones with
	// another count are changed to it, or kept with a warning if
	// JetStream refuses. Default 1; 3 on a cluster of three or more.
	StreamReplicas int
	// Stages mount the gateway's protocols again under path prefixes of
	// their own (see Stage). Nil: no stages, and nothing changes; with
	// stages, an upgrade outside every stage's path is refused with 404.
	Stages map[string]Stage
	// Routes, when set, lists the configured routes for GET /admin/routes
	// (the JSON protocol's, as they are now). Nil: the list is empty.
	Routes func() []RouteInfo
	// AccessLog is where access log lines go (Config.AccessLog). Default
	// os.Stderr, beside the gateway's log.
	AccessLog io.Writer
	// Recent, when set, is the ring of recent warnings and errors the
	// admin console shows (GET /admin/api/errors): the caller wraps its
	// log handler with Recent.Handler. The gateway adds the closes of
	// connections that broke a rule. Nil: the console shows none.
	Recent *RecentLog
	// Reload, when set, is what POST /admin/reload (an operator endpoint)
	// calls: it reads the config again and applies it (Gateway.Reload for
	// the gateway's part). Its error, a refused config, is answered 400
	// with one line of it per problem. Nil: no such endpoint.
	Reload func(context.Context) (ReloadReport, error)
	// Handlers are more endpoints on the main port, by http.ServeMux
	// pattern ("GET /asyncapi.json"), served as they are: no operator
	// token is asked for. A pattern must not take a protocol's path.
	// Nil: none.
	Handlers map[string]http.Handler
	// Tracing sends OpenTelemetry spans over OTLP (TracingConfig). Its
	// zero value is off.
	Tracing TracingConfig
}

// Gateway accepts WebSocket connections and bridges them to NATS.
type Gateway struct {
	cfg     Config
	stages  []*stage // in the order they are tried; nil without stages
	nc      *nats.Conn
	live    atomic.Pointer[live] // what Reload may change
	reloads atomic.Uint64        // Reload calls, for Subscribe's second look
	log     *slog.Logger
	id      string
	metrics *metrics
	hub     *hub
	ctrl    *control
	poll    *wire.Poller     // nil: every connection has a reader goroutine
	deflate wire.DeflateMode // how permessage-deflate offers are answered
	devMode bool             // no authenticator: every client admitted
	adm     *admission
	js      *JetStream
	peers   *peers // liveness and last words (peers.go)
	surveys []*nats.Subscription
	reload  func(context.Context) (ReloadReport, error) // Options.Reload
	access  *accessLog                                  // nil: no access log
	tr      *tracer                                     // nil: tracing off
	routeFn func() []RouteInfo                          // Options.Routes
	extra   map[string]http.Handler                     // Options.Handlers
	protos  []Protocol
	byToken map[string]Protocol
	byPath  map[string]Protocol
	mux     *http.ServeMux
	srv     *http.Server

	// the admin console (console.go)
	recent   *RecentLog    // Options.Recent
	taps     atomic.Int64  // message taps open (consoletap.go)
	tapsQuit chan struct{} // closed at shutdown: taps end
	tapsOnce sync.Once

	draining atomic.Bool
	lameDuck atomic.Bool // shutting down: /readyz says 503, connections still served
	mu       sync.RWMutex
	sessions map[string]*Session
	wg       sync.WaitGroup // running sessions
	stop     chan struct{}
	bg       sync.WaitGroup // background goroutines
}

// New makes a gateway. It subscribes nothing until connections arrive.
func New(o Options) (*Gateway, error) {
	if o.NATS == nil {
		return nil, errors.New("bridge: Options.NATS is required")
	}
	if len(o.Protocols) == 0 {
		return nil, errors.New("bridge: no protocols registered")
	}
	g := &Gateway{
		cfg:      o.Config.withDefaults(),
		nc:       o.NATS,
		log:      o.Logger,
		id:       newID(6),
		metrics:  newMetrics(),
		byToken:  map[string]Protocol{},
		byPath:   map[string]Protocol{},
		sessions: map[string]*Session{},
		stop:     make(chan struct{}),
		reload:   o.Reload,
		routeFn:  o.Routes,
		recent:   o.Recent,
		tapsQuit: make(chan struct{}),
		extra:    o.Handlers,
	}
	if g.cfg.Admin.Console && g.cfg.Admin.TokenHash == "" {
		return nil, errConsoleToken
	}
	if o.StreamReplicas < 0 || o.StreamReplicas > MaxReplicas {
		return nil, fmt.Errorf("bridge: Options.StreamReplicas %d is not 0 to %d", o.StreamReplicas, MaxReplicas)
	}
	if g.log == nil {
		g.log = slog.Default()
	}
	mode, err := deflateMode(g.cfg.Compression)
	if err != nil {
		return nil, fmt.Errorf("bridge: %w", err)
	}
	g.deflate = mode
	if g.cfg.CompressionMinBytes < 0 {
		return nil, fmt.Errorf("bridge: compression_min_bytes: %d must not be negative", g.cfg.CompressionMinBytes)
	}
	g.adm = newAdmission(g.cfg.Limits)
	if errs := g.cfg.AccessLog.Validate(); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if g.cfg.AccessLog.Enabled() || stagesLog(o.Stages) {
		w := o.AccessLog
		if w == nil {
			w = os.Stderr
		}
		g.access = newAccessLog(g.cfg.AccessLog, w)
	}
	if len(o.Stages) > 0 {
		st, err := newStages(o.Stages, g.cfg.Limits, g.log)
		if err != nil {
			return nil, err
		}
		g.stages = st
	}
	js, err := newJetStream(g.nc, o.StreamReplicas, g.log)
	if err != nil {
		return nil, err
	}
	g.js = js
	a := o.Authenticator
	if a == nil {
		a = auth.None{}
	}
	_, g.devMode = a.(auth.None)
	g.live.Store(&live{auth: a, allowedOrigins: g.cfg.AllowedOrigins, skipOrigin: g.cfg.InsecureSkipOriginCheck, limits: g.cfg.Limits})
	for _, p := range o.Protocols {
		if err := g.register(p); err != nil {
			return nil, err
		}
		g.metrics.protocol(p.Name()) // its series exist, at zero, from the start
	}
	if g.tr, err = newTracer(o.Tracing, g.id, g.log); err != nil {
		return nil, fmt.Errorf("bridge: %w", err)
	}
	g.hub = newHub(g.nc, g.cfg.ReservedPrefix, g.log)
	if g.tr != nil && g.tr.deliveries {
		g.hub.tr = g.tr // before its dispatchers see any message
	}
	if o.HubNATS != nil {
		g.hub.nc, g.hub.local = o.HubNATS, true
	}
	if p, err := wire.NewPoller(g.log); err == nil {
		g.poll = p
	} else {
		g.log.Warn("no epoll: every connection gets a reader goroutine", "err", err)
	}
	g.ctrl = newControl(g)
	if err := g.answerSurveys(); err != nil {
		_ = g.tr.shutdown(context.Background()) // nothing was traced yet
		return nil, err
	}
	g.mux = g.routes()
	g.srv = &http.Server{
		Handler:           g.mux,
		ReadHeaderTimeout: g.cfg.ReadHeaderTimeout,
		ErrorLog:          slog.NewLogLogger(g.log.Handler(), slog.LevelDebug),
	}
	g.bg.Add(1)
	go g.sweep()
	g.peers = newPeers(g)
	if g.peers.on() {
		go g.peers.run()
	}
	return g, nil
}

func (g *Gateway) register(p Protocol) error {
	g.protos = append(g.protos, p)
	for _, t := range p.Subprotocols() {
		if _, dup := g.byToken[t]; dup {
			return fmt.Errorf("bridge: subprotocol %q registered twice", t)
		}
		g.byToken[t] = p
	}
	for _, path := range p.Paths() {
		if _, dup := g.byPath[path]; dup {
			return fmt.Errorf("bridge: path %q registered twice", path)
		}
		g.byPath[path] = p
	}
	return nil
}

// ID is this gateway process's id (in the Wsgate-Gateway header).
func (g *Gateway) ID() string { return g.id }

// Handler serves the WebSocket endpoint, the connection API, health and
// metrics.
func (g *Gateway) Handler() http.Handler { return g.mux }

// Metrics lets protocol adapters record their own events.
func (g *Gateway) Metrics() Metrics { return Metrics{g.metrics} }

// Serve accepts connections on ln until Shutdown. While the process is out
// of file descriptors, new connections are answered 503 and closed
// (fdListener); those already open are served on.
func (g *Gateway) Serve(ln net.Listener) error {
	err := g.srv.Serve(g.guard(ln))
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// ServeTLS is Serve with TLS, on the certificate and key in those files,
// through TLSListener (HTTP/1.1 only: WebSocket upgrades are HTTP/1.1).
func (g *Gateway) ServeTLS(ln net.Listener, certFile, keyFile string) error {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return fmt.Errorf("tls: %w", err)
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}, NextProtos: []string{"http/1.1"}}
	return g.Serve(TLSListener(ln, cfg))
}

// shutdownGrace is how long Shutdown waits, after its deadline, for
// connections whose sockets it has closed.
const shutdownGrace = 2 * time.Second

// guard wraps ln in an fdListener that counts its refusals.
func (g *Gateway) guard(ln net.Listener) net.Listener {
	refused := g.metrics.limited.WithLabelValues("none", "open_files")
	return newFDListener(ln, g.log, refused.Inc)
}

// Shutdown stops accepting, closes every connection with 1001 and a reason,
// waits for them to end (at most ctx), and stops the gateway's NATS
// subscriptions. The NATS connection itself is the caller's to drain.
func (g *Gateway) Shutdown(ctx context.Context) error {
	g.lameDuck.Store(true) // /readyz: 503
	if d := g.cfg.LameDuckDelay; d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
	g.draining.Store(true)
	g.endTaps()
	err := g.srv.Shutdown(ctx)
	g.closeAll(ctx, g.cfg.LameDuckWindow)
	done := make(chan struct{})
	go func() { g.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		for _, s := range g.snapshot() {
			if s.attached.Load() {
				s.closeSocket()
			}
		}
		// A handler may still be inside a call that ignores the closed
		// socket (a JetStream request to a NATS that has gone, bounded
		// by its own timeout): wait a little, then leave it, so that a
		// stop is bounded whatever NATS does.
		t := time.NewTimer(shutdownGrace)
		select {
		case <-done:
			t.Stop()
		case <-t.C:
			g.log.Warn("shutdown: connections still busy after shutdown_timeout; not waiting for them", "connections", g.Connections())
		}
	}
	g.peers.leave()
	close(g.stop)
	g.bg.Wait()
	g.ctrl.close()
	for _, sub := range g.surveys {
		_ = sub.Unsubscribe()
	}
	g.hub.close()
	if g.poll != nil {
		g.poll.Close()
	}
	// The spans not yet sent go out within what is left of ctx, or
	// shutdownGrace when a slow stop has used it up.
	tctx := ctx
	if ctx.Err() != nil {
		var cancel context.CancelFunc
		tctx, cancel = context.WithTimeout(context.Background(), shutdownGrace)
		defer cancel()
	}
	if terr := g.tr.shutdown(tctx); terr != nil {
		g.log.Warn("tracing: spans not flushed", "err", terr)
	}
	return err
}

// closeAll closes every connection with 1001, spread evenly over window
// (all at once when it is 0), or at once when ctx ends. The i-th closes at
// i/(n-1) of the window from the start, not a pause after the one before:
// pauses of a millisecond or less would each overrun by the timer's
// granularity and the window stretch by half.
func (g *Gateway) closeAll(ctx context.Context, window time.Duration) {
	ss := g.snapshot()
	start := time.Now()
	for i, s := range ss {
		if i > 0 && window > 0 && ctx.Err() == nil {
			at := start.Add(window * time.Duration(i) / time.Duration(len(ss)-1))
			if d := time.Until(at); d > 0 {
				t := time.NewTimer(d)
				select {
				case <-t.C:
				case <-ctx.Done():
					t.Stop()
				}
			}
		}
		s.closeBy(CloseInfo{Code: CloseGoingAway, Reason: "server shutting down", By: "server"})
	}
}

func (g *Gateway) registerSession(s *Session) {
	g.mu.Lock()
	g.sessions[s.id] = s
	g.mu.Unlock()
}

func (g *Gateway) unregister(s *Session) {
	g.mu.Lock()
	delete(g.sessions, s.id)
	g.mu.Unlock()
}

func (g *Gateway) session(id string) *Session {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.sessions[id]
}

func (g *Gateway) snapshot() []*Session {
	g.mu.RLock()
	defer g.mu.RUnlock()
	out := make([]*Session, 0, len(g.sessions))
	for _, s := range g.sessions {
		out = append(out, s)
	}
	return out
}

// Connections is the number of open connections.
func (g *Gateway) Connections() int {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return len(g.sessions)
}

// sweep is the gateway's one timer for every connection: pings, read and
// idle timeouts, maximum duration. It replaces a timer per connection.
func (g *Gateway) sweep() {
	defer g.bg.Done()
	tick := time.NewTicker(g.sweepInterval())
	defer tick.Stop()
	lastPrune := time.Now()
	for {
		select {
		case <-g.stop:
			return
		case now := <-tick.C:
			g.sweepOnce(now)
			if now.Sub(lastPrune) > 10*time.Second {
				g.adm.prune(now)
				lastPrune = now
			}
		}
	}
}

func (g *Gateway) sweepInterval() time.Duration {
	d := time.Second
	for _, t := range []time.Duration{g.cfg.PingInterval, g.cfg.ReadTimeout, g.cfg.IdleTimeout, g.cfg.MaxConnectionDuration} {
		if t > 0 && t/4 < d {
			d = max(t/4, 10*time.Millisecond)
		}
	}
	return d
}

func (g *Gateway) sweepOnce(now time.Time) {
	n := now.UnixNano()
	c := &g.cfg
	for _, s := range g.snapshot() {
		if !s.attached.Load() {
			continue // still being upgraded
		}
		switch {
		case c.MaxConnectionDuration > 0 && now.Sub(s.started) > c.MaxConnectionDuration:
			s.Close(CloseGoingAway, "maximum connection duration reached")
		case c.ReadTimeout > 0 && time.Duration(n-s.lastRead.Load()) > c.ReadTimeout:
			s.Close(CloseGoingAway, "read timeout: no frames from client")
		case c.IdleTimeout > 0 && time.Duration(n-s.lastData.Load()) > c.IdleTimeout:
			s.Close(CloseGoingAway, "idle timeout")
		case c.OnTokenExpiry != "ignore" && s.expired(now):
			s.Close(ClosePolicy, "credentials expired")
		case c.PingInterval > 0 && time.Duration(n-s.lastRead.Load()) >= c.PingInterval &&
			time.Duration(n-s.lastPing.Load()) >= c.PingInterval:
			// A client that only listens sends nothing but pongs: it is
			// pinged however busy its stream is, or ReadTimeout would close
			// it. One ping per interval, even if the queue is busy.
			s.lastPing.Store(n)
			_ = s.enqueue(wire.PingFrame)
		}
	}
}

// newID returns n random bytes, base64url: URL-safe and a valid NATS token.
func newID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
