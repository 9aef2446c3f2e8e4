package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

func TestControlSubjects(t *testing.T) {
	e := newEnv(t, Config{})
	w := e.worker()
	c := e.dial("/", nil, nil)
	e.sub(c, "sub a.b")
	subj := func(verb string) string { return "wsgate.conn." + c.id + "." + verb }

	t.Run("info", func(t *testing.T) {
		m, err := w.Request(subj("info"), nil, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		var info ConnInfo
		if err := json.Unmarshal(m.Data, &info); err != nil {
			t.Fatalf("info %s: %v", m.Data, err)
		}
		if info.ConnectionID != c.id || info.Protocol != "test" || info.Gateway != e.gw.ID() ||
			info.Subscriptions != 1 || info.Identity.SourceIP != "127.0.0.1" || info.MessagesIn < 2 {
			t.Errorf("info %+v", info)
		}
		if time.Since(info.ConnectedAt) > time.Minute || info.ConnectedAt.Location() != time.UTC {
			t.Errorf("connectedAt %v", info.ConnectedAt)
		}
		if info.CloseCode != 0 || info.ClosedBy != "" {
			t.Errorf("a live connection's info has close fields: %+v", info)
		}
	})
	t.Run("send", func(t *testing.T) {
		m, err := w.Request(subj("send"), []byte("from a worker"), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if string(m.Data) != `{"ok":true}` {
			t.Errorf("send answer %s", m.Data)
		}
		if got := c.read(); got != "push from a worker" {
			t.Errorf("client read %q", got)
		}
	})
	t.Run("unknown verb", func(t *testing.T) {
		m, err := w.Request(subj("frobnicate"), nil, 5*time.Second)
		if err != nil || string(m.Data) != `{"error":"unknown verb"}` {
			t.Errorf("unknown verb: %v %v", err, m)
		}
	})
	t.Run("bad close requests", func(t *testing.T) {
		for _, body := range []string{`{"code":1001}`, `{"code":2999}`, `{"code":5000}`, `not json`} {
			m, err := w.Request(subj("close"), []byte(body), 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(m.Data), `"error"`) {
				t.Errorf("close %s: answer %s, want an error", body, m.Data)
			}
		}
		if e.gw.Connections() != 1 {
			t.Fatal("a refused close request closed the connection")
		}
	})
	t.Run("close", func(t *testing.T) {
		s := e.session(c)
		m, err := w.Request(subj("close"), []byte(`{"code":4001,"reason":"x"}`), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if string(m.Data) != `{"ok":true}` {
			t.Errorf("close answer %s", m.Data)
		}
		if code, reason := c.readClose(); code != 4001 || reason != "x" {
			t.Errorf("client got close %d %q, want 4001 x", code, reason)
		}
		waitDone(t, s)
		if s.cause.By != "worker" {
			t.Errorf("closed by %q, want worker", s.cause.By)
		}
		// Gone: nobody answers for it any more. (A request that races the
		// session's teardown is dropped unanswered, hence the retries.)
		checkFor(t, 5*time.Second, func() error {
			if _, err := w.Request(subj("info"), nil, 200*time.Millisecond); !errors.Is(err, nats.ErrNoResponders) {
				return fmt.Errorf("info of a closed connection: %v, want no responders", err)
			}
			return nil
		})
	})
	t.Run("unknown id", func(t *testing.T) {
		if _, err := w.Request("wsgate.conn.nosuchconn.info", nil, 5*time.Second); !errors.Is(err, nats.ErrNoResponders) {
			t.Errorf("unknown id: %v, want nats.ErrNoResponders", err)
		}
	})
}

// A close request without a body closes normally, with a default reason.
func TestControlCloseDefaults(t *testing.T) {
	e := newEnv(t, Config{})
	c := e.dial("/", nil, nil)
	if _, err := e.worker().Request("wsgate.conn."+c.id+".close", nil, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if code, reason := c.readClose(); code != CloseNormal || reason != "closed by worker" {
		t.Errorf("close %d %q", code, reason)
	}
}

func TestConnectionsAPI(t *testing.T) {
	e := newEnv(t, Config{})
	c := e.dial("/", nil, nil)
	hc := e.srv.Client()
	do := func(method, path, body string) (int, http.Header, string) {
		t.Helper()
		req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, string(b)
	}
	path := "/@connections/" + c.id

	if code, _, body := do("POST", path, "hello over HTTP"); code != http.StatusOK {
		t.Fatalf("POST: %d %s", code, body)
	}
	if got := c.read(); got != "push hello over HTTP" {
		t.Errorf("client read %q", got)
	}

	code, hdr, body := do("GET", path, "")
	if code != http.StatusOK || hdr.Get("Content-Type") != "application/json" {
		t.Fatalf("GET: %d %s %s", code, hdr.Get("Content-Type"), body)
	}
	var info ConnInfo
	if err := json.Unmarshal([]byte(body), &info); err != nil || info.ConnectionID != c.id {
		t.Errorf("GET body %s: %v", body, err)
	}

	for _, tc := range []struct {
		method, path string
		want         int
	}{
		{"GET", "/@connections/nosuchconn", http.StatusGone},
		{"POST", "/@connections/nosuchconn", http.StatusGone},
		{"DELETE", "/@connections/nosuchconn", http.StatusGone},
		{"GET", "/@connections/a.b", http.StatusBadRequest},
		{"GET", "/@connections/a*", http.StatusBadRequest},
		{"POST", "/@connections/%3E", http.StatusBadRequest},
		{"DELETE", "/@connections/a%20b", http.StatusBadRequest},
		{"GET", "/@connections/" + strings.Repeat("x", 65), http.StatusBadRequest},
		{"DELETE", path + "?code=999", http.StatusBadRequest},
		{"DELETE", path + "?code=1001", http.StatusBadRequest},
		{"DELETE", path + "?code=abc", http.StatusBadRequest},
	} {
		code, hdr, body := do(tc.method, tc.path, "")
		if code != tc.want {
			t.Errorf("%s %s: %d %s, want %d", tc.method, tc.path, code, body, tc.want)
			continue
		}
		var msg struct{ Message string }
		if hdr.Get("Content-Type") != "application/json" || json.Unmarshal([]byte(body), &msg) != nil || msg.Message == "" {
			t.Errorf("%s %s: error body %q (%s)", tc.method, tc.path, body, hdr.Get("Content-Type"))
		}
	}
	if e.gw.Connections() != 1 {
		t.Fatal("a refused request closed the connection")
	}

	if code, _, body := do("DELETE", path+"?code=4002&reason=bye", ""); code != http.StatusNoContent {
		t.Fatalf("DELETE: %d %s", code, body)
	}
	if code, reason := c.readClose(); code != 4002 || reason != "bye" {
		t.Errorf("client got close %d %q, want 4002 bye", code, reason)
	}
	checkFor(t, 5*time.Second, func() error {
		if code, _, body := do("GET", path, ""); code != http.StatusGone {
			return fmt.Errorf("GET after close: %d %s, want 410", code, body)
		}
		return nil
	})
}

func TestHealthAndMetrics(t *testing.T) {
	e := newEnv(t, Config{})
	e.dial("/", nil, nil)
	hc := e.srv.Client()
	for _, tc := range []struct {
		path string
		want int
		body string
	}{
		{"/healthz", 200, "ok"},
		{"/readyz", 200, "ready"},
		{"/metrics", 200, `wsgate_connections{protocol="test"} 1`},
		{"/nothing-here", 404, ""},
		{"/ws", http.StatusUpgradeRequired, "WebSocket endpoint"},
	} {
		resp, err := hc.Get(e.srv.URL + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.want || !strings.Contains(string(b), tc.body) {
			t.Errorf("GET %s: %d, body %.200q; want %d with %q", tc.path, resp.StatusCode, b, tc.want, tc.body)
		}
	}
}

// controlProto is testProto whose handlers answer the verb "echo" of the
// connection API as a Controller.
type controlProto struct{ *testProto }

type controlHandler struct{ *testHandler }

func (p controlProto) Open(s *Session) Handler {
	return controlHandler{p.testProto.Open(s).(*testHandler)}
}

func (h controlHandler) Control(verb string, m *Message) bool {
	if verb != "echo" {
		return false
	}
	_ = h.s.Respond(m, Header{"Echo": {"1"}}, m.Data)
	return true
}

// TestControlVerbsOfTheProtocol: a handler that is a Controller answers
// verbs of its own; one it does not know gets an error; a connection
// whose handler is no Controller still ignores them.
func TestControlVerbsOfTheProtocol(t *testing.T) {
	e := newEnv(t, Config{}, controlProto{newTestProto()})
	w := e.worker()
	c := e.dial("/", nil, nil)
	subj := func(verb string) string { return "wsgate.conn." + c.id + "." + verb }
	m, err := w.Request(subj("echo"), []byte("hi"), 5*time.Second)
	if err != nil || string(m.Data) != "hi" || m.Header.Get("Echo") != "1" || m.Header.Get(HeaderConnectionID) != c.id {
		t.Fatalf("echo: %v %v", err, m)
	}
	m, err = w.Request(subj("frobnicate"), nil, 5*time.Second)
	if err != nil || string(m.Data) != `{"error":"unknown verb"}` {
		t.Fatalf("unknown verb: %v %v", err, m)
	}
}

// TestFlushControl: once flushControl returns, a request on the
// connection's control subjects from any other NATS connection finds it
// at once, though the gateway's subscription went out on a connection of
// its own (the hub's is another): what a relaying gateway relies on.
func TestFlushControl(t *testing.T) {
	e := newEnv(t, Config{})
	w := e.worker()
	for i := range 50 {
		s := e.session(e.dial("/", nil, nil))
		if err := s.flushControl(context.Background()); err != nil {
			t.Fatal(err)
		}
		m, err := w.Request(e.gw.controlSubject(s.ID(), "info"), nil, 5*time.Second)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		if !strings.Contains(string(m.Data), s.ID()) {
			t.Fatalf("connection %d: info %s", i, m.Data)
		}
	}
}
