package bridge

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/time/rate"

	"github.com/wsgate/wsgate/auth"
	"github.com/wsgate/wsgate/bridge/internal/wire"
)

// upgrader does the RFC 6455 handshake, and only that: the bridge reads and
// writes frames itself, so gorilla's buffers are small and dropped with its
// Conn right after the upgrade.
var upgrader = websocket.Upgrader{
	ReadBufferSize:  512,
	WriteBufferPool: noWriteBuffers{},
	// Origins are checked in serveWS, before any work is done.
	CheckOrigin: func(*http.Request) bool { return true },
}

// noWriteBuffers keeps gorilla from allocating a write buffer it would never
// use.
type noWriteBuffers struct{}

func (noWriteBuffers) Get() any { return nil }
func (noWriteBuffers) Put(any)  {}

// serveWS accepts one WebSocket connection: it picks the protocol, checks the
// origin, authenticates, lets the protocol admit it, upgrades, and starts the
// session.
func (g *Gateway) serveWS(w http.ResponseWriter, r *http.Request) {
	// The stage first: a protocol's HTTP handler (Socket.IO's polling)
	// sees the path without the stage's prefix, as the upgrades do.
	st, sr := g.stageOf(r)
	if h, p := g.httpHandler(sr); h != nil && (st != nil || g.stages == nil) {
		h.ServeHTTP(w, sr, &Opener{g: g, p: p, st: st})
		return
	}
	if !websocket.IsWebSocketUpgrade(r) {
		g.serveNonWS(w, r)
		return
	}
	if st == nil && g.stages != nil {
		g.metrics.connects.WithLabelValues("none", "no_stage").Inc()
		http.Error(w, "no stage at this host and path; the stages are at "+g.stageList(), http.StatusNotFound)
		return
	}
	g.serveUpgrade(w, sr, st)
}

// serveUpgrade upgrades r, a request of stage st (nil: none), to a
// session of the protocol it picks.
func (g *Gateway) serveUpgrade(w http.ResponseWriter, r *http.Request, st *stage) {
	if !websocket.IsWebSocketUpgrade(r) {
		g.serveNonWS(w, r)
		return
	}
	p, token, offered := g.pick(r)
	if p == nil {
		g.refuseProtocol(w, r, offered)
		return
	}
	answer, z := g.negotiateDeflate(r.Header.Values("Sec-Websocket-Extensions"))
	g.serveSession(w, r, p, token, st, z, func(*Session) (net.Conn, bool) {
		var hdr http.Header
		if token != "" || answer != "" {
			hdr = http.Header{}
		}
		if token != "" {
			hdr["Sec-Websocket-Protocol"] = []string{token}
		}
		if answer != "" {
			hdr[extensionsHeader] = []string{answer}
		}
		conn, err := upgrader.Upgrade(w, r, hdr)
		if err != nil {
			return nil, false // gorilla has answered the client with an HTTP error
		}
		return conn.NetConn(), true
	})
}

// serveSession admits a connection of protocol p and runs its session over
// the connection connect makes (a WebSocket upgrade, or a virtual
// connection): it checks the origin, authenticates, lets the protocol
// admit it, and starts the session. A refusal is answered on w, and nil
// returned. z, when not nil, is the permessage-deflate agreement that
// connect's handshake answers.
func (g *Gateway) serveSession(w http.ResponseWriter, r *http.Request, p Protocol, token string, st *stage, z *wire.Deflate, connect func(*Session) (net.Conn, bool)) *Session {
	if g.tr == nil {
		return g.admitSession(w, r, p, token, st, z, connect)
	}
	r, sp := g.tr.startUpgrade(r, p.Name())
	s := g.admitSession(w, r, p, token, st, z, connect)
	endUpgrade(sp, s)
	return s
}

