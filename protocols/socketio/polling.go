package socketio

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/wsgate/wsgate/bridge"
)

// The HTTP long-polling transport [Engine.IO v4 "HTTP long-polling"]: a
// GET waits for the server's packets, a POST carries the client's, both
// batched with the record separator; binary packets are "b" and base64.
//
// A polling session is a bridge session over a virtual connection
// (bridge.Opener.Virtual): one end of a net.Pipe is the session's
// "socket", which the bridge reads and writes as any WebSocket; the other
// is pumped here. A GET reads the frames the bridge writes; a POST writes
// the client's packets as frames. So the session has the one outbound
// queue of every session, bounded in bytes, and a client that stops
// polling fills it and is disconnected as a slow consumer: nothing is kept
// here but what one GET is reading. The upgrade to a WebSocket moves the
// session onto the new socket, which is then spliced to the pipe.
//
// A polling session lives in one gateway process; a request for it that
// reaches another gateway is relayed there over NATS (relay.go).

// recordSeparator batches packets in a polling payload.
const recordSeparator = 0x1e

// maxPollResponse bounds what one GET carries; the rest waits for the next.
const maxPollResponse = 1 << 20

// bufferSize is the pump's read buffer per polling session.
const bufferSize = 4096

// pollConn is the polling end of one session's virtual connection.
type pollConn struct {
	p    *Protocol
	s    *bridge.Session
	conn net.Conn // the client end of the pipe
	br   *bufio.Reader
	ip   string // the handshake's client address

	wmu    sync.Mutex // frames written into the pipe (POSTs, pongs, the spliced WebSocket)
	readMu sync.Mutex // held by the one GET reading the pipe, and for good by the upgrade

	mu        sync.Mutex
	getting   bool               // a GET is open
	posting   bool               // a POST is open
	waiting   bool               // the GET waits for the first bytes of a frame
	upgrading bool               // the probe is answered: GETs answer noop at once
	upgraded  bool               // the WebSocket has the session
	relayStop context.CancelFunc // calls off a GET relayed from another gateway

	drainOnce sync.Once
}

// pollTable is the protocol's polling sessions by sid.
type pollTable struct {
	mu sync.Mutex
	m  map[string]*pollConn
}

func (t *pollTable) get(sid string) *pollConn {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.m[sid]
}

func (t *pollTable) put(pc *pollConn) {
	t.mu.Lock()
	if t.m == nil {
		t.m = map[string]*pollConn{}
	}
	t.m[pc.s.ID()] = pc
	t.mu.Unlock()
}

// remove forgets a session's polling end and closes it.
func (t *pollTable) remove(sid string) {
	t.mu.Lock()
	pc := t.m[sid]
	delete(t.m, sid)
	t.mu.Unlock()
	if pc != nil {
		_ = pc.conn.Close()
	}
}

// closing is told that a session is ending: its last frames (a
// DISCONNECT, the close) go to the GET that is waiting for them, if one
// is, and are read and dropped otherwise, so that the bridge's writer does
// not wait its write timeout for a client that does not poll.
func (t *pollTable) closing(sid string) {
	if pc := t.get(sid); pc != nil {
		pc.drainOnce.Do(func() { go pc.drain() })
	}
}

// drain reads the pipe to its end once no GET does; the upgrade has it
// for good if it came first.
func (pc *pollConn) drain() {
	pc.mu.Lock()
	up := pc.upgrading || pc.upgraded
	pc.mu.Unlock()
	if up {
		return
	}
	pc.readMu.Lock()
	defer pc.readMu.Unlock()
	pc.mu.Lock()
	up = pc.upgraded
	pc.mu.Unlock()
	if up {
		return
	}
	_ = pc.conn.SetReadDeadline(time.Time{})
	_, _ = io.Copy(io.Discard, pc.br)
}

var _ bridge.HTTPHandler = (*Protocol)(nil)

// ServeHTTP implements bridge.HTTPHandler: every request on the path.
// A WebSocket without sid is an ordinary session; one with a sid is the
// upgrade of a polling session; a polling request without sid opens a
// session, with one serves it.
func (p *Protocol) ServeHTTP(w http.ResponseWriter, r *http.Request, o *bridge.Opener) {
	q := r.URL.Query()
	sid := q.Get("sid")
	m := o.Metrics()
	switch {
	case q.Get("EIO") != "4":
		p.refuse(w, m, eioErrUnsupportedProto)
	case q.Get("transport") == "websocket" && sid == "":
		o.Upgrade(w, r)
	case q.Get("transport") == "websocket":
		pc := p.polls.get(sid)
		if pc == nil || !p.sameClient(pc, r) {
			p.refuse(w, m, eioErrSessionUnknown)
			return
		}
		pc.upgrade(w, r, o)
	case q.Get("transport") != "polling":
		p.refuse(w, m, eioErrTransportUnknown)
	case strings.EqualFold(r.Header.Get("Upgrade"), "websocket"):
		p.refuse(w, m, eioErrBadRequest) // a WebSocket that says it polls
	case q.Get("j") != "":
		p.refuse(w, m, eioErrBadRequest) // JSONP is not served
	case sid == "" && r.Method == http.MethodGet:
		p.handshake(w, r, o)
	case sid == "":
		p.refuse(w, m, eioErrBadHandshake)
	default:
		pc := p.polls.get(sid)
		switch {
		case pc == nil:
			p.relay(w, r, o, sid)
		case !p.sameClient(pc, r):
			p.refuse(w, m, eioErrSessionUnknown)
		case r.Method == http.MethodGet:
			pc.poll(w, r, maxPollResponse)
		case r.Method == http.MethodPost:
			pc.post(w, r)
		default:
			p.refuse(w, m, eioErrBadRequest)
		}
	}
}

