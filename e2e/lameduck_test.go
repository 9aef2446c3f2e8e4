package e2e

import (
	"errors"
	"net/http"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsgate/wsgate/protocols/mqtt"
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

// TestLameDuckServerReference: with mqtt.server_reference, a shutdown tells
// an MQTT 5 client to use another server (DISCONNECT 0x9C) and which one
// (Server Reference); without it, that the server shuts down (0x8B).
func TestLameDuckServerReference(t *testing.T) {
	long(t)
	for _, tc := range []struct {
		name, ref string
		rc        byte
	}{
		{"with a server reference", "ws://other.example:8080/mqtt", 0x9C},
		{"without", "", 0x8B},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := ""
			if tc.ref != "" {
				cfg = "mqtt:\n  server_reference: " + tc.ref + "\n"
			}
			g := startGateway(t, gwOpts{Config: cfg})
			r := dialRaw(t, g, mqtt.V5)
			r.connect(&mqtt.Connect{ClientID: "ld", CleanStart: true}, mqtt.Properties{})
			if ack := r.expect(mqtt.CONNACK); ack.Reason != 0 {
				t.Fatalf("CONNACK 0x%02x", ack.Reason)
			}
			if err := g.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			d := r.expect(mqtt.DISCONNECT)
			if d.Reason != tc.rc || d.Props.ServerReference != tc.ref {
				t.Errorf("DISCONNECT 0x%02x, Server Reference %q; want 0x%02x, %q", d.Reason, d.Props.ServerReference, tc.rc, tc.ref)
			}
			select {
			case <-g.exited:
				if g.exitErr != nil {
					t.Errorf("wsgate exited with %v", g.exitErr)
				}
			case <-time.After(10 * time.Second):
				t.Error("wsgate still running 10s after SIGTERM")
			}
		})
	}
}
