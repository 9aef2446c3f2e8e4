package bridge

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestPollerChurn opens and closes connections, every way a connection can
// end, while messages flow to steady ones. Socket numbers are reused at once
// by the kernel, so a poller that named a closed socket by its number would
// re-arm or drop another connection's registration: a steady connection
// would stall, or a new one would never hear its answers.
func TestPollerChurn(t *testing.T) {
	e := newEnv(t, Config{})
	const steady, churners, cycles, msgs = 4, 6, 25, 200

	var readers []*client
	for range steady {
		c := e.dial("/", nil, nil)
		e.sub(c, "sub churn.steady")
		readers = append(readers, c)
	}
	pubDone := make(chan struct{})
	go func() {
		defer close(pubDone)
		for i := range msgs {
			if err := e.nc.Publish("churn.steady", []byte(fmt.Sprint(i))); err != nil {
				t.Error(err)
				return
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()

	var wg sync.WaitGroup
	for w := range churners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range cycles {
				if err := churnOnce(e, w, i); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	<-pubDone

	// Every steady reader still gets every message, in order, and answers.
	for _, c := range readers {
		for want := 0; ; want++ {
			m, err := c.tryRead(5 * time.Second)
			if err != nil {
				t.Fatalf("steady reader after %d messages: %v", want, err)
			}
			if m != fmt.Sprintf("msg churn.steady %d", want) {
				t.Fatalf("steady reader got %q, want message %d", m, want)
			}
			if want == msgs-1 {
				break
			}
		}
		c.do("pub churn.echo still-here")
	}
}

// churnOnce dials, checks that the connection hears its own answers, and
// ends it one of four ways.
func churnOnce(e *env, w, i int) error {
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	c, _, err := d.Dial(e.wsURL("/"), nil)
	if err != nil {
		return fmt.Errorf("dial: %w", err)
	}
	defer c.Close()
	cl := &client{t: e.t, c: c}
	say := func(cmd, want string) error {
		if err := c.WriteMessage(websocket.TextMessage, []byte(cmd)); err != nil {
			return fmt.Errorf("churner %d/%d write: %w", w, i, err)
		}
		got, err := cl.tryRead(5 * time.Second)
		if err != nil || !strings.HasPrefix(got, want) {
			return fmt.Errorf("churner %d/%d: %q answered %q, %v", w, i, cmd, got, err)
		}
		return nil
	}
	if err := say("hello", "hello"); err != nil {
		return err
	}
	subj := fmt.Sprintf("churn.w%d.c%d", w, i)
	if err := say("sub "+subj, "ok sub"); err != nil {
		return err
	}
	// The answer and the delivery of the message come in either order.
	if err := c.WriteMessage(websocket.TextMessage, []byte("pub "+subj+" x")); err != nil {
		return fmt.Errorf("churner %d/%d write: %w", w, i, err)
	}
	got := map[string]bool{}
	for range 2 {
		m, err := cl.tryRead(5 * time.Second)
		if err != nil {
			return fmt.Errorf("churner %d/%d: %w", w, i, err)
		}
		got[m] = true
	}
	if !got["ok pub "+subj] || !got["msg "+subj+" x"] {
		return fmt.Errorf("churner %d/%d: got %v", w, i, got)
	}
	switch i % 4 {
	case 0: // the client closes properly
		_ = c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(1000, "bye"), time.Now().Add(time.Second))
	case 1: // the client just goes
		_ = c.UnderlyingConn().Close()
	case 2: // the server closes
		_ = c.WriteMessage(websocket.TextMessage, []byte("close 1000 done"))
	case 3: // a protocol error
		_ = c.WriteMessage(websocket.TextMessage, []byte("fail 4000 bad"))
	}
	return nil
}
