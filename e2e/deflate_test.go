package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// deflateDialer is a gorilla dialer offering permessage-deflate whose
// connections count the bytes they read, n.
func deflateDialer(n *atomic.Int64) *websocket.Dialer {
	return &websocket.Dialer{
		HandshakeTimeout:  10 * time.Second,
		EnableCompression: true,
		NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &countingConn{Conn: c, n: n}, nil
		},
	}
}

type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// quotes2K is a 2 KiB JSON document of the kind that compresses well.
func quotes2K() []byte {
	var b strings.Builder
	b.WriteString(`{"quotes":[`)
	for i := 0; b.Len() < 2000; i++ {
		fmt.Fprintf(&b, `{"id":%d,"symbol":"SYM%d","price":%d.%02d,"volume":%d,"side":"buy"},`, i, i%37, 100+i*7%91, i%100, 1000+i*13)
	}
	b.WriteString(`{}]}`)
	return []byte(b.String())
}

// TestDeflateGorilla: gorilla clients with EnableCompression against the
// binary, over JSON and STOMP: negotiated, compressed both ways, one
// compressed frame read by every compressing subscriber, a bomb closed
// with 1009; with compression off, nothing is negotiated.
func TestDeflateGorilla(t *testing.T) {
	g := startGateway(t, gwOpts{})
	nc := natsConn(t, g.NATSURL)
	doc := quotes2K()

	t.Run("json", func(t *testing.T) {
		var zn, pn atomic.Int64
		var zs []*client
		for range 3 {
			c := dialWith(t, deflateDialer(&zn), g.WS("/"), nil)
			if got := c.Resp.Header.Get("Sec-WebSocket-Extensions"); !strings.HasPrefix(got, "permessage-deflate; server_no_context_takeover") {
				t.Fatalf("Sec-WebSocket-Extensions %q", got)
			}
			c.subscribe("deflate.quotes") // sent compressed by gorilla
			zs = append(zs, c)
		}
		pd := deflateDialer(&pn)
		pd.EnableCompression = false
		plain := dialWith(t, pd, g.WS("/"), nil)
		plain.subscribe("deflate.quotes")
		z0, p0 := zn.Load(), pn.Load()
		if err := nc.Publish("deflate.quotes", doc); err != nil {
			t.Fatal(err)
		}
		for _, c := range append(zs, plain) {
			f := c.expect("message")
			if string(f.Data) != string(doc) {
				t.Fatalf("data differs: %d bytes, want %d", len(f.Data), len(doc))
			}
		}
		zb, pb := (zn.Load()-z0)/3, pn.Load()-p0
		t.Logf("a 2 KiB JSON message: %d bytes on the wire compressed, %d plain", zb, pb)
		if pb < int64(len(doc)) || zb > pb/2 {
			t.Errorf("bytes read: %d compressed, %d plain", zb, pb)
		}
		// A client's compressed publish reaches NATS inflated.
		sub, _ := nc.SubscribeSync("deflate.in")
		nc.Flush()
		zs[0].send(`{"action":"publish","subject":"deflate.in","data":` + string(doc) + `}`)
		if m := nextMsg(t, sub); string(m.Data) != string(doc) {
			t.Fatalf("published %d bytes, want %d", len(m.Data), len(doc))
		}
	})

	t.Run("stomp", func(t *testing.T) {
		var n atomic.Int64
		c := dialWith(t, deflateDialer(&n), g.WS("/stomp"), http.Header{"Sec-Websocket-Protocol": {"v12.stomp"}})
		if c.Resp.Header.Get("Sec-WebSocket-Extensions") == "" {
			t.Fatal("no permessage-deflate on the STOMP connection")
		}
		c.send("CONNECT\naccept-version:1.2\nhost:/\n\n\x00")
		if f := string(c.read(10 * time.Second)); !strings.HasPrefix(f, "CONNECTED\n") {
			t.Fatalf("got %q", f)
		}
		c.send("SUBSCRIBE\nid:0\ndestination:/topic/deflate.stomp\nreceipt:r1\n\n\x00")
		if f := string(c.read(10 * time.Second)); !strings.HasPrefix(f, "RECEIPT\n") {
			t.Fatalf("got %q", f)
		}
		n0 := n.Load()
		if err := nc.Publish("deflate.stomp", doc); err != nil {
			t.Fatal(err)
		}
		f := string(c.read(10 * time.Second))
		if !strings.HasPrefix(f, "MESSAGE\n") || !strings.HasSuffix(f, "\n\n"+string(doc)+"\x00") {
			t.Fatalf("got %q", f)
		}
		if wire := n.Load() - n0; wire > int64(len(doc))/2 {
			t.Errorf("a %d-byte MESSAGE took %d bytes on the wire", len(f), wire)
		}
	})

	t.Run("bomb", func(t *testing.T) {
		var n atomic.Int64
		c := dialWith(t, deflateDialer(&n), g.WS("/"), nil)
		if err := c.Conn.WriteMessage(websocket.TextMessage, []byte(strings.Repeat(" ", 2<<20))); err != nil {
			t.Fatal(err)
		}
		if ce := c.closeErr(10 * time.Second); ce.Code != websocket.CloseMessageTooBig {
			t.Fatalf("close %d %q, want 1009", ce.Code, ce.Text)
		}
	})

	t.Run("off", func(t *testing.T) {
		off := startGateway(t, gwOpts{Config: "gateway:\n  compression: \"off\"\n"})
		var n atomic.Int64
		c := dialWith(t, deflateDialer(&n), off.WS("/"), nil)
		if got := c.Resp.Header.Get("Sec-WebSocket-Extensions"); got != "" {
			t.Fatalf("Sec-WebSocket-Extensions %q with compression off", got)
		}
		c.subscribe("deflate.off")
	})
}

// TestDeflateNode: Node's ws client, which keeps its compression window
// across messages unless told not to, against both client-side modes.
func TestDeflateNode(t *testing.T) {
	node, dir := nodeModules(t, "js", "ws")
	for _, mode := range []string{"no_context_takeover", "on"} {
		t.Run(mode, func(t *testing.T) {
			g := startGateway(t, gwOpts{Config: "gateway:\n  compression: " + mode + "\n"})
			cmd := exec.Command(node, "--test", "deflate.test.mjs")
			cmd.Dir = dir
			ctx := "0"
			if mode == "on" {
				ctx = "1"
			}
			cmd.Env = append(os.Environ(), "WSGATE_URL="+g.WS("/"), "WSGATE_CONTEXT="+ctx)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("node --test e2e/js/deflate.test.mjs: %v\n%s", err, out)
			}
			t.Logf("%s", out)
		})
	}
}
