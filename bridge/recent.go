package bridge

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// Bounds of what RecentLog keeps of one record.
const (
	recentMaxText  = 512 // bytes of a message or an attribute's value
	recentMaxAttrs = 16  // attributes per record
)

// RecentLog keeps the last records of level Warn and above that the
// gateway logs, and the server-side closes of connections that broke a
// rule (a protocol error, a policy, a slow consumer), in a ring of fixed
// size, for the admin console's recent errors (GET /admin/api/errors).
// Records below Warn cost one comparison. It is safe for concurrent use.
type RecentLog struct {
	mu   sync.Mutex
	ring []LogRecord
	next int  // where the next record goes
	full bool // the ring has wrapped
}

// LogRecord is one record of a RecentLog.
type LogRecord struct {
	Time    time.Time         `json:"time"`
	Level   string            `json:"level"`
	Message string            `json:"message"`
	Attrs   map[string]string `json:"attrs,omitempty"`
}

// NewRecentLog makes a RecentLog of the last n records (at least 1).
func NewRecentLog(n int) *RecentLog {
	return &RecentLog{ring: make([]LogRecord, max(n, 1))}
}

// Handler wraps next: every record goes on to next, and those of level
// Warn and above are also kept.
func (r *RecentLog) Handler(next slog.Handler) slog.Handler {
	return &recentHandler{r: r, next: next}
}

// Records returns what is kept, newest first.
func (r *RecentLog) Records() []LogRecord {
	if r == nil {
		return []LogRecord{}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	n := r.next
	if r.full {
		n = len(r.ring)
	}
	out := make([]LogRecord, 0, n)
	for i := 1; i <= n; i++ {
		out = append(out, r.ring[(r.next-i+len(r.ring))%len(r.ring)])
	}
	return out
}

func (r *RecentLog) add(rec LogRecord) {
	if r == nil {
		return
	}
	r.mu.Lock()
	r.ring[r.next] = rec
	r.next++
	if r.next == len(r.ring) {
		r.next, r.full = 0, true
	}
	r.mu.Unlock()
}

// recentHandler is RecentLog's slog.Handler: group is the prefix of the
// keys of attributes (WithGroup), attrs are those given by WithAttrs.
type recentHandler struct {
	r     *RecentLog
	next  slog.Handler
	group string
	attrs []slog.Attr
}

func (h *recentHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

func (h *recentHandler) Handle(ctx context.Context, rec slog.Record) error {
	if rec.Level >= slog.LevelWarn {
		kept := LogRecord{Time: rec.Time.UTC(), Level: rec.Level.String(), Message: clip(rec.Message)}
		attrs := map[string]string{}
		for _, a := range h.attrs {
			flatten(attrs, "", a)
		}
		rec.Attrs(func(a slog.Attr) bool {
			flatten(attrs, h.group, a)
			return len(attrs) < recentMaxAttrs
		})
		if len(attrs) > 0 {
			kept.Attrs = attrs
		}
		h.r.add(kept)
	}
	return h.next.Handle(ctx, rec)
}

func (h *recentHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.attrs = slices.Clone(h.attrs)
	for _, a := range as {
		a.Key = h.group + a.Key
		c.attrs = append(c.attrs, a)
	}
	c.next = h.next.WithAttrs(as)
	return &c
}

func (h *recentHandler) WithGroup(name string) slog.Handler {
	c := *h
	if name != "" {
		c.group = h.group + name + "."
	}
	c.next = h.next.WithGroup(name)
	return &c
}

// flatten puts a, its groups spelt out as dotted keys, into m, up to
// recentMaxAttrs.
func flatten(m map[string]string, prefix string, a slog.Attr) {
	v := a.Value.Resolve()
	if v.Kind() == slog.KindGroup {
		p := prefix
		if a.Key != "" {
			p += a.Key + "."
		}
		for _, ga := range v.Group() {
			flatten(m, p, ga)
		}
		return
	}
	if len(m) < recentMaxAttrs && a.Key != "" {
		m[prefix+a.Key] = clip(v.String())
	}
}

func clip(s string) string {
	if len(s) > recentMaxText {
		return strings.ToValidUTF8(s[:recentMaxText], "") + "…"
	}
	return s
}

// recordClose keeps a server-side close for a broken rule, which the log
// has at Info level: not a normal close or a shutdown, and not one by an
// error (logged at Warn, so kept already).
func (g *Gateway) recordClose(s *Session, c CloseInfo) {
	if g.recent == nil || c.By != "server" || c.Code == CloseNormal || c.Code == CloseGoingAway || c.Code == CloseServiceRestart {
		return
	}
	g.recent.add(LogRecord{Time: time.Now().UTC(), Level: "CLOSE", Message: "connection closed",
		Attrs: map[string]string{"conn": s.id, "protocol": s.proto.Name(), "remote": s.sourceIP,
			"code": itoa(c.Code), "reason": clip(c.Reason)}})
}

// getErrors is GET /admin/api/errors: this gateway's recent warnings,
// errors and rule-breaking closes, newest first.
func (g *Gateway) getErrors(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, map[string]any{"gateway": g.id, "records": g.recent.Records()})
}