// sameClient reports whether r may use pc's session: from the handshake's
// address, when check_session_ip asks for it.
func (p *Protocol) sameClient(pc *pollConn, r *http.Request) bool {
	return !p.cfg.CheckSessionIP || remoteIP(r) == pc.ip
}

// remoteIP is the client address of r, without its port.
func remoteIP(r *http.Request) string {
	ip, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return ip
}

// refuse answers a request with 400 and the Engine.IO error, counted.
func (p *Protocol) refuse(w http.ResponseWriter, m bridge.Metrics, code int) {
	m.ProtocolError(Name, "polling")
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	_, _ = io.WriteString(w, eioError(code))
}

// handshake opens a polling session: the bridge admits it as it admits a
// WebSocket, and the first GET's answer is the open packet.
func (p *Protocol) handshake(w http.ResponseWriter, r *http.Request, o *bridge.Opener) {
	server, client := net.Pipe()
	s := o.Virtual(w, r, server)
	if s == nil {
		_ = client.Close()
		_ = server.Close()
		return
	}
	pc := &pollConn{p: p, s: s, conn: client, br: bufio.NewReaderSize(client, bufferSize), ip: remoteIP(r)}
	p.polls.put(pc)
	select {
	case <-s.Done():
		p.polls.remove(s.ID()) // ended at once (a shutdown)
	default:
	}
	pc.poll(w, r, maxPollResponse)
}

// poll answers a GET with the packets the bridge has written, waiting for
// the first up to a ping interval and timeout (then a noop), and reading
// no more once the answer has limit bytes. Only one GET of a session may
// be open.
func (pc *pollConn) poll(w http.ResponseWriter, r *http.Request, limit int) {
	pc.mu.Lock()
	switch {
	case pc.upgraded:
		pc.mu.Unlock()
		pc.p.refuse(w, pc.s.Metrics(), eioErrBadRequest)
		return
	case pc.upgrading:
		// The client polls until it has paused for the upgrade: noop.
		pc.mu.Unlock()
		w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
		_, _ = w.Write([]byte{eioNoop})
		return
	case pc.getting:
		pc.mu.Unlock()
		pc.violation(w, "overlapping GET")
		return
	}
	pc.getting = true
	pc.mu.Unlock()
	defer func() {
		pc.mu.Lock()
		pc.getting = false
		pc.mu.Unlock()
	}()
	pc.readMu.Lock()
	defer pc.readMu.Unlock()
	stop := context.AfterFunc(r.Context(), pc.interrupt)
	defer stop()

	deadline := time.Now().Add(pc.p.cfg.PingInterval + pc.p.cfg.PingTimeout)
	var out []byte
	closed := false
	for len(out) < limit {
		if len(out) > 0 && pc.br.Buffered() == 0 {
			break // what there is now; no wait for more
		}
		pc.mu.Lock()
		if pc.upgrading {
			pc.mu.Unlock()
			break
		}
		pc.waiting = true
		_ = pc.conn.SetReadDeadline(deadline)
		pc.mu.Unlock()
		_, err := pc.br.Peek(2)
		pc.mu.Lock()
		pc.waiting = false
		pc.mu.Unlock()
		if errors.Is(err, os.ErrDeadlineExceeded) {
			break
		}
		if err != nil {
			closed = true
			break
		}
		_ = pc.conn.SetReadDeadline(time.Time{}) // a frame begun is read whole
		op, payload, err := readFrame(pc.br, 1<<30)
		if err != nil {
			closed = true
			break
		}
		switch op {
		case opText:
			out = appendPacket(out, payload)
		case opBinary:
			out = appendSep(out)
			out = append(out, 'b')
			out = base64.StdEncoding.AppendEncode(out, payload)
		case opPing:
			_ = pc.write(appendFrame(nil, opPong, payload, true))
		case opClose:
			closed = true
		}
		if closed {
			break
		}
	}
	if r.Context().Err() != nil {
		return // the client is gone; the session ends by its heartbeat
	}
	if closed {
		out = appendPacket(out, []byte{eioClose})
	}
	if len(out) == 0 {
		out = []byte{eioNoop}
	}
	w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
	_, _ = w.Write(out)
}

// appendPacket appends a text packet to a payload.
func appendPacket(out, pkt []byte) []byte { return append(appendSep(out), pkt...) }

func appendSep(out []byte) []byte {
	if len(out) > 0 {
		out = append(out, recordSeparator)
	}
	return out
}

