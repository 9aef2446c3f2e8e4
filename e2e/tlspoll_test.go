package e2e

import (
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestTLSPoll runs wss:// connections through the gateway's poller: idle
// ones hold no goroutine, and they read and write as before — many small
// messages, one larger than a TLS record, and every way of ending.
func TestTLSPoll(t *testing.T) {
	pki := newTestPKI(t, "client")
	g := startTLSGateway(t, `
tls:
  cert_file: `+pki.serverCert+`
  key_file: `+pki.serverKy+`
`, pki.clientTLS())
	nc := natsConn(t, g.NATSURL)
	url := "wss://" + g.Addr + "/"
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: pki.clientTLS()}, Timeout: 10 * time.Second}
	t.Cleanup(hc.CloseIdleConnections)
	gauge := func(name string) float64 {
		t.Helper()
		resp, err := hc.Get("https://" + g.Addr + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		sum := 0.0
		for line := range strings.SplitSeq(string(b), "\n") {
			series, val, ok := strings.Cut(line, " ")
			if ok && (series == name || strings.HasPrefix(series, name+"{")) {
				var f float64
				fmt.Sscan(val, &f)
				sum += f
			}
		}
		return sum
	}
	d := &websocket.Dialer{TLSClientConfig: pki.clientTLS(), HandshakeTimeout: 10 * time.Second}

	first := dialWith(t, d, url, nil)
	first.subscribe("tlspoll.0")
	builtinBarrier(t, nc, first)
	before := gauge("go_goroutines")

	const n = 40
	clients := []*client{first}
	for i := 1; i < n; i++ {
		c := dialWith(t, d, url, nil)
		c.subscribe(fmt.Sprintf("tlspoll.%d", i))
		clients = append(clients, c)
	}
	// A blocking reader each would be n-1 goroutines more.
	idle := func() {
		t.Helper()
		eventually(t, 10*time.Second, func() error {
			if g := gauge("go_goroutines"); g > before+5 {
				return fmt.Errorf("%d idle wss connections: %v goroutines, %v with one", n, g, before)
			}
			return nil
		})
	}
	idle()

	t.Run("deliveries, one larger than a TLS record", func(t *testing.T) {
		big := `"` + strings.Repeat("0123456789abcdef", 100<<10/16) + `"`
		for i, c := range clients {
			data := fmt.Sprintf(`{"n":%d}`, i)
			if i == 7 {
				data = big
			}
			if err := nc.Publish(fmt.Sprintf("tlspoll.%d", i), []byte(data)); err != nil {
				t.Fatal(err)
			}
			if f := c.with(t).expect("message"); string(f.Data) != data {
				t.Fatalf("client %d got %d bytes, want %d", i, len(f.Data), len(data))
			}
		}
	})
	idle()

	t.Run("many publishes in a burst", func(t *testing.T) {
		sub := workerSub(t, nc, "tlspoll.up")
		const msgs = 500
		var burst []byte
		for i := range msgs {
			burst = fmt.Appendf(burst[:0], `{"action":"publish","subject":"tlspoll.up","data":%d}`, i)
			if err := first.Conn.WriteMessage(websocket.TextMessage, burst); err != nil {
				t.Fatal(err)
			}
		}
		for i := range msgs {
			if m := nextMsg(t, sub); string(m.Data) != fmt.Sprint(i) {
				t.Fatalf("worker got %q, want %d", m.Data, i)
			}
		}
	})
	idle()

	t.Run("ends", func(t *testing.T) {
		open := gauge("wsgate_connections")
		// A close frame, a bare close_notify, a TCP close.
		_ = clients[1].Conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(1000, "bye"), time.Now().Add(time.Second))
		if err := clients[2].Conn.UnderlyingConn().(*tls.Conn).CloseWrite(); err != nil {
			t.Fatal(err)
		}
		_ = clients[3].Conn.UnderlyingConn().(*tls.Conn).NetConn().Close()
		eventually(t, 10*time.Second, func() error {
			if g := gauge("wsgate_connections"); g != open-3 {
				return fmt.Errorf("%v connections open, want %v", g, open-3)
			}
			return nil
		})
	})
}
