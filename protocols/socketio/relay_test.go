package socketio

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/nats-io/nats.go"

	"github.com/wsgate/wsgate/bridge"
)

// on is p's session as seen through another gateway of the deployment.
func (p *poller) on(e *env) *poller { return &poller{t: p.t, e: e, sid: p.sid} }

// TestPollingRelay: a balancer without sticky sessions sends a polling
// session's requests to either gateway; the one that does not hold the
// session relays them over NATS, in both directions, and calls off a GET
// whose client left.
func TestPollingRelay(t *testing.T) {
	a := newEnv(t, Config{}, nil)
	b := a.peer(bridge.Config{}, Config{})
	w := a.worker()
	pa, _ := a.openPolling(t)
	pb := pa.on(b)

	// CONNECT through b, its answer through b.
	pb.post("40")
	if got := pb.get(); len(got) != 1 || !strings.HasPrefix(got[0], `40{"sid":`) {
		t.Fatalf("CONNECT answer through the other gateway: %q", got)
	}
	// Emits through either gateway reach the worker, in order.
	ch := sub(t, w, "sio._.chat")
	pb.post(`42["chat",1]`, `42["chat",2]`)
	pa.post(`42["chat",3]`)
	for _, want := range []string{"1", "2", "3"} {
		if m := recv(t, ch); string(m.Data) != want {
			t.Fatalf("emit %q, want %s", m.Data, want)
		}
	}
	// Pushes come out of whichever gateway the GET reaches.
	push := func(d string) {
		m := nats.NewMsg("wsgate.conn." + pa.sid + ".send")
		m.Data = []byte(d)
		if err := w.PublishMsg(m); err != nil {
			t.Fatal(err)
		}
	}
	push(`"x"`)
	if got := pb.get(); len(got) != 1 || got[0] != `42["message","x"]` {
		t.Fatalf("push through b: %q", got)
	}
	push(`"y"`)
	if got := pa.get(); len(got) != 1 || got[0] != `42["message","y"]` {
		t.Fatalf("push through a: %q", got)
	}

	// A relayed GET whose client leaves is called off: the next GET, on
	// the other gateway, is not an overlapping one.
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, b.pollURL(pa.sid), nil)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	time.Sleep(200 * time.Millisecond) // the GET is waiting on a
	cancel()
	<-done
	pc := a.p.polls.get(pa.sid)
	for i := 0; ; i++ {
		pc.mu.Lock()
		getting := pc.getting
		pc.mu.Unlock()
		if !getting {
			break
		}
		if i == 500 {
			t.Fatal("the relayed GET was not called off")
		}
		time.Sleep(10 * time.Millisecond)
	}
	push(`"z"`)
	if got := pa.get(); len(got) != 1 || got[0] != `42["message","z"]` {
		t.Fatalf("GET after a relayed GET was called off: %q", got)
	}

	// An unknown or hostile sid is unknown on every gateway; the upgrade
	// is not relayed and leaves the session polling.
	for _, sid := range []string{"nope", "a.b", "*", ">", "a b", "\x00", "\xff", strings.Repeat("x", 100)} {
		if status, body := httpDo(t, http.MethodGet, b.pollURL(url.QueryEscape(sid)), ""); status != http.StatusBadRequest || body != `{"code":1,"message":"Session ID unknown"}` {
			t.Errorf("sid %q: %d %q", sid, status, body)
		}
	}
	wsURL := "ws" + strings.TrimPrefix(b.srv.URL, "http") + "/socket.io/?EIO=4&transport=websocket&sid=" + pa.sid
	if _, resp, err := websocket.DefaultDialer.Dial(wsURL, nil); err == nil || resp == nil || resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("upgrade on the other gateway: %v %v", err, resp)
	}
	push(`"still"`)
	for {
		got := pb.get()
		if got[len(got)-1] == `42["message","still"]` {
			break
		}
	}
}
