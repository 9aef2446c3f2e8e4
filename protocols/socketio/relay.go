package socketio

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/wsgate/wsgate/bridge"
)

// Polling across gateways. A polling request whose sid this gateway does
// not hold (a balancer without sticky sessions sent it here) is relayed,
// over NATS, to the gateway that holds the session: a GET or a POST
// becomes a request on the connection's control subject (verb poll or
// post), which that gateway serves as if the request had reached it, and
// whose answer (status, content type, body) this gateway writes back. A
// relayed GET whose client leaves is called off (verb unpoll), so that the
// client's next GET does not find one still open. The upgrade to a
// WebSocket is not relayed: it must reach the session's gateway (a
// WebSocket cannot be spliced across gateways), and one that does not is
// refused as for an unknown session, on which Engine.IO clients go on
// polling.

// Relay headers: the client's address (for check_session_ip) on a relayed
// request, the HTTP status and content type on its answer.
const (
	hdrRelayIP     = "Eio-Client-Ip"
	hdrRelayStatus = "Eio-Status"
	hdrRelayType   = "Eio-Content-Type"
)

// Control verbs of a relayed polling request.
const (
	verbPoll   = "poll"
	verbPost   = "post"
	verbUnpoll = "unpoll"
)

// relayWait bounds how long a relayed request waits for its answer beyond
// what the session's gateway may take (a GET holds up to a ping interval
// and timeout).
const relayWait = 5 * time.Second

// relay serves a polling request for a session this gateway does not hold.
func (p *Protocol) relay(w http.ResponseWriter, r *http.Request, o *bridge.Opener, sid string) {
	m := o.Metrics()
	var verb string
	var body []byte
	wait := relayWait
	switch r.Method {
	case http.MethodGet:
		verb = verbPoll
		wait += p.cfg.PingInterval + p.cfg.PingTimeout
	case http.MethodPost:
		verb = verbPost
		// One byte over max_payload is enough for the session's gateway
		// to refuse the body as too large.
		limit := min(p.cfg.MaxPayload, o.MaxRelay()-1)
		var err error
		body, err = io.ReadAll(io.LimitReader(r.Body, int64(limit)+1))
		if err != nil {
			return // the client left
		}
		if len(body) > limit && limit < p.cfg.MaxPayload {
			m.ProtocolError(Name, "too_large")
			http.Error(w, "payload too large to relay to the session's gateway", http.StatusRequestEntityTooLarge)
			return
		}
	default:
		p.refuse(w, m, eioErrBadRequest)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), wait)
	defer cancel()
	hdr := bridge.Header{hdrRelayIP: {remoteIP(r)}}
	ans, err := o.Relay(ctx, sid, verb, hdr, body)
	switch {
	case errors.Is(err, bridge.ErrNotHere):
		p.refuse(w, m, eioErrSessionUnknown)
		return
	case err != nil && r.Context().Err() != nil:
		if verb == verbPoll {
			_ = o.Notify(sid, verbUnpoll, nil, nil) // its client left: call the GET off
		}
		return
	case err != nil:
		http.Error(w, "the session's gateway did not answer", http.StatusBadGateway)
		return
	}
	status, _ := strconv.Atoi(ans.Header.Get(hdrRelayStatus))
	if status < 100 || status > 599 {
		// A session that ended as the request came: the control subject
		// lingers, answering without a status.
		p.refuse(w, m, eioErrSessionUnknown)
		return
	}
	if ct := ans.Header.Get(hdrRelayType); ct != "" {
		w.Header().Set("Content-Type", ct)
	}
	w.WriteHeader(status)
	_, _ = w.Write(ans.Data)
}

// relayed serves, on the session's gateway, a polling request that another
// gateway relayed (verbs poll, post and unpoll).
func (c *conn) relayed(verb string, m *bridge.Message) {
	pc := c.p.polls.get(c.s.ID())
	if verb == verbUnpoll {
		if pc != nil {
			pc.unpoll()
		}
		return
	}
	rw := &relayWriter{header: http.Header{}}
	ip := m.Header.Get(hdrRelayIP)
	if pc == nil || c.p.cfg.CheckSessionIP && ip != pc.ip {
		c.p.refuse(rw, c.s.Metrics(), eioErrSessionUnknown)
		c.answerRelay(m, rw)
		return
	}
	method := http.MethodGet
	if verb == verbPost {
		method = http.MethodPost
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r, err := http.NewRequestWithContext(ctx, method, "/", bytes.NewReader(m.Data))
	if err != nil {
		return
	}
	r.RemoteAddr = net.JoinHostPort(ip, "0")
	if verb == verbPoll {
		pc.setUnpoll(cancel)
		pc.poll(rw, r, min(maxPollResponse, c.s.MaxRelay()/2))
		pc.setUnpoll(nil)
	} else {
		pc.post(rw, r)
	}
	if ctx.Err() != nil {
		return // called off: its client left
	}
	c.answerRelay(m, rw)
}

// answerRelay sends a relayed request's answer back to the gateway that
// relayed it; an answer over NATS's max payload (a GET that read a message
// near it) becomes a 500, on which the client reconnects.
func (c *conn) answerRelay(m *bridge.Message, rw *relayWriter) {
	hdr := bridge.Header{hdrRelayStatus: {strconv.Itoa(rw.status())}, hdrRelayType: {rw.header.Get("Content-Type")}}
	if err := c.s.Respond(m, hdr, rw.body.Bytes()); err != nil {
		c.s.Logger().Warn("socket.io: relayed polling answer not sent", "err", err)
		_ = c.s.Respond(m, bridge.Header{hdrRelayStatus: {"500"}}, nil)
	}
}

// relayWriter is the http.ResponseWriter of a relayed request: what the
// polling transport writes is kept for the answer.
type relayWriter struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (w *relayWriter) Header() http.Header { return w.header }

func (w *relayWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}

func (w *relayWriter) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.body.Write(b)
}

func (w *relayWriter) status() int {
	if w.code == 0 {
		return http.StatusOK
	}
	return w.code
}

// setUnpoll records how to call off the relayed GET in progress (nil: none).
func (pc *pollConn) setUnpoll(f context.CancelFunc) {
	pc.mu.Lock()
	pc.relayStop = f
	pc.mu.Unlock()
}

// unpoll calls off the relayed GET in progress, if there is one.
func (pc *pollConn) unpoll() {
	pc.mu.Lock()
	f := pc.relayStop
	pc.mu.Unlock()
	if f != nil {
		f()
	}
}
