package bridge

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/wsgate/wsgate/auth"
)

// accessSession is a session of a gateway whose access log writes to buf.
func accessSession(cfg AccessLogConfig, buf *bytes.Buffer) *Session {
	g := &Gateway{access: newAccessLog(cfg, buf)}
	s := &Session{gw: g, id: "c1", proto: newTestProto(), sourceIP: "192.0.2.1", requestID: "r1",
		userAgent: "ua", started: time.Now()}
	s.principal.Store(&auth.Principal{ID: "alice"})
	return s
}

func TestAccessLog(t *testing.T) {
	t.Run("message line with the chosen fields", func(t *testing.T) {
		var buf bytes.Buffer
		s := accessSession(AccessLogConfig{Fields: []string{"connection_id", "route", "status", "integration_latency", "principal", "source_ip"}}, &buf)
		s.LogAccess(MessageAccess{Route: "say", Status: "ok", Latency: 1500 * time.Microsecond, BytesIn: 10})
		if buf.Len() != 0 {
			t.Fatalf("a line without messages on or Force: %s", buf.String())
		}
		s.LogAccess(MessageAccess{Route: "say", Status: "ok", Latency: 1500 * time.Microsecond, BytesIn: 10, Force: true})
		var m map[string]any
		if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
			t.Fatalf("%q: %v", buf.String(), err)
		}
		want := map[string]any{"connection_id": "c1", "route": "say", "status": "ok", "integration_latency": 1.5,
			"principal": "alice", "source_ip": "192.0.2.1", "msg": "access", "level": "INFO"}
		delete(m, "time")
		if len(m) != len(want) {
			t.Errorf("fields %v, want %v", m, want)
		}
		for k, v := range want {
			if m[k] != v {
				t.Errorf("%s = %v, want %v", k, m[k], v)
			}
		}
	})
	t.Run("connection line, text", func(t *testing.T) {
		var buf bytes.Buffer
		s := accessSession(AccessLogConfig{Connections: true, Format: "text"}, &buf)
		s.msgsIn.Store(3)
		s.logConnection(CloseInfo{Code: 1000, Reason: "bye", By: "client"})
		line := buf.String()
		for _, f := range []string{"event=connection", "request_id=r1", "connection_id=c1", "status=1000", "msgs_in=3",
			"principal=alice", "source_ip=192.0.2.1", "user_agent=ua", "reason=bye", "closed_by=client"} {
			if !strings.Contains(line, f) {
				t.Errorf("%q has no %s", line, f)
			}
		}
	})
	t.Run("sampled", func(t *testing.T) {
		var buf bytes.Buffer
		s := accessSession(AccessLogConfig{Messages: true, Sample: 0.25}, &buf)
		for range 2000 {
			s.LogAccess(MessageAccess{Route: "busy", Status: "ok"})
		}
		// 500 expected; the bounds are over ten standard deviations away.
		if n := strings.Count(buf.String(), "\n"); n < 300 || n > 700 {
			t.Errorf("%d of 2000 lines at sample 0.25", n)
		}
		buf.Reset()
		for range 100 {
			s.LogAccess(MessageAccess{Route: "all", Status: "ok", Sample: 1})
		}
		if n := strings.Count(buf.String(), "\n"); n != 100 {
			t.Errorf("%d of 100 lines at the route's sample 1", n)
		}
	})
	t.Run("validate", func(t *testing.T) {
		errs := AccessLogConfig{Format: "xml", Fields: []string{"route", "nope"}, Sample: 2}.Validate()
		if len(errs) != 3 {
			t.Errorf("errors %v, want format, fields[1] and sample", errs)
		}
	})
}

func TestRequestIDFrom(t *testing.T) {
	if got := requestIDFrom("abc-123"); got != "abc-123" {
		t.Errorf("kept %q", got)
	}
	for _, h := range []string{"", "a b", strings.Repeat("x", 129), "a\nb"} {
		if got := requestIDFrom(h); got == h || len(got) != 12 {
			t.Errorf("requestIDFrom(%q) = %q, want a new id", h, got)
		}
	}
}

func TestAutoAccess(t *testing.T) {
	var buf bytes.Buffer
	s := accessSession(AccessLogConfig{Messages: true, Fields: []string{"route", "status", "bytes_in"}}, &buf)
	s.autoAccess("", 0, fmt.Errorf("%w: publish to %q", ErrForbidden, "x"), 5)
	if got := buf.String(); !strings.Contains(got, `"status":"forbidden"`) || !strings.Contains(got, `"bytes_in":5`) {
		t.Errorf("line %q, want status forbidden and 5 bytes", got)
	}
}
