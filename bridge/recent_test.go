package bridge

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestRecentLog(t *testing.T) {
	var out bytes.Buffer
	r := NewRecentLog(3)
	log := slog.New(r.Handler(slog.NewTextHandler(&out, nil)))
	log.Info("quiet")
	log.Warn("w1")
	log.With("component", "nats").WithGroup("g").Error("e1", "x", 1, slog.Group("sub", "y", "z"))
	log.Warn("w2")
	log.Warn(strings.Repeat("é", recentMaxText), "k", "v")

	got := r.Records()
	if len(got) != 3 {
		t.Fatalf("%d records, want the last 3: %+v", len(got), got)
	}
	if got[1].Message != "w2" || got[2].Message != "e1" || got[2].Level != "ERROR" {
		t.Errorf("records, newest first: %+v", got)
	}
	if a := got[2].Attrs; a["component"] != "nats" || a["g.x"] != "1" || a["g.sub.y"] != "z" {
		t.Errorf("e1's attributes: %v", a)
	}
	if m := got[0].Message; len(m) > recentMaxText+len("…") || !strings.HasSuffix(m, "…") || got[0].Attrs["k"] != "v" {
		t.Errorf("a long message: %d bytes %q..., attrs %v", len(m), m[:10], got[0].Attrs)
	}
	if n := strings.Count(out.String(), "\n"); n != 5 {
		t.Errorf("the next handler got %d lines, want every one:\n%s", n, out.String())
	}
	if got := (*RecentLog)(nil).Records(); got == nil || len(got) != 0 {
		t.Errorf("no ring: %v", got)
	}
}

var errNotYet = errors.New("not yet")

// TestConsoleErrors: a server-side close for a broken rule is kept beside
// the log's warnings; a normal close is not.
func TestConsoleErrors(t *testing.T) {
	e := newEnv(t, consoleConfig())
	e.gw.recent = NewRecentLog(10) // before any connection reads it
	bad := e.dial("/", nil, nil)
	bad.send("fail 1008 bad input")
	if code, _ := bad.readClose(); code != ClosePolicy {
		t.Fatalf("close %d", code)
	}
	good := e.dial("/", nil, nil)
	sg := e.session(good)
	good.send("close 1000 bye")
	good.readClose()
	waitDone(t, sg)

	var rep struct {
		Gateway string
		Records []LogRecord
	}
	checkFor(t, 5*time.Second, func() error {
		rep.Records = nil
		if code := e.adminGet("/admin/api/errors", consoleToken, &rep); code != 200 || len(rep.Records) == 0 {
			return errNotYet
		}
		return nil
	})
	if len(rep.Records) != 1 || rep.Gateway != e.gw.ID() {
		t.Fatalf("records: %+v", rep)
	}
	if r := rep.Records[0]; r.Level != "CLOSE" || r.Attrs["conn"] != bad.id || r.Attrs["code"] != "1008" || r.Attrs["reason"] != "bad input" {
		t.Errorf("record: %+v", r)
	}
}

// BenchmarkRecentLog is what the ring adds to a log record: nothing much
// below Warn, a copy of the record's text at Warn and above.
func BenchmarkRecentLog(b *testing.B) {
	next := slog.NewTextHandler(io.Discard, nil)
	for _, bc := range []struct {
		name string
		log  *slog.Logger
	}{
		{"info/plain", slog.New(next)},
		{"info/ring", slog.New(NewRecentLog(200).Handler(next))},
		{"warn/plain", slog.New(next)},
		{"warn/ring", slog.New(NewRecentLog(200).Handler(next))},
	} {
		lvl := slog.LevelInfo
		if strings.HasPrefix(bc.name, "warn") {
			lvl = slog.LevelWarn
		}
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				bc.log.Log(context.Background(), lvl, "connection closed", "conn", "pF7JbX2kq0sM9wA1", "code", 1008, "reason", "slow consumer")
			}
		})
	}
}