// interrupt ends the wait of a GET for its first frame (its client left,
// or the session is upgrading). A GET in the middle of a frame reads it
// whole first.
func (pc *pollConn) interrupt() {
	pc.mu.Lock()
	if pc.waiting {
		_ = pc.conn.SetReadDeadline(time.Unix(1, 0))
	}
	pc.mu.Unlock()
}

// write writes frames into the pipe, for the bridge's reader.
func (pc *pollConn) write(b []byte) error {
	pc.wmu.Lock()
	defer pc.wmu.Unlock()
	_ = pc.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, err := pc.conn.Write(b)
	return err
}

// post takes the client's packets: each becomes one frame to the bridge,
// as if it had come in a WebSocket message. A body over max_payload ends
// the session.
func (pc *pollConn) post(w http.ResponseWriter, r *http.Request) {
	pc.mu.Lock()
	if pc.upgraded {
		pc.mu.Unlock()
		pc.p.refuse(w, pc.s.Metrics(), eioErrBadRequest)
		return
	}
	if pc.posting {
		pc.mu.Unlock()
		pc.violation(w, "overlapping POST")
		return
	}
	pc.posting = true
	pc.mu.Unlock()
	defer func() {
		pc.mu.Lock()
		pc.posting = false
		pc.mu.Unlock()
	}()
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, int64(pc.p.cfg.MaxPayload)))
	if err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			pc.s.Metrics().ProtocolError(Name, "too_large")
			pc.s.Close(bridge.CloseTooBig, "polling payload over max_payload")
			http.Error(w, "payload too large", http.StatusRequestEntityTooLarge)
			return
		}
		return // the client left
	}
	var frames []byte
	for pkt := range bytes.SplitSeq(body, []byte{recordSeparator}) {
		if len(pkt) > 0 && pkt[0] == 'b' {
			bin, err := base64.StdEncoding.AppendDecode(nil, pkt[1:])
			if err != nil {
				pc.violation(w, "bad base64 packet")
				return
			}
			frames = appendFrame(frames, opBinary, bin, true)
			continue
		}
		frames = appendFrame(frames, opText, pkt, true)
	}
	if err := pc.write(frames); err != nil {
		pc.p.refuse(w, pc.s.Metrics(), eioErrSessionUnknown)
		return
	}
	w.Header().Set("Content-Type", "text/html")
	_, _ = io.WriteString(w, "ok")
}

// violation ends the session for a misuse of the transport, as engine.io
// does: 400, counted.
func (pc *pollConn) violation(w http.ResponseWriter, why string) {
	pc.p.refuse(w, pc.s.Metrics(), eioErrBadRequest)
	pc.s.Close(bridge.CloseProtocolError, "polling: "+why)
}

// upgrade moves a polling session onto a WebSocket [Engine.IO v4
// "Upgrade"]: the client probes it (2probe, answered 3probe), the pending
// GET is answered with noop, the client sends 5, and from then on the
// WebSocket is spliced to the session's pipe, in both directions, frame
// bytes as they are.
func (pc *pollConn) upgrade(w http.ResponseWriter, r *http.Request, o *bridge.Opener) {
	raw := o.Accept(w, r)
	if raw == nil {
		return
	}
	ok := false
	defer func() {
		if !ok {
			_ = raw.Close()
		}
	}()
	rb := bufio.NewReaderSize(raw, 512)
	next := func() (byte, []byte, error) {
		_ = raw.SetReadDeadline(time.Now().Add(pc.p.cfg.PingTimeout + pc.p.cfg.PingInterval))
		for {
			op, b, err := readFrame(rb, 64)
			if err != nil || op != opPing && op != opPong {
				return op, b, err
			}
		}
	}
	op, b, err := next()
	if err != nil || op != opText || string(b) != "2probe" {
		pc.s.Metrics().ProtocolError(Name, "upgrade")
		return
	}
	_ = raw.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := raw.Write(appendFrame(nil, opText, []byte("3probe"), false)); err != nil {
		return
	}
	pc.mu.Lock()
	pc.upgrading = true
	pc.mu.Unlock()
	pc.interrupt()
	op, b, err = next()
	if err != nil || op != opText || string(b) != string(eioUpgrade) {
		pc.s.Metrics().ProtocolError(Name, "upgrade")
		pc.mu.Lock()
		pc.upgrading = false
		pc.mu.Unlock()
		return
	}
	// The GET reading the pipe, if one is left, is done with it for good.
	pc.readMu.Lock()
	pc.mu.Lock()
	pc.upgraded = true
	pc.mu.Unlock()
	_ = raw.SetDeadline(time.Time{})
	_ = pc.conn.SetReadDeadline(time.Time{})
	ok = true
	go func() {
		_, _ = io.Copy(raw, pc.br) // the bridge's frames, buffered ones first
		_ = raw.Close()
		_ = pc.conn.Close()
	}()
	go func() {
		pc.wmu.Lock()
		_ = pc.conn.SetWriteDeadline(time.Time{})
		_, _ = io.Copy(pc.conn, rb) // the client's frames, as they come
		pc.wmu.Unlock()
		_ = pc.conn.Close()
		_ = raw.Close()
	}()
}
