package bench

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestLaneWindow checks that a message frees its slot only when every
// subscriber has it, and that slots are reused modulo the window.
func TestLaneWindow(t *testing.T) {
	var l lane
	l.init(2, time.Second)
	<-l.tokens
	<-l.tokens // both slots in flight: messages 0 and 1
	l.delivered(0, 3)
	l.delivered(0, 3)
	if len(l.tokens) != 0 {
		t.Fatal("a slot freed before its third subscriber had it")
	}
	l.delivered(0, 3)
	if len(l.tokens) != 1 {
		t.Fatal("message 0 did not free its slot")
	}
	<-l.tokens // message 2 reuses slot 0
	for range 3 {
		l.delivered(2, 3)
	}
	if len(l.tokens) != 1 {
		t.Fatal("message 2 did not free slot 0 again")
	}
}

// TestLaneStalls runs a publisher whose messages nobody receives: it sends
// its window and then reports a stall instead of waiting for ever.
func TestLaneStalls(t *testing.T) {
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &conn{kind: "json", ws: ws}
	defer c.close()

	var l lane
	l.init(3, 50*time.Millisecond)
	l.run(c, pairSubject(0), 64, time.Now().Add(10*time.Second))
	if !errors.Is(l.err, errStalled) {
		t.Fatalf("err %v, want a stall", l.err)
	}
	if n := l.published.Load(); n != 3 {
		t.Errorf("published %d, want the window of 3", n)
	}
}
