package bridge

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// tapStream is an open GET /admin/api/tap, read event by event.
type tapStream struct {
	t      *testing.T
	resp   *http.Response
	r      *bufio.Reader
	cancel context.CancelFunc
}

// openTap opens a tap on subject and returns it with the status; the
// stream is open only on 200.
func (e *env) openTap(subject string) (*tapStream, int) {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", e.srv.URL+"/admin/api/tap?subject="+url.QueryEscape(subject), nil)
	req.Header.Set("Authorization", "Bearer "+consoleToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		e.t.Fatal(err)
	}
	ts := &tapStream{t: e.t, resp: resp, r: bufio.NewReader(resp.Body), cancel: cancel}
	e.t.Cleanup(ts.close)
	if resp.StatusCode != 200 {
		ts.close()
	}
	return ts, resp.StatusCode
}

func (ts *tapStream) close() {
	ts.cancel()
	ts.resp.Body.Close()
}

// next returns the next event's name and data, skipping comments; it
// fails the test after 10s.
func (ts *tapStream) next() (event, data string) {
	ts.t.Helper()
	type ev struct{ name, data string }
	got := make(chan ev, 1)
	go func() {
		var e ev
		for {
			line, err := ts.r.ReadString('\n')
			if err != nil {
				got <- ev{"EOF", err.Error()}
				return
			}
			line = strings.TrimSuffix(line, "\n")
			switch {
			case line == "" && e.name != "":
				got <- e
				return
			case strings.HasPrefix(line, "event: "):
				e.name = line[7:]
			case strings.HasPrefix(line, "data: "):
				e.data += line[6:]
			}
		}
	}()
	select {
	case e := <-got:
		return e.name, e.data
	case <-time.After(10 * time.Second):
		ts.close()
		ts.t.Fatal("no tap event within 10s")
		return "", ""
	}
}

// TestTapRefuses: no subject that could match a reserved, system or
// reply subject can be tapped, nor an invalid one.
func TestTapRefuses(t *testing.T) {
	e := newEnv(t, consoleConfig())
	for _, subj := range []string{"", "wsgate", "wsgate.conn.x.send", "wsgate.>", "wsgate.*.x", ">", "*", "*.conn.>",
		"$JS.API.>", "$SYS.>", "_INBOX.x", "_INBOX.>", "a..b", "a b", "a.>.b", ".a", "a."} {
		ts, code := e.openTap(subj)
		if code != http.StatusBadRequest {
			t.Errorf("tap %q: %d, want 400", subj, code)
		}
		ts.close()
	}
}

func TestTapMessages(t *testing.T) {
	e := newEnv(t, consoleConfig())
	ts, code := e.openTap("orders.>")
	if code != 200 || ts.resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("tap: %d %q", code, ts.resp.Header.Get("Content-Type"))
	}
	if ev, data := ts.next(); ev != "open" || !strings.Contains(data, `"orders.>"`) {
		t.Fatalf("first event %s %s", ev, data)
	}
	w := e.worker()
	big := "x" + strings.Repeat("é", 3000) // 6001 bytes: cut within a rune
	_ = w.Publish("other.x", []byte("not tapped"))
	_ = w.Publish("orders.new", []byte(`{"id":1}`))
	_ = w.Publish("orders.big", []byte(big))
	_ = w.Publish("orders.bin", []byte{0xff, 0xfe, 0})
	_ = w.Flush()
	// A client's publish goes out on the hub's connection (NoEcho): the
	// tap, on the gateway's other one, sees it too.
	c := e.dial("/", nil, nil)
	c.do("pub orders.fromclient hi")
	want := []TapMessage{
		{Subject: "orders.new", Size: 8, Data: `{"id":1}`, Encoding: "text"},
		{Subject: "orders.big", Size: 6001, Data: "x" + strings.Repeat("é", tapMaxData/2-1), Encoding: "text", Truncated: true},
		{Subject: "orders.bin", Size: 3, Data: "//4A", Encoding: "base64"},
		{Subject: "orders.fromclient", Size: 2, Data: "hi", Encoding: "text"},
	}
	for _, w := range want {
		ev, data := ts.next()
		var m TapMessage
		if ev != "message" || json.Unmarshal([]byte(data), &m) != nil {
			t.Fatalf("event %s %s", ev, data)
		}
		if m.Subject != w.Subject || m.Size != w.Size || m.Data != w.Data || m.Encoding != w.Encoding || m.Truncated != w.Truncated {
			t.Errorf("tapped %+v, want %+v", m, w)
		}
	}
}

// TestTapBounded: a flood is shown at most tapRate a second; what is not
// shown is reported as dropped, so every message is accounted for.
func TestTapBounded(t *testing.T) {
	e := newEnv(t, consoleConfig())
	ts, code := e.openTap("flood")
	if code != 200 {
		t.Fatalf("tap: %d", code)
	}
	ts.next() // open
	w := e.worker()
	const n = 1000
	for range n {
		_ = w.Publish("flood", []byte("x"))
	}
	_ = w.Flush()
	shown, dropped := 0, 0
	for shown+dropped < n {
		ev, data := ts.next()
		switch ev {
		case "message":
			shown++
		case "dropped":
			var d struct{ Dropped int }
			_ = json.Unmarshal([]byte(data), &d)
			dropped += d.Dropped
		default:
			t.Fatalf("event %s %s", ev, data)
		}
	}
	if dropped == 0 || shown+dropped != n {
		t.Errorf("%d shown, %d dropped of %d", shown, dropped, n)
	}
}

// TestTapLimitAndShutdown: at most maxTaps at once; a shutdown ends the
// open ones with an end event rather than waiting for their browsers.
func TestTapLimitAndShutdown(t *testing.T) {
	e := newEnv(t, consoleConfig())
	var open []*tapStream
	for range maxTaps {
		ts, code := e.openTap("a.b")
		if code != 200 {
			t.Fatalf("tap: %d", code)
		}
		ts.next()
		open = append(open, ts)
	}
	if _, code := e.openTap("a.b"); code != http.StatusTooManyRequests {
		t.Errorf("tap %d: %d, want 429", maxTaps+1, code)
	}
	open[0].close()
	if !eventually(5*time.Second, func() bool { return e.gw.taps.Load() < maxTaps }) {
		t.Fatal("a closed tap is still counted")
	}
	if err := e.stop(); err != nil {
		t.Fatal(err)
	}
	for _, ts := range open[1:] {
		if ev, data := ts.next(); ev != "end" || !strings.Contains(data, "shutting down") {
			t.Errorf("after shutdown: %s %s", ev, data)
		}
	}
}
