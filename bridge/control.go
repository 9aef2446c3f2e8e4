package bridge

import (
	"encoding/json"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// control serves the reserved per-connection subjects
// <prefix>.conn.<id>.send|close|info for workers, whichever gateway process
// holds the connection. Each session has one NATS subscription for them,
// feeding one shared channel (no goroutine per connection); a connection that
// is gone has no subscription, so a request to it fails at once with "no
// responders" — which the @connections API answers with 410.
//
// A connection is reachable from the moment it is authenticated, before
// $connect runs: a worker may push to it in reaction to $connect, and what
// it pushes is delivered right after the upgrade. When a connection ends, its
// subscription lingers briefly, answering "gone", so a request routed just
// before the end does not wait for a timeout.
type control struct {
	g    *Gateway
	ch   chan *nats.Msg
	quit chan struct{}
	done chan struct{}

	mu      sync.Mutex
	linger  map[*nats.Subscription]*time.Timer
	stopped bool
}

// lingerFor is how long a closed connection's control subscription stays.
const lingerFor = 2 * time.Second

// maxEarly bounds what a worker may push before the upgrade completes.
const maxEarly = 64

func newControl(g *Gateway) *control {
	c := &control{g: g, ch: make(chan *nats.Msg, hubChanLen), quit: make(chan struct{}),
		done: make(chan struct{}), linger: map[*nats.Subscription]*time.Timer{}}
	go c.run()
	return c
}

func (c *control) attach(s *Session) error {
	sub, err := c.g.nc.ChanSubscribe(c.g.controlSubject(s.id, "*"), c.ch)
	if err != nil {
		return err
	}
	s.ctrl = sub
	return nil
}

// release keeps a finished connection's subscription for lingerFor.
func (c *control) release(sub *nats.Subscription) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		_ = sub.Unsubscribe()
		return
	}
	c.linger[sub] = time.AfterFunc(lingerFor, func() {
		c.mu.Lock()
		delete(c.linger, sub)
		c.mu.Unlock()
		_ = sub.Unsubscribe()
	})
}

// close drops every lingering subscription and stops the dispatcher. The
// shared channel is not closed: nats.go never blocks on it, and a message
// in flight must not find it closed.
func (c *control) close() {
	c.mu.Lock()
	c.stopped = true
	for sub, t := range c.linger {
		t.Stop()
		_ = sub.Unsubscribe()
	}
	c.linger = nil
	c.mu.Unlock()
	close(c.quit)
	<-c.done
}

func (c *control) run() {
	defer close(c.done)
	for {
		select {
		case m := <-c.ch:
			c.handle(m)
		case <-c.quit:
			return
		}
	}
}

// closeRequest is the optional body of a close request.
type closeRequest struct {
	Code   int    `json:"code"`
	Reason string `json:"reason"`
}

func (c *control) handle(m *nats.Msg) {
	// <prefix>.conn.<id>.<verb>
	rest := strings.TrimPrefix(m.Subject, c.g.cfg.ReservedPrefix+".conn.")
	id, verb, ok := strings.Cut(rest, ".")
	if !ok {
		return
	}
	s := c.g.session(id)
	if s == nil || s.isClosed() {
		// The connection ended after this request was routed to us.
		respond(m, goneReply)
		return
	}
	if c.early(s, verb, m) {
		return
	}
	switch verb {
	case "send":
		s.handler.Push(&Message{Subject: m.Subject, Header: Header(m.Header), Data: m.Data})
		respond(m, []byte(`{"ok":true}`))
	case "close":
		var req closeRequest
		if len(m.Data) > 0 {
			if err := json.Unmarshal(m.Data, &req); err != nil {
				respond(m, []byte(`{"error":"close body must be JSON {\"code\":4000,\"reason\":\"...\"}"}`))
				return
			}
		}
		if req.Code == 0 {
			req.Code = CloseNormal
		}
		if !validCloseCode(req.Code) {
			respond(m, []byte(`{"error":"close code must be 1000 or 3000-4999"}`))
			return
		}
		if req.Reason == "" {
			req.Reason = "closed by worker"
		}
		s.closeBy(CloseInfo{Code: req.Code, Reason: req.Reason, By: "worker"})
		respond(m, []byte(`{"ok":true}`))
	case "info":
		b, _ := json.Marshal(s.info())
		respond(m, b)
	default:
		c.other(s, verb, m)
	}
}

// other hands a verb of its own to a live connection's Controller; a
// request to a connection without one is answered "unknown verb".
func (c *control) other(s *Session, verb string, m *nats.Msg) {
	s.earlyMu.Lock()
	h, live := s.handler, s.live
	s.earlyMu.Unlock()
	ctl, ok := h.(Controller)
	if !ok {
		respond(m, []byte(`{"error":"unknown verb"}`))
		return
	}
	if !live {
		respond(m, []byte(`{"error":"the connection is not up yet"}`))
		return
	}
	if !ctl.Control(verb, &Message{Subject: m.Subject, Reply: m.Reply, Header: Header(m.Header), Data: m.Data}) {
		respond(m, []byte(`{"error":"unknown verb"}`))
	}
}