// admitSession is serveSession without the upgrade's span.
func (g *Gateway) admitSession(w http.ResponseWriter, r *http.Request, p Protocol, token string, st *stage, z *wire.Deflate, connect func(*Session) (net.Conn, bool)) *Session {
	pm := g.metrics.connects
	if !g.originAllowed(r) {
		pm.WithLabelValues(p.Name(), "forbidden_origin").Inc()
		http.Error(w, "origin not allowed", http.StatusForbidden)
		return nil
	}
	creds := g.credentialsFrom(r, p.Name())
	s := g.newSession(p, token, r, st)
	if z != nil {
		s.setDeflate(z) // before anyone can send to it
	}
	if status, limit := g.adm.admit(s.sourceIP); status != 0 {
		g.metrics.limited.WithLabelValues(p.Name(), limit).Inc()
		pm.WithLabelValues(p.Name(), "limited").Inc()
		http.Error(w, "connection refused: "+limit+" exceeded", status)
		return nil
	}
	admitted := false
	defer func() {
		if !admitted {
			g.adm.release(s.sourceIP)
		}
	}()
	principal, err := g.authenticator().Authenticate(r.Context(), creds)
	if ib, ok := p.(InBandAuthenticator); ok && ib.AuthenticatesInBand() {
		s.creds = creds // merged with what the protocol's CONNECT carries
		if errors.Is(err, auth.ErrNoCredentials) {
			principal, err = unauthenticated, nil
		}
	}
	if err != nil {
		pm.WithLabelValues(p.Name(), "unauthorized").Inc()
		g.metrics.denied.WithLabelValues(p.Name(), "connect").Inc()
		g.log.Info("connection refused", "protocol", p.Name(), "remote", s.sourceIP, "err", err)
		// RFC 9110 section 11.6.1: a 401 names the scheme that would do.
		w.Header().Set("WWW-Authenticate", `Bearer realm="wsgate"`)
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return nil
	}
	s.setPrincipal(principal)

	// From here the connection is reachable on its control subjects, so a
	// worker may push to it in reaction to $connect.
	g.registerSession(s)
	if err := g.ctrl.attach(s); err != nil {
		g.unregister(s)
		g.log.Error("control subscription failed", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return nil
	}
	defer func() {
		if !admitted {
			g.unregister(s)
			_ = s.ctrl.Unsubscribe()
		}
	}()
	if a, ok := p.(Admitter); ok {
		ctx, err := a.Admit(r.Context(), &ConnectRequest{ConnID: s.id, Protocol: p.Name(), Request: r, Session: s})
		if err != nil {
			var ae *AdmitError
			status, body := http.StatusInternalServerError, "connect integration failed"
			if errors.As(err, &ae) {
				status, body = ae.Status, ae.Body
			}
			pm.WithLabelValues(p.Name(), "refused").Inc()
			g.log.Info("connection refused", "protocol", p.Name(), "remote", s.sourceIP, "status", status, "err", err)
			if body == "" {
				body = http.StatusText(status)
			}
			http.Error(w, body, status)
			return nil
		}
		// Each context key also becomes a Wsgate-Context-<key> header.
		s.context = mergeContext(s.context, ctx)
	}

	g.mu.Lock()
	if g.draining.Load() {
		g.mu.Unlock()
		http.Error(w, "server shutting down", http.StatusServiceUnavailable)
		return nil
	}
	g.wg.Add(1) // done when the session finishes
	g.mu.Unlock()

	conn, ok := connect(s)
	if !ok {
		g.wg.Done()
		pm.WithLabelValues(p.Name(), "error").Inc()
		return nil
	}
	admitted = true // released when the session finishes
	s.attach(conn)
	pm.WithLabelValues(p.Name(), "ok").Inc()
	return s
}

// pick chooses the protocol: the first offered subprotocol token that a
// registered protocol answers to, else, when the client offers no token at
// all, the protocol of the path. A token carrying credentials is never
// chosen, so never echoed. offered says whether the client offered any
// subprotocol: a client that offers some must get one of them back, or
// browsers and most clients fail the handshake without saying why, so an
// offer of only unknown tokens is refused rather than answered by the path.
func (g *Gateway) pick(r *http.Request) (p Protocol, token string, offered bool) {
	prefix := g.cfg.Credentials.SubprotocolPrefix
	for _, t := range websocket.Subprotocols(r) {
		offered = true
		if prefix != "" && prefix != "-" && strings.HasPrefix(t, prefix) {
			continue
		}
		if p := g.byToken[t]; p != nil {
			return p, t, true
		}
	}
	if offered {
		return nil, "", true
	}
	return g.byPath[r.URL.Path], "", false
}

// refuseProtocol answers an upgrade that picked no protocol: 400 with the
// tokens this gateway speaks when the client offered only others, 404 with
// the paths when it offered none on a path that selects nothing.
func (g *Gateway) refuseProtocol(w http.ResponseWriter, r *http.Request, offered bool) {
	tokens := slices.Sorted(maps.Keys(g.byToken))
	if offered {
		// A credential token is named by its prefix only, never echoed.
		var got []string
		prefix := g.cfg.Credentials.SubprotocolPrefix
		for _, t := range websocket.Subprotocols(r) {
			if prefix != "" && prefix != "-" && strings.HasPrefix(t, prefix) {
				t = prefix + "…"
			}
			got = append(got, t)
		}
		g.metrics.connects.WithLabelValues("none", "unknown_subprotocol").Inc()
		http.Error(w, fmt.Sprintf("none of the offered WebSocket subprotocols (%s) is spoken here; offer one of: %s",
			strings.Join(got, ", "), strings.Join(tokens, ", ")), http.StatusBadRequest)
		return
	}
	http.Error(w, fmt.Sprintf("no WebSocket protocol at this path; use one of %s, or offer a subprotocol: %s",
		strings.Join(slices.Sorted(maps.Keys(g.byPath)), ", "), strings.Join(tokens, ", ")), http.StatusNotFound)
}

func (g *Gateway) serveNonWS(w http.ResponseWriter, r *http.Request) {
	if g.cfg.StaticDir != "" && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		http.FileServer(http.Dir(g.cfg.StaticDir)).ServeHTTP(w, r)
		return
	}
	if _, ok := g.byPath[r.URL.Path]; ok {
		w.Header().Set("Upgrade", "websocket")
		http.Error(w, "this is a WebSocket endpoint: connect with a WebSocket client", http.StatusUpgradeRequired)
		return
	}
	http.NotFound(w, r)
}

