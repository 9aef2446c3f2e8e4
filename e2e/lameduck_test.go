package e2e

import (
	"errors"
	"net/http"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestLameDuck: on SIGTERM with gateway.lame_duck_delay, /readyz says 503
// while the connections stay open; then, with gateway.lame_duck_window,
// they are closed with 1001 one after another across the window rather
// than in one instant.
func TestLameDuck(t *testing.T) {
	long(t)
	g := startGateway(t, gwOpts{Config: `
gateway:
  lame_duck_delay: 1s
  lame_duck_window: 1s
`})
	const n = 20
	type closed struct {
		at   time.Time
		code int
		err  error
	}
	got := make(chan closed, n)
	for range n {
		c := dial(t, g.WS("/"), nil)
		go func() {
			for {
				_, _, err := c.Conn.ReadMessage()
				if err == nil {
					continue
				}
				var ce *websocket.CloseError
				if errors.As(err, &ce) {
					got <- closed{at: time.Now(), code: ce.Code}
				} else {
					got <- closed{at: time.Now(), err: err}
				}
				return
			}
		}()
	}
	sent := time.Now()
	if err := g.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// During the delay: not ready, nothing closed.
	eventually(t, time.Second, func() error {
		resp, err := http.Get(g.HTTP("/readyz"))
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable {
			return errors.New(resp.Status)
		}
		return nil
	})
	if len(got) > 0 && time.Since(sent) < 900*time.Millisecond {
		t.Fatalf("a connection closed %s after SIGTERM, during the lame-duck delay", time.Since(sent))
	}
	var times []time.Time
	for range n {
		select {
		case c := <-got:
			if c.err != nil || c.code != websocket.CloseGoingAway {
				t.Errorf("close %d %v, want 1001", c.code, c.err)
			}
			times = append(times, c.at)
		case <-time.After(10 * time.Second):
			t.Fatalf("%d of %d connections closed", len(times), n)
		}
	}
	slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
	first, spread := times[0].Sub(sent), times[n-1].Sub(times[0])
	t.Logf("first close %s after SIGTERM, last %s after the first", first.Round(time.Millisecond), spread.Round(time.Millisecond))
	if first < 900*time.Millisecond {
		t.Errorf("first close %s after SIGTERM, within the 1s delay", first)
	}
	if spread < 300*time.Millisecond {
		t.Errorf("closes spread over %s, want most of the 1s window", spread)
	}
	select {
	case <-g.exited:
		if g.exitErr != nil {
			t.Errorf("wsgate exited with %v", g.exitErr)
		}
	case <-time.After(10 * time.Second):
		t.Error("wsgate still running 10s after its connections closed")
	}
}