// goneReply answers a control request for a connection that has just
// closed; a request to one long gone gets "no responders" instead.
var goneReply = []byte(`{"error":"gone"}`)

// early handles a request for a connection still being upgraded: pushes
// and a close are kept for attach, info is answered. It reports whether it
// handled m.
func (c *control) early(s *Session, verb string, m *nats.Msg) bool {
	s.earlyMu.Lock()
	defer s.earlyMu.Unlock()
	if s.live {
		return false
	}
	switch verb {
	case "send":
		if len(s.early) >= maxEarly {
			respond(m, []byte(`{"error":"too many messages before the connection is up"}`))
			return true
		}
		s.early = append(s.early, &Message{Subject: m.Subject, Header: Header(m.Header), Data: m.Data})
		respond(m, []byte(`{"ok":true}`))
		return true
	case "close":
		return false // closeBy records the cause; attach sends the close
	}
	return false
}

// goLive delivers what workers pushed during the upgrade, in order, and
// from then on pushes go straight to the handler.
func (s *Session) goLive() {
	s.earlyMu.Lock()
	defer s.earlyMu.Unlock()
	s.live = true
	s.attached.Store(true)
	for _, m := range s.early {
		s.handler.Push(m)
	}
	s.early = nil
	if s.closePending {
		s.sendClose(s.cause)
	}
}

func respond(m *nats.Msg, data []byte) {
	if m.Reply != "" {
		_ = m.Respond(data)
	}
}

// validCloseCode accepts the codes an application may send (RFC 6455
// section 7.4.2): 1000 and the 3000-4999 range.
func validCloseCode(code int) bool {
	return code == CloseNormal || code >= 3000 && code <= 4999
}

// Identity is the client's network identity, as the managed gateway's
// requestContext.identity has it.
type Identity struct {
	SourceIP  string `json:"sourceIp"`
	UserAgent string `json:"userAgent,omitempty"`
}

// ConnInfo describes a connection: the body of an info reply, GET
// /@connections/{id} and the lifecycle events.
type ConnInfo struct {
	ConnectionID  string            `json:"connectionId"`
	Protocol      string            `json:"protocol"`
	Subprotocol   string            `json:"subprotocol,omitempty"`
	ConnectedAt   time.Time         `json:"connectedAt"`
	LastActiveAt  time.Time         `json:"lastActiveAt"`
	Identity      Identity          `json:"identity"`
	Principal     string            `json:"principal,omitempty"`
	Context       map[string]string `json:"context,omitempty"`
	Gateway       string            `json:"gateway"`
	Stage         string            `json:"stage,omitempty"` // on a gateway with stages
	Subscriptions int               `json:"subscriptions"`
	MessagesIn    uint64            `json:"messagesIn"`
	MessagesOut   uint64            `json:"messagesOut"`
	// Set in disconnect events only.
	CloseCode   int    `json:"closeCode,omitempty"`
	CloseReason string `json:"closeReason,omitempty"`
	ClosedBy    string `json:"closedBy,omitempty"`
}

func (s *Session) info() ConnInfo {
	stage, _ := s.Stage()
	return ConnInfo{
		Stage:         stage,
		ConnectionID:  s.id,
		Protocol:      s.proto.Name(),
		Subprotocol:   s.subproto,
		ConnectedAt:   s.started.UTC(),
		LastActiveAt:  time.Unix(0, s.lastData.Load()).UTC(),
		Identity:      Identity{SourceIP: s.sourceIP, UserAgent: s.userAgent},
		Principal:     s.Principal().ID,
		Context:       s.context,
		Gateway:       s.gw.id,
		Subscriptions: s.Subscriptions(),
		MessagesIn:    s.msgsIn.Load(),
		MessagesOut:   s.msgsOut.Load(),
	}
}

// Info describes the connection now.
func (s *Session) Info() ConnInfo { return s.info() }

func (g *Gateway) publishConnect(s *Session) {
	body, _ := json.Marshal(s.info())
	g.publishEvent(s, "connect", EventConnect, body, nil)
}

func (g *Gateway) publishDisconnect(s *Session, c CloseInfo) {
	info := s.info()
	info.CloseCode, info.CloseReason, info.ClosedBy = c.Code, c.Reason, c.By
	body, _ := json.Marshal(info)
	g.publishEvent(s, "disconnect", EventDisconnect, body, func(h Header) {
		h.Set(HeaderCloseCode, itoa(c.Code))
		h.Set(HeaderCloseReason, strings.Map(noCRLF, c.Reason))
	})
}

func (g *Gateway) publishEvent(s *Session, name, event string, body []byte, edit func(Header)) {
	h := s.Headers(event, "")
	if edit != nil {
		edit(h)
	}
	err := g.nc.PublishMsg(&nats.Msg{Subject: g.cfg.ReservedPrefix + ".events." + name, Header: nats.Header(h), Data: body})
	if err != nil {
		g.log.Warn("event not published", "event", name, "conn", s.id, "err", err)
	}
}