// originAllowed protects browsers from cross-site WebSocket hijacking: a
// request without Origin (not a browser) or from the gateway's own host
// passes, as does any origin listed in AllowedOrigins.
func (g *Gateway) originAllowed(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	l := g.live.Load()
	if origin == "" || l.skipOrigin {
		return true
	}
	if g.devMode && len(l.allowedOrigins) == 0 {
		return true // dev mode: a page on another local port may connect
	}
	for _, o := range l.allowedOrigins {
		if strings.EqualFold(o, origin) {
			return true
		}
	}
	u, err := url.Parse(origin)
	return err == nil && strings.EqualFold(u.Host, r.Host)
}

func (g *Gateway) newSession(p Protocol, token string, r *http.Request, st *stage) *Session {
	ip, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		ip = r.RemoteAddr
	}
	now := time.Now()
	s := &Session{
		gw:        g,
		id:        newID(12),
		proto:     p,
		subproto:  token,
		sourceIP:  ip,
		userAgent: r.UserAgent(),
		started:   now,
		done:      make(chan struct{}),
		m:         g.metrics.protocol(p.Name()),
		stage:     st,
	}
	if l := s.limits(); l.MessageRate > 0 {
		s.limiter = rate.NewLimiter(rate.Limit(l.MessageRate), burst(l.MessageBurst, l.MessageRate))
	}
	if g.access != nil {
		s.requestID = requestIDFrom(r.Header.Get("X-Request-Id"))
	}
	s.principal.Store(auth.Anonymous)
	s.lastRead.Store(now.UnixNano())
	s.lastData.Store(now.UnixNano())
	s.lastWrite.Store(now.UnixNano())
	return s
}

func validHeaderKey(k string) bool {
	if k == "" || len(k) > 64 {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func noCRLF(r rune) rune {
	if r == '\r' || r == '\n' {
		return ' '
	}
	return r
}

// attach binds the upgraded connection and makes the session live:
// registered, reachable on its control subjects, announced, read.
func (s *Session) attach(conn net.Conn) {
	g := s.gw
	// gorilla did the handshake; from here on the bridge reads and writes
	// frames itself (wsread.go, writer.go), and gorilla's Conn, with its
	// buffers, is dropped.
	s.netConn = conn
	// The reader's state is set before the handler exists: a handler may
	// hand the session to a goroutine of its own (a heartbeat walker)
	// whose Send reads it.
	s.initReader()
	s.handler = s.proto.Open(s)
	s.m.connections.Inc()
	s.goLive()
	if g.draining.Load() {
		s.Close(CloseGoingAway, "server shutting down")
	}
	g.publishConnect(s)
	s.remember()
	s.startReading()
}

// credentialsFrom gathers what the upgrade request carries for the
// authenticators: a bearer token from the Authorization header, the
// configured query parameter, cookie or Sec-WebSocket-Protocol token (in
// that order); Basic credentials; a verified client certificate.
func (g *Gateway) credentialsFrom(r *http.Request, protocol string) *auth.Credentials {
	ip, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		ip = r.RemoteAddr
	}
	c := &auth.Credentials{
		Protocol:  protocol,
		Headers:   r.Header,
		Query:     r.URL.Query(),
		SourceIP:  ip,
		UserAgent: r.UserAgent(),
	}
	src := g.cfg.Credentials
	h := r.Header.Get("Authorization")
	switch {
	case len(h) > 7 && strings.EqualFold(h[:7], "bearer "):
		c.Token = strings.TrimSpace(h[7:])
	case len(h) > 6 && strings.EqualFold(h[:6], "basic "):
		c.Username, c.Password, _ = r.BasicAuth()
	}
	if c.Token == "" && src.QueryParam != "-" {
		c.Token = url.Values(c.Query).Get(src.QueryParam)
	}
	if cs := r.Cookies(); len(cs) > 0 {
		c.Cookies = make(map[string]string, len(cs))
		for _, ck := range cs {
			c.Cookies[ck.Name] = ck.Value
		}
		if c.Token == "" && src.Cookie != "" {
			c.Token = c.Cookies[src.Cookie]
		}
	}
	if c.Token == "" && src.SubprotocolPrefix != "" && src.SubprotocolPrefix != "-" {
		for _, t := range websocket.Subprotocols(r) {
			if tok, ok := strings.CutPrefix(t, src.SubprotocolPrefix); ok && tok != "" {
				c.Token = tok
				break
			}
		}
	}
	if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 && len(r.TLS.VerifiedChains[0]) > 0 {
		c.ClientCert = r.TLS.VerifiedChains[0][0]
	}
	return c
}
