package bridge

import (
	"encoding/json"
	"log/slog"
	"maps"

	"github.com/nats-io/nats.go"
)

// GhostHandler is implemented by protocols that act for a connection whose
// gateway died without closing it (peers.go): the JSON protocol runs its
// $disconnect route, MQTT publishes the will. Ghost runs on the gateway
// that cleans up, which may be another process with the same protocols; it
// may block briefly (a publish, a key-value write), not for long.
type GhostHandler interface {
	Ghost(g *Ghost)
}

// Ghost is a connection whose gateway died with it open, as its record
// says: what the disconnect event would have told, and what its protocol
// set with Session.SetLastWords.
type Ghost struct {
	// Info is the connection as it was last recorded, with CloseCode
	// 1006, CloseReason "gateway lost" and ClosedBy "error".
	Info ConnInfo
	// Header is the connection's Wsgate-* headers (Session.Headers) with
	// Wsgate-Event disconnect and the close code and reason.
	Header Header
	// Data is what the protocol last gave SetLastWords, or nil.
	Data []byte

	gw *Gateway
}

// Publish publishes a message on behalf of the ghost, as the gateway: no
// permission applies (what the connection gave as its last words was
// checked when it gave them).
func (g *Ghost) Publish(subject string, hdr Header, data []byte) error {
	return g.gw.nc.PublishMsg(&nats.Msg{Subject: subject, Header: nats.Header(hdr), Data: data})
}

// JetStream is the cleaning gateway's JetStream facade.
func (g *Ghost) JetStream() *JetStream { return g.gw.js }

// Logger is the cleaning gateway's logger, with the connection's id.
func (g *Ghost) Logger() *slog.Logger { return g.gw.log.With("conn", g.Info.ConnectionID) }

// ghostRecord is a connection's record in the last words bucket.
type ghostRecord struct {
	Info   ConnInfo `json:"info"`
	Header Header   `json:"header"`
	Data   []byte   `json:"data,omitempty"`
}

// SetLastWords records data that the protocol's GhostHandler gets if this
// gateway dies while the connection is open (an MQTT will), replacing what
// was recorded before; nil forgets it. It writes the connection's record
// without waiting. Without a GhostHandler, or with ghost_timeout
// negative, it does nothing.
func (s *Session) SetLastWords(data []byte) {
	if _, ok := s.proto.(GhostHandler); !ok {
		return
	}
	s.lastWordsMu.Lock()
	defer s.lastWordsMu.Unlock()
	s.lastWords = data
	if s.attached.Load() && !s.forgotten {
		s.gw.peers.remember(s)
	}
}

// remember writes the connection's record unless it has ended. The
// record's writes and its deletion are published under lastWordsMu, so
// they reach JetStream in order and none comes after the deletion.
func (s *Session) remember() {
	s.lastWordsMu.Lock()
	defer s.lastWordsMu.Unlock()
	if !s.forgotten {
		s.gw.peers.remember(s)
	}
}

// forget deletes the connection's record, for good.
func (s *Session) forget() {
	s.lastWordsMu.Lock()
	defer s.lastWordsMu.Unlock()
	s.forgotten = true
	s.gw.peers.forget(s)
}

// ghostRecord is the connection's record; lastWordsMu is held.
func (s *Session) ghostRecord() ghostRecord {
	return ghostRecord{Info: s.info(), Header: s.Headers(EventDisconnect, ""), Data: s.lastWords}
}

// ghost ends a connection of a dead gateway from its record: its
// protocol's last act, then its disconnect event.
func (g *Gateway) ghost(record []byte) {
	var r ghostRecord
	if err := json.Unmarshal(record, &r); err != nil || r.Header == nil {
		g.log.Warn("ghost record unreadable", "err", err)
		return
	}
	r.Info.LastActiveAt = r.Info.LastActiveAt.UTC()
	r.Info.CloseCode, r.Info.CloseReason, r.Info.ClosedBy = closeAbnormal, "gateway lost", "error"
	r.Header.Set(HeaderCloseCode, itoa(closeAbnormal))
	r.Header.Set(HeaderCloseReason, "gateway lost")
	gh := &Ghost{Info: r.Info, Header: maps.Clone(r.Header), Data: r.Data, gw: g}
	for _, p := range g.protos {
		if h, ok := p.(GhostHandler); ok && p.Name() == r.Info.Protocol {
			h.Ghost(gh)
		}
	}
	body, _ := json.Marshal(gh.Info)
	if err := gh.Publish(g.cfg.ReservedPrefix+".events.disconnect", r.Header, body); err != nil {
		g.log.Warn("ghost disconnect event not published", "conn", r.Info.ConnectionID, "err", err)
	}
}
