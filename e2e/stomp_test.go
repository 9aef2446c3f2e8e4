package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-stomp/stomp/v3"
	"github.com/gorilla/websocket"
	"github.com/nats-io/nats.go"
)

// STOMP over WebSocket against the built gateway, with go-stomp as the
// client library, a raw client for what a library will not send, and
// @stomp/stompjs under Node (TestSTOMPNode).

// stompWSStream is the io.ReadWriteCloser go-stomp wants, over a WebSocket: it
// reads the messages' bytes as one stream and writes each of go-stomp's
// buffered writes as one binary message (a write may end inside a UTF-8
// sequence, which a text message may not).
type stompWSStream struct {
	c   *websocket.Conn
	r   io.Reader
	wmu sync.Mutex
}

func (w *stompWSStream) Read(p []byte) (int, error) {
	for {
		if w.r == nil {
			_, r, err := w.c.NextReader()
			if err != nil {
				return 0, err
			}
			w.r = r
		}
		n, err := w.r.Read(p)
		if err == io.EOF {
			w.r = nil
			if n > 0 {
				return n, nil
			}
			continue
		}
		return n, err
	}
}

func (w *stompWSStream) Write(p []byte) (int, error) {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	if err := w.c.WriteMessage(websocket.BinaryMessage, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (w *stompWSStream) Close() error { return w.c.Close() }

// dialSTOMP connects go-stomp to the gateway over WebSocket (subprotocol
// v12.stomp on /).
func dialSTOMP(t *testing.T, g *gateway, opts ...func(*stomp.Conn) error) *stomp.Conn {
	t.Helper()
	sc, err := tryDialSTOMP(t, g, opts...)
	if err != nil {
		t.Fatalf("stomp connect: %v", err)
	}
	return sc
}

func tryDialSTOMP(t *testing.T, g *gateway, opts ...func(*stomp.Conn) error) (*stomp.Conn, error) {
	t.Helper()
	d := websocket.Dialer{Subprotocols: []string{"v12.stomp"}, HandshakeTimeout: 10 * time.Second}
	c, resp, err := d.Dial(g.WS("/"), nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	if got := resp.Header.Get("Sec-WebSocket-Protocol"); got != "v12.stomp" {
		t.Fatalf("subprotocol %q, want v12.stomp", got)
	}
	base := []func(*stomp.Conn) error{stomp.ConnOpt.Host("wsgate"), stomp.ConnOpt.Logger(stompQuiet{})}
	sc, err := stomp.Connect(&stompWSStream{c: c}, append(base, opts...)...)
	if err != nil {
		c.Close()
		return nil, err
	}
	t.Cleanup(func() { _ = sc.MustDisconnect() })
	return sc, nil
}

// stompQuiet silences go-stomp's logger, which reports every
// subscription a disconnect ends; its goroutines may outlive the test, so
// it must not write to the test's log.
type stompQuiet struct{}

func (stompQuiet) Debugf(string, ...any)   {}
func (stompQuiet) Infof(string, ...any)    {}
func (stompQuiet) Warningf(string, ...any) {}
func (stompQuiet) Errorf(string, ...any)   {}
func (stompQuiet) Debug(string)            {}
func (stompQuiet) Info(string)             {}
func (stompQuiet) Warning(string)          {}
func (stompQuiet) Error(string)            {}

// stompBarrier makes every SUBSCRIBE sc sent so far live in NATS: the
// gateway sends a connection's NATS traffic in order, so once a later SEND
// reaches a worker the subscriptions before it are in place.
func stompBarrier(t *testing.T, nc *nats.Conn, sc *stomp.Conn) {
	t.Helper()
	sub, err := nc.SubscribeSync("e2e.stomp.barrier")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := sc.Send("e2e.stomp.barrier", "", []byte("b")); err != nil {
		t.Fatal(err)
	}
	nextMsg(t, sub)
}

// nextSTOMP waits for a message on a go-stomp subscription.
func nextSTOMP(t *testing.T, sub *stomp.Subscription) *stomp.Message {
	t.Helper()
	select {
	case m, ok := <-sub.C:
		if !ok {
			t.Fatalf("subscription %s closed", sub.Destination())
		}
		if m.Err != nil {
			t.Fatalf("subscription %s: %v", sub.Destination(), m.Err)
		}
		return m
	case <-time.After(10 * time.Second):
		t.Fatalf("no message on %s", sub.Destination())
	}
	return nil
}

// noSTOMP checks that sub gets nothing for a moment.
func noSTOMP(t *testing.T, sub *stomp.Subscription, d time.Duration) {
	t.Helper()
	select {
	case m := <-sub.C:
		t.Fatalf("unexpected message on %s: %q", sub.Destination(), m.Body)
	case <-time.After(d):
	}
}

// rawSTOMP is a STOMP client that writes frames by hand.
type rawSTOMP struct {
	t *testing.T
	c *websocket.Conn
	// closeCode is the close frame's code, once expectErrorClose has
	// read it.
	closeCode int
}

// stompFrame is a frame the raw client read.
type stompFrame struct {
	cmd  string
	hdr  map[string]string // first value of each header
	body string
}

func dialStompRaw(t *testing.T, g *gateway, path string, subprotocols ...string) *rawSTOMP {
	t.Helper()
	d := websocket.Dialer{Subprotocols: subprotocols, HandshakeTimeout: 10 * time.Second}
	c, resp, err := d.Dial(g.WS(path), nil)
	if err != nil {
		t.Fatalf("dial %s: %v", path, err)
	}
	if len(subprotocols) > 0 && resp.Header.Get("Sec-WebSocket-Protocol") != subprotocols[0] {
		t.Fatalf("subprotocol %q, want %q", resp.Header.Get("Sec-WebSocket-Protocol"), subprotocols[0])
	}
	t.Cleanup(func() { c.Close() })
	return &rawSTOMP{t: t, c: c}
}

func (r *rawSTOMP) send(wire string) {
	r.t.Helper()
	if err := r.c.WriteMessage(websocket.TextMessage, []byte(wire)); err != nil {
		r.t.Fatalf("write: %v", err)
	}
}

// next reads the next frame, skipping heart-beats.
func (r *rawSTOMP) next() stompFrame {
	r.t.Helper()
	for {
		_ = r.c.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, b, err := r.c.ReadMessage()
		if err != nil {
			r.t.Fatalf("read: %v", err)
		}
		if len(bytes.Trim(b, "\r\n")) == 0 {
			continue
		}
		return parseStompFrame(r.t, b)
	}
}

func parseStompFrame(t *testing.T, b []byte) stompFrame {
	t.Helper()
	head, body, ok := bytes.Cut(b, []byte("\n\n"))
	if !ok || len(body) == 0 || body[len(body)-1] != 0 {
		t.Fatalf("not a STOMP frame: %q", b)
	}
	lines := strings.Split(string(head), "\n")
	f := stompFrame{cmd: lines[0], hdr: map[string]string{}, body: string(body[:len(body)-1])}
	for _, l := range lines[1:] {
		k, v, _ := strings.Cut(l, ":")
		if _, seen := f.hdr[k]; !seen {
			f.hdr[k] = v
		}
	}
	return f
}

// expect reads the next frame and checks its command.
func (r *rawSTOMP) expect(cmd string) stompFrame {
	r.t.Helper()
	f := r.next()
	if f.cmd != cmd {
		r.t.Fatalf("got %s %v %q, want %s", f.cmd, f.hdr, f.body, cmd)
	}
	return f
}

// expectErrorClose reads an ERROR frame and then the close.
func (r *rawSTOMP) expectErrorClose(msg string) stompFrame {
	r.t.Helper()
	f := r.expect("ERROR")
	if !strings.Contains(f.hdr["message"], msg) {
		r.t.Errorf("ERROR message %q, want %q (body %q)", f.hdr["message"], msg, f.body)
	}
	for {
		_ = r.c.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, b, err := r.c.ReadMessage()
		if err == nil {
			if len(bytes.Trim(b, "\r\n")) == 0 {
				continue
			}
			r.t.Fatalf("a frame after ERROR: %q", b)
		}
		var ce *websocket.CloseError
		if !errors.As(err, &ce) {
			r.t.Fatalf("no close frame after ERROR: %v", err)
		}
		r.closeCode = ce.Code
		return f
	}
}

// connect sends CONNECT with the given header lines and expects CONNECTED.
func (r *rawSTOMP) connect(headers ...string) stompFrame {
	r.t.Helper()
	r.send("CONNECT\n" + strings.Join(append(headers, ""), "\n") + "\n\x00")
	return r.expect("CONNECTED")
}

func TestSTOMPConnect(t *testing.T) {
	g := startGateway(t, gwOpts{})
	for _, tc := range []struct {
		name, path, subproto, accept, want string
	}{
		{"v12", "/", "v12.stomp", "accept-version:1.0,1.1,1.2", "1.2"},
		{"v11", "/", "v11.stomp", "accept-version:1.0,1.1", "1.1"},
		{"v10 without accept-version", "/", "v10.stomp", "", "1.0"},
		{"path alias", "/stomp", "", "accept-version:1.2", "1.2"},
		{"1.2 over v10 token", "/", "v10.stomp", "accept-version:1.2", "1.2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var subs []string
			if tc.subproto != "" {
				subs = []string{tc.subproto}
			}
			r := dialStompRaw(t, g, tc.path, subs...)
			var hdrs []string
			if tc.accept != "" {
				hdrs = append(hdrs, tc.accept)
			}
			f := r.connect(append(hdrs, "host:x")...)
			if v := f.hdr["version"]; v != tc.want && !(tc.want == "1.0" && v == "") {
				t.Errorf("version %q, want %s", v, tc.want)
			}
			if !strings.HasPrefix(f.hdr["server"], "wsgate/") || f.hdr["session"] == "" {
				t.Errorf("CONNECTED headers %v", f.hdr)
			}
			r.send("DISCONNECT\nreceipt:bye\n\n\x00")
			if rf := r.expect("RECEIPT"); rf.hdr["receipt-id"] != "bye" {
				t.Errorf("receipt %v", rf.hdr)
			}
		})
	}
	t.Run("STOMP command", func(t *testing.T) {
		r := dialStompRaw(t, g, "/", "v12.stomp")
		r.send("STOMP\naccept-version:1.2\nhost:x\n\n\x00")
		r.expect("CONNECTED")
	})
	t.Run("offered tokens", func(t *testing.T) {
		d := websocket.Dialer{Subprotocols: []string{"v10.stomp", "v11.stomp", "v12.stomp"}}
		c, resp, err := d.Dial(g.WS("/"), nil)
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		if p := resp.Header.Get("Sec-WebSocket-Protocol"); !strings.HasSuffix(p, ".stomp") {
			t.Errorf("subprotocol %q", p)
		}
	})
	t.Run("unsupported version", func(t *testing.T) {
		r := dialStompRaw(t, g, "/", "v12.stomp")
		r.send("CONNECT\naccept-version:2.0\n\n\x00")
		f := r.expectErrorClose("unsupported protocol version")
		if f.hdr["version"] != "1.0,1.1,1.2" {
			t.Errorf("version header %q", f.hdr["version"])
		}
	})
	t.Run("go-stomp", func(t *testing.T) {
		sc := dialSTOMP(t, g)
		if sc.Version() != stomp.V12 || sc.Session() == "" || !strings.HasPrefix(sc.Server(), "wsgate/") {
			t.Errorf("version %s session %q server %q", sc.Version(), sc.Session(), sc.Server())
		}
		if err := sc.Disconnect(); err != nil {
			t.Errorf("disconnect (waits for the receipt): %v", err)
		}
	})
}

// TestSTOMPMessaging covers SEND, SUBSCRIBE, wildcards, queues,
// request-reply, receipts, transactions, acks and pushes with go-stomp.
func TestSTOMPMessaging(t *testing.T) {
	g := startGateway(t, gwOpts{})
	nc := natsConn(t, g.NATSURL)

	t.Run("SEND reaches a worker with headers", func(t *testing.T) {
		sc := dialSTOMP(t, g)
		sub, _ := nc.SubscribeSync("orders.new")
		nc.Flush()
		err := sc.Send("/topic/orders.new", "application/json", []byte(`{"id":1}`),
			stomp.SendOpt.Header("x-trace", "t-1"), stomp.SendOpt.Header("Wsgate-Principal", "forged"), stomp.SendOpt.Receipt)
		if err != nil {
			t.Fatal(err)
		}
		m := nextMsg(t, sub)
		if string(m.Data) != `{"id":1}` {
			t.Errorf("body %q", m.Data)
		}
		for k, want := range map[string]string{
			"x-trace": "t-1", "Content-Type": "application/json", "Wsgate-Protocol": "stomp",
			"Wsgate-Connection-Id": sc.Session(), "Wsgate-Principal": "",
		} {
			if got := m.Header.Get(k); got != want {
				t.Errorf("header %s = %q, want %q", k, got, want)
			}
		}
		if _, ok := m.Header["destination"]; ok {
			t.Errorf("STOMP header leaked to NATS: %v", m.Header)
		}
	})

	t.Run("bare and queue destinations publish to the subject", func(t *testing.T) {
		sc := dialSTOMP(t, g)
		sub, _ := nc.SubscribeSync("plain.>")
		nc.Flush()
		for _, d := range []string{"plain.a", "/queue/plain.b"} {
			if err := sc.Send(d, "text/plain", []byte(d)); err != nil {
				t.Fatal(err)
			}
		}
		for _, want := range []string{"plain.a", "plain.b"} {
			if m := nextMsg(t, sub); m.Subject != want {
				t.Errorf("subject %q, want %q", m.Subject, want)
			}
		}
	})

	t.Run("NATS to SUBSCRIBE, with wildcards and headers", func(t *testing.T) {
		sc := dialSTOMP(t, g)
		all, err := sc.Subscribe("/topic/chat.>", stomp.AckAuto)
		if err != nil {
			t.Fatal(err)
		}
		one, err := sc.Subscribe("/topic/chat.*.b", stomp.AckAuto)
		if err != nil {
			t.Fatal(err)
		}
		stompBarrier(t, nc, sc)
		m := nats.NewMsg("chat.room1")
		m.Data = []byte("hello\x00binary")
		m.Header.Set("Content-Type", "application/octet-stream")
		m.Header.Set("x-from", "worker")
		m.Header.Set("Wsgate-Source-Ip", "10.1.1.1")
		if err := nc.PublishMsg(m); err != nil {
			t.Fatal(err)
		}
		got := nextSTOMP(t, all)
		if string(got.Body) != "hello\x00binary" || got.Destination != "/topic/chat.room1" ||
			got.ContentType != "application/octet-stream" || got.Header.Get("x-from") != "worker" {
			t.Errorf("MESSAGE %q dest %q type %q headers %v", got.Body, got.Destination, got.ContentType, got.Header)
		}
		if got.Header.Get("Wsgate-Source-Ip") != "" {
			t.Errorf("gateway header reached the client: %v", got.Header)
		}
		if err := nc.Publish("chat.x.b", []byte("2")); err != nil {
			t.Fatal(err)
		}
		if b := nextSTOMP(t, one); string(b.Body) != "2" {
			t.Errorf("%q", b.Body)
		}
		if b := nextSTOMP(t, all); string(b.Body) != "2" {
			t.Errorf("%q", b.Body)
		}
		noSTOMP(t, one, 100*time.Millisecond)
	})

	t.Run("queue: each message to exactly one subscriber", func(t *testing.T) {
		a, b := dialSTOMP(t, g), dialSTOMP(t, g)
		sa, err := a.Subscribe("/queue/work", stomp.AckAuto)
		if err != nil {
			t.Fatal(err)
		}
		sb, err := b.Subscribe("/queue/work", stomp.AckAuto)
		if err != nil {
			t.Fatal(err)
		}
		stompBarrier(t, nc, a)
		stompBarrier(t, nc, b)
		const n = 40
		for i := range n {
			if err := nc.Publish("work", []byte(fmt.Sprint(i))); err != nil {
				t.Fatal(err)
			}
		}
		seen := map[string]int{}
		per := map[string]int{}
		for range n {
			select {
			case m := <-sa.C:
				seen[string(m.Body)]++
				per["a"]++
			case m := <-sb.C:
				seen[string(m.Body)]++
				per["b"]++
			case <-time.After(10 * time.Second):
				t.Fatalf("got %d of %d", len(seen), n)
			}
		}
		noSTOMP(t, sa, 100*time.Millisecond)
		noSTOMP(t, sb, 10*time.Millisecond)
		for k, c := range seen {
			if c != 1 {
				t.Errorf("message %s delivered %d times", k, c)
			}
		}
		if len(seen) != n {
			t.Errorf("%d distinct messages, want %d", len(seen), n)
		}
		t.Logf("distribution %v", per)
	})

	t.Run("request-reply through /temp-queue", func(t *testing.T) {
		w, err := nc.QueueSubscribe("rpc.echo", "workers", func(m *nats.Msg) {
			r := nats.NewMsg(m.Reply)
			r.Data = append([]byte("re:"), m.Data...)
			r.Header.Set("x-worker", "1")
			_ = m.RespondMsg(r)
		})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Unsubscribe()
		nc.Flush()
		sc := dialSTOMP(t, g)
		// go-stomp keeps a temp-queue subscription to itself (no SUBSCRIBE
		// goes out) and routes MESSAGEs whose subscription is the
		// destination: the gateway's answer for a temp-queue nobody
		// subscribed to.
		replies, err := sc.Subscribe("/temp-queue/r1", stomp.AckAuto, stomp.SubscribeOpt.Header("reply-to", "/temp-queue/r1"))
		if err != nil {
			t.Fatal(err)
		}
		if err := sc.Send("rpc.echo", "text/plain", []byte("ping"), stomp.SendOpt.Header("reply-to", "/temp-queue/r1")); err != nil {
			t.Fatal(err)
		}
		m := nextSTOMP(t, replies)
		if string(m.Body) != "re:ping" || m.Destination != "/temp-queue/r1" || m.Header.Get("x-worker") != "1" {
			t.Errorf("reply %q dest %q headers %v", m.Body, m.Destination, m.Header)
		}
		// With a real SUBSCRIBE, the reply carries its id.
		r := dialStompRaw(t, g, "/", "v12.stomp")
		r.connect("accept-version:1.2", "host:x")
		r.send("SUBSCRIBE\nid:mine\ndestination:/temp-queue/r2\n\n\x00SEND\ndestination:rpc.echo\nreply-to:/temp-queue/r2\n\nx\x00")
		f := r.expect("MESSAGE")
		if f.hdr["subscription"] != "mine" || f.hdr["destination"] != "/temp-queue/r2" || f.body != "re:x" {
			t.Errorf("reply %v %q", f.hdr, f.body)
		}
		// No worker: the reply says so, and the connection lives on.
		r.send("SEND\ndestination:rpc.nobody\nreply-to:/temp-queue/r2\n\nx\x00")
		f = r.expect("MESSAGE")
		if f.hdr["error"] != "no-responders" || f.hdr["subscription"] != "mine" {
			t.Errorf("no-responders reply %v %q", f.hdr, f.body)
		}
		r.send("SEND\ndestination:a.b\nreceipt:alive\n\n\x00")
		r.expect("RECEIPT")
	})

	t.Run("receipts", func(t *testing.T) {
		r := dialStompRaw(t, g, "/", "v12.stomp")
		r.connect("accept-version:1.2", "host:x")
		r.send("SUBSCRIBE\nid:s1\ndestination:/topic/rc\nreceipt:1\n\n\x00" +
			"SEND\ndestination:rc.x\nreceipt:2\n\n\x00" +
			"UNSUBSCRIBE\nid:s1\nreceipt:3\n\n\x00" +
			"BEGIN\ntransaction:t\nreceipt:4\n\n\x00" +
			"ABORT\ntransaction:t\nreceipt:5\n\n\x00" +
			"DISCONNECT\nreceipt:6\n\n\x00")
		for i := 1; i <= 6; i++ {
			if f := r.expect("RECEIPT"); f.hdr["receipt-id"] != fmt.Sprint(i) {
				t.Errorf("receipt-id %q, want %d", f.hdr["receipt-id"], i)
			}
		}
		_ = r.c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, b, err := r.c.ReadMessage()
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != websocket.CloseNormalClosure {
			t.Errorf("after DISCONNECT: %q %v, want a normal close", b, err)
		}
	})

	t.Run("transactions", func(t *testing.T) {
		sc := dialSTOMP(t, g)
		sub, _ := nc.SubscribeSync("tx.>")
		nc.Flush()
		tx := sc.Begin()
		for i := range 3 {
			if err := tx.Send("tx.commit", "", []byte(fmt.Sprint(i))); err != nil {
				t.Fatal(err)
			}
		}
		if m, err := sub.NextMsg(200 * time.Millisecond); err == nil {
			t.Fatalf("%q published before COMMIT", m.Data)
		}
		if err := tx.CommitWithReceipt(); err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			if m := nextMsg(t, sub); m.Subject != "tx.commit" || string(m.Data) != fmt.Sprint(i) {
				t.Errorf("%s %q, want tx.commit %d", m.Subject, m.Data, i)
			}
		}
		tx = sc.Begin()
		if err := tx.Send("tx.abort", "", []byte("no")); err != nil {
			t.Fatal(err)
		}
		if err := tx.AbortWithReceipt(); err != nil {
			t.Fatal(err)
		}
		if err := sc.Send("tx.after", "", []byte("after"), stomp.SendOpt.Receipt); err != nil {
			t.Fatal(err)
		}
		if m := nextMsg(t, sub); m.Subject != "tx.after" {
			t.Errorf("got %s %q after ABORT, want tx.after", m.Subject, m.Data)
		}
		// A transaction still open at DISCONNECT is dropped.
		r := dialStompRaw(t, g, "/", "v12.stomp")
		r.connect("accept-version:1.2", "host:x")
		r.send("BEGIN\ntransaction:t\n\n\x00SEND\ndestination:tx.dropped\ntransaction:t\n\nx\x00DISCONNECT\nreceipt:d\n\n\x00")
		r.expect("RECEIPT")
		if err := sc.Send("tx.after", "", []byte("after2"), stomp.SendOpt.Receipt); err != nil {
			t.Fatal(err)
		}
		if m := nextMsg(t, sub); m.Subject != "tx.after" {
			t.Errorf("got %s %q after a DISCONNECT mid-transaction, want tx.after", m.Subject, m.Data)
		}
	})

	t.Run("acks", func(t *testing.T) {
		sc := dialSTOMP(t, g)
		for _, mode := range []stomp.AckMode{stomp.AckClient, stomp.AckClientIndividual} {
			sub, err := sc.Subscribe("/topic/acks."+mode.String(), mode)
			if err != nil {
				t.Fatal(err)
			}
			stompBarrier(t, nc, sc)
			nc.Publish("acks."+mode.String(), []byte("1"))
			nc.Publish("acks."+mode.String(), []byte("2"))
			m1, m2 := nextSTOMP(t, sub), nextSTOMP(t, sub)
			if m1.Header.Get("ack") == "" {
				t.Errorf("%s: no ack header in %v", mode, m1.Header)
			}
			if err := sc.Nack(m1); err != nil {
				t.Fatal(err)
			}
			if err := sc.Ack(m2); err != nil {
				t.Fatal(err)
			}
		}
		auto, err := sc.Subscribe("/topic/acks.auto", stomp.AckAuto)
		if err != nil {
			t.Fatal(err)
		}
		stompBarrier(t, nc, sc)
		nc.Publish("acks.auto", []byte("1"))
		if m := nextSTOMP(t, auto); m.Header.Get("ack") != "" {
			t.Errorf("ack header on an auto subscription: %v", m.Header)
		}
		if err := sc.Send("a.b", "", nil, stomp.SendOpt.Receipt); err != nil {
			t.Errorf("connection after acks: %v", err)
		}
	})

	t.Run("worker push", func(t *testing.T) {
		sc := dialSTOMP(t, g)
		pushes, err := sc.Subscribe("/user/queue/push", stomp.AckAuto)
		if err != nil {
			t.Fatal(err)
		}
		alerts, err := sc.Subscribe("/user/alerts", stomp.AckAuto)
		if err != nil {
			t.Fatal(err)
		}
		stompBarrier(t, nc, sc)
		if err := nc.Publish("wsgate.conn."+sc.Session()+".send", []byte("hi")); err != nil {
			t.Fatal(err)
		}
		if m := nextSTOMP(t, pushes); string(m.Body) != "hi" || m.Destination != "/user/queue/push" {
			t.Errorf("push %q to %q", m.Body, m.Destination)
		}
		m := nats.NewMsg("wsgate.conn." + sc.Session() + ".send")
		m.Header.Set("destination", "/user/alerts")
		m.Data = []byte("alert")
		if err := nc.PublishMsg(m); err != nil {
			t.Fatal(err)
		}
		if m := nextSTOMP(t, alerts); string(m.Body) != "alert" {
			t.Errorf("push %q", m.Body)
		}
	})
}

// TestSTOMPVersions runs messaging and acks with STOMP 1.0 and 1.1
// clients: 1.1 acknowledges by message-id, 1.0 has no escaping and no
// client-individual.
func TestSTOMPVersions(t *testing.T) {
	g := startGateway(t, gwOpts{})
	nc := natsConn(t, g.NATSURL)
	for _, tc := range []struct {
		v    stomp.Version
		mode stomp.AckMode
	}{{stomp.V10, stomp.AckClient}, {stomp.V11, stomp.AckClientIndividual}, {stomp.V12, stomp.AckClient}} {
		t.Run(string(tc.v), func(t *testing.T) {
			sc := dialSTOMP(t, g, stomp.ConnOpt.AcceptVersion(tc.v))
			if sc.Version() != tc.v {
				t.Fatalf("negotiated %s, want %s", sc.Version(), tc.v)
			}
			dest := "/topic/ver." + strings.ReplaceAll(string(tc.v), ".", "_")
			sub, err := sc.Subscribe(dest, tc.mode)
			if err != nil {
				t.Fatal(err)
			}
			stompBarrier(t, nc, sc)
			m := nats.NewMsg(strings.TrimPrefix(dest, "/topic/"))
			m.Header.Set("x-colon", "a:b")
			m.Data = []byte("v")
			nc.PublishMsg(m)
			got := nextSTOMP(t, sub)
			if string(got.Body) != "v" || got.Header.Get("x-colon") != "a:b" {
				t.Errorf("MESSAGE %q %v", got.Body, got.Header)
			}
			if err := sc.Ack(got); err != nil {
				t.Fatal(err)
			}
			if err := sc.Send("a.b", "", nil, stomp.SendOpt.Receipt); err != nil {
				t.Errorf("after ACK: %v", err)
			}
		})
	}
}

// TestSTOMPServerClose: a close the server starts reaches the client as an
// ERROR frame before the WebSocket close.
func TestSTOMPServerClose(t *testing.T) {
	g := startGateway(t, gwOpts{})
	nc := natsConn(t, g.NATSURL)
	r := dialStompRaw(t, g, "/", "v12.stomp")
	f := r.connect("accept-version:1.2", "host:x")
	if err := nc.Publish("wsgate.conn."+f.hdr["session"]+".close", []byte(`{"code":4001,"reason":"kicked"}`)); err != nil {
		t.Fatal(err)
	}
	if e := r.expectErrorClose("kicked"); !strings.Contains(e.body, "4001") {
		t.Errorf("ERROR body %q", e.body)
	}
}

// TestSTOMPRateLimit: a frame over the message rate ends the connection
// with an ERROR (a STOMP stream cannot drop half a frame).
func TestSTOMPRateLimit(t *testing.T) {
	g := startGateway(t, gwOpts{Config: `
gateway:
  limits:
    message_rate: 1
    message_burst: 3
`})
	r := dialStompRaw(t, g, "/", "v12.stomp")
	r.connect("accept-version:1.2", "host:x")
	for range 5 {
		r.send("SEND\ndestination:a.b\n\n\x00")
	}
	r.expectErrorClose("rate limit")
}

// TestSTOMPHeartBeat: the gateway sends heart-beats at the agreed interval
// and closes a client that stops sending its own with an ERROR.
func TestSTOMPHeartBeat(t *testing.T) {
	g := startGateway(t, gwOpts{Config: `
stomp:
  heartbeat_send: 200ms
  heartbeat_receive: 200ms
`})
	r := dialStompRaw(t, g, "/", "v12.stomp")
	f := r.connect("accept-version:1.2", "host:x", "heart-beat:100,100")
	if f.hdr["heart-beat"] != "200,200" {
		t.Errorf("CONNECTED heart-beat %q, want 200,200", f.hdr["heart-beat"])
	}
	// A client that beats every 100ms stays connected while it does.
	type msg struct {
		b   []byte
		err error
	}
	in := make(chan msg, 100)
	go func() {
		for {
			_ = r.c.SetReadDeadline(time.Now().Add(10 * time.Second))
			_, b, err := r.c.ReadMessage()
			in <- msg{b, err}
			if err != nil {
				close(in)
				return
			}
		}
	}()
	beats := 0
	tick := time.NewTicker(100 * time.Millisecond)
	for end := time.Now().Add(time.Second); time.Now().Before(end); {
		select {
		case <-tick.C:
			if err := r.c.WriteMessage(websocket.TextMessage, []byte("\n")); err != nil {
				t.Fatal(err)
			}
		case m := <-in:
			if m.err != nil || string(m.b) != "\n" {
				t.Fatalf("got %q, %v while the client beat; want heart-beats", m.b, m.err)
			}
			beats++
		}
	}
	tick.Stop()
	if beats < 2 || beats > 8 {
		t.Errorf("%d server heart-beats in 1s at 200ms", beats)
	}
	// Silence: an ERROR and the close within twice the interval plus the
	// walk's period.
	silent := time.Now()
	var last stompFrame
	for m := range in {
		switch {
		case m.err != nil:
			var ce *websocket.CloseError
			if !errors.As(m.err, &ce) {
				t.Fatalf("no close frame: %v", m.err)
			}
		case string(m.b) == "\n":
		default:
			last = parseStompFrame(t, m.b)
		}
	}
	if last.cmd != "ERROR" || !strings.Contains(last.hdr["message"], "heart-beat timeout") {
		t.Errorf("last frame %s %v, want ERROR heart-beat timeout", last.cmd, last.hdr)
	}
	if d := time.Since(silent); d > 2*time.Second {
		t.Errorf("closed %s after the client fell silent", d)
	}
}

// TestSTOMPBadInput: every protocol error is an ERROR frame and a close of
// that connection only.
func TestSTOMPBadInput(t *testing.T) {
	g := startGateway(t, gwOpts{Config: `
stomp:
  max_frame_bytes: 4096
`})
	nc := natsConn(t, g.NATSURL)
	bystander := dialSTOMP(t, g)
	sub, err := bystander.Subscribe("/topic/calm", stomp.AckAuto)
	if err != nil {
		t.Fatal(err)
	}
	stompBarrier(t, nc, bystander)

	for _, tc := range []struct {
		name, frames, msg string
	}{
		{"frame before CONNECT", "SEND\ndestination:a\n\n\x00", "not connected"},
		{"unknown command", "CONNECT\naccept-version:1.2\n\n\x00FOO\n\n\x00", "malformed frame"},
		{"bad escape", "CONNECT\naccept-version:1.2\n\n\x00SEND\ndestination:a\nk:\\t\n\n\x00", "malformed frame"},
		{"huge content-length", "CONNECT\naccept-version:1.2\n\n\x00SEND\ndestination:a\ncontent-length:999999999\n\n", "malformed frame"},
		{"frame too large", "CONNECT\naccept-version:1.2\n\n\x00SEND\ndestination:a\n\n" + strings.Repeat("x", 5000), "malformed frame"},
		{"too many headers", "CONNECT\naccept-version:1.2\n\n\x00SEND\n" + strings.Repeat("a:b\n", 70) + "\n\x00", "malformed frame"},
		{"invalid destination", "CONNECT\naccept-version:1.2\n\n\x00SEND\ndestination:/topic/a b\n\n\x00", "invalid destination"},
		{"wildcard SEND", "CONNECT\naccept-version:1.2\n\n\x00SEND\ndestination:/topic/a.>\n\n\x00", "invalid destination"},
		{"unknown prefix", "CONNECT\naccept-version:1.2\n\n\x00SUBSCRIBE\nid:1\ndestination:/exchange/x\n\n\x00", "invalid destination"},
		{"reserved subject", "CONNECT\naccept-version:1.2\n\n\x00SUBSCRIBE\nid:1\ndestination:/topic/wsgate.>\n\n\x00", "permission denied"},
		{"SEND without destination", "CONNECT\naccept-version:1.2\n\n\x00SEND\n\n\x00", "missing header"},
		{"SUBSCRIBE without id", "CONNECT\naccept-version:1.2\n\n\x00SUBSCRIBE\ndestination:a\n\n\x00", "missing header"},
		{"duplicate id", "CONNECT\naccept-version:1.2\n\n\x00SUBSCRIBE\nid:1\ndestination:a\n\n\x00SUBSCRIBE\nid:1\ndestination:b\n\n\x00", "duplicate subscription id"},
		{"unknown transaction", "CONNECT\naccept-version:1.2\n\n\x00COMMIT\ntransaction:nope\n\n\x00", "unknown transaction"},
		{"second CONNECT", "CONNECT\naccept-version:1.2\n\n\x00CONNECT\naccept-version:1.2\n\n\x00", "already connected"},
		{"server frame", "CONNECT\naccept-version:1.2\n\n\x00MESSAGE\n\n\x00", "not a client frame"},
		{"bad ack mode", "CONNECT\naccept-version:1.2\n\n\x00SUBSCRIBE\nid:1\ndestination:a\nack:sometimes\n\n\x00", "invalid ack mode"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := dialStompRaw(t, g, "/", "v12.stomp")
			r.send(tc.frames)
			if strings.HasPrefix(tc.frames, "CONNECT") {
				r.expect("CONNECTED")
			}
			r.expectErrorClose(tc.msg)
		})
	}
	t.Run("one byte at a time", func(t *testing.T) {
		r := dialStompRaw(t, g, "/", "v12.stomp")
		for _, b := range []byte("CONNECT\naccept-version:1.2\n\n\x00SEND\ndestination:calm\nreceipt:r\ncontent-length:3\n\na\x00b\x00") {
			r.send(string([]byte{b}))
		}
		r.expect("CONNECTED")
		r.expect("RECEIPT")
	})
	if err := nc.Publish("calm", []byte("still here")); err != nil {
		t.Fatal(err)
	}
	for {
		m := nextSTOMP(t, sub)
		if string(m.Body) == "still here" {
			break
		}
	}
	if err := bystander.Send("a.b", "", nil, stomp.SendOpt.Receipt); err != nil {
		t.Errorf("bystander: %v", err)
	}
	if n := g.metric(t, "wsgate_protocol_errors_total", map[string]string{"protocol": "stomp"}); n < 15 {
		t.Errorf("%v STOMP protocol errors counted", n)
	}
}

// TestSTOMPAuth: login and passcode carry an API key; permissions are
// enforced on SEND and SUBSCRIBE.
func TestSTOMPAuth(t *testing.T) {
	key := newSecret(t)
	g := startGateway(t, gwOpts{Config: `
auth:
  authenticators:
    - type: api_keys
      api_keys:
        keys:
          - id: chatter
            hash: "` + keyHash(key) + `"
            permissions:
              publish: {allow: ["chat.>"]}
              subscribe: {allow: ["chat.>"]}
`})
	nc := natsConn(t, g.NATSURL)
	login := func(t *testing.T, user, pass string) *rawSTOMP {
		r := dialStompRaw(t, g, "/", "v12.stomp")
		r.send("CONNECT\naccept-version:1.2\nhost:x\nlogin:" + user + "\npasscode:" + pass + "\n\n\x00")
		return r
	}
	t.Run("admitted", func(t *testing.T) {
		sc := dialSTOMP(t, g, stomp.ConnOpt.Login("chatter", key))
		sub, _ := nc.SubscribeSync("chat.room")
		nc.Flush()
		if err := sc.Send("/topic/chat.room", "", []byte("hi")); err != nil {
			t.Fatal(err)
		}
		if m := nextMsg(t, sub); m.Header.Get("Wsgate-Principal") != "chatter" {
			t.Errorf("principal %q", m.Header.Get("Wsgate-Principal"))
		}
	})
	t.Run("wrong passcode", func(t *testing.T) {
		login(t, "chatter", "nope").expectErrorClose("access refused")
	})
	t.Run("no credentials", func(t *testing.T) {
		r := dialStompRaw(t, g, "/", "v12.stomp")
		r.send("CONNECT\naccept-version:1.2\nhost:x\n\n\x00")
		r.expectErrorClose("credentials required")
	})
	t.Run("SEND denied", func(t *testing.T) {
		r := login(t, "chatter", key)
		r.expect("CONNECTED")
		r.send("SEND\ndestination:/topic/admin.x\nreceipt:1\n\n\x00")
		if f := r.expectErrorClose("permission denied"); f.hdr["receipt-id"] != "1" {
			t.Errorf("receipt-id %q", f.hdr["receipt-id"])
		}
	})
	t.Run("SUBSCRIBE denied", func(t *testing.T) {
		r := login(t, "chatter", key)
		r.expect("CONNECTED")
		r.send("SUBSCRIBE\nid:1\ndestination:/topic/admin.>\n\n\x00")
		r.expectErrorClose("permission denied")
	})
	t.Run("request denied", func(t *testing.T) {
		r := login(t, "chatter", key)
		r.expect("CONNECTED")
		r.send("SEND\ndestination:rpc.x\nreply-to:/temp-queue/a\n\n\x00")
		r.expectErrorClose("permission denied")
	})
	t.Run("transaction checked when held", func(t *testing.T) {
		r := login(t, "chatter", key)
		r.expect("CONNECTED")
		r.send("BEGIN\ntransaction:t\n\n\x00SEND\ndestination:admin.x\ntransaction:t\n\n\x00")
		r.expectErrorClose("permission denied")
	})
}

// TestSTOMPDurableQueue: a durable queue keeps messages for a subscriber
// that is not there yet, redelivers what it NACKs, and survives a restart.
func TestSTOMPDurableQueue(t *testing.T) {
	long(t)
	cfg := `
stomp:
  durable_queues: ["/queue/orders", "/queue/jobs.*"]
`
	g := startGateway(t, gwOpts{Config: cfg})
	producer := dialSTOMP(t, g)
	for i := range 3 {
		if err := producer.Send("/queue/orders", "text/plain", []byte(fmt.Sprint("order-", i)), stomp.SendOpt.Receipt); err != nil {
			t.Fatal(err)
		}
	}
	consumer := dialSTOMP(t, g)
	sub, err := consumer.Subscribe("/queue/orders", stomp.AckClientIndividual)
	if err != nil {
		t.Fatal(err)
	}
	var third *stomp.Message
	for i := range 3 {
		m := nextSTOMP(t, sub)
		if string(m.Body) != fmt.Sprint("order-", i) || m.Destination != "/queue/orders" {
			t.Errorf("got %q on %q, want order-%d", m.Body, m.Destination, i)
		}
		if i < 2 {
			if err := consumer.Ack(m); err != nil {
				t.Fatal(err)
			}
		} else {
			third = m
		}
	}
	if err := consumer.Nack(third); err != nil {
		t.Fatal(err)
	}
	again := nextSTOMP(t, sub)
	if string(again.Body) != "order-2" {
		t.Errorf("redelivered %q, want order-2", again.Body)
	}
	if err := consumer.Ack(again); err != nil {
		t.Fatal(err)
	}
	noSTOMP(t, sub, 300*time.Millisecond)

	// A subscriber that leaves hands its unacknowledged messages to the
	// next one.
	if err := producer.Send("/queue/orders", "", []byte("handed-over"), stomp.SendOpt.Receipt); err != nil {
		t.Fatal(err)
	}
	if m := nextSTOMP(t, sub); string(m.Body) != "handed-over" {
		t.Fatalf("got %q", m.Body)
	}
	if err := sub.Unsubscribe(); err != nil {
		t.Fatal(err)
	}
	other := dialSTOMP(t, g)
	sub2, err := other.Subscribe("/queue/orders", stomp.AckAuto)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if m := nextSTOMP(t, sub2); string(m.Body) != "handed-over" {
		t.Errorf("got %q", m.Body)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("handed over after %s", d)
	}

	// Cumulative acks (client mode) on a pattern-configured queue, then a
	// restart: what was not acknowledged is still there.
	for i := range 4 {
		if err := producer.Send("/queue/jobs.x", "", []byte(fmt.Sprint("job-", i)), stomp.SendOpt.Receipt); err != nil {
			t.Fatal(err)
		}
	}
	jobs, err := consumer.Subscribe("/queue/jobs.x", stomp.AckClient)
	if err != nil {
		t.Fatal(err)
	}
	var ms []*stomp.Message
	for range 4 {
		ms = append(ms, nextSTOMP(t, jobs))
	}
	if err := consumer.Ack(ms[1]); err != nil { // acknowledges job-0 and job-1
		t.Fatal(err)
	}
	if err := consumer.Send("a.b", "", nil, stomp.SendOpt.Receipt); err != nil { // the ACK is processed
		t.Fatal(err)
	}
	_ = consumer.Disconnect()
	_ = producer.Disconnect()
	g.stop()

	g2 := startGateway(t, gwOpts{Config: cfg, DataDir: g.DataDir})
	c2 := dialSTOMP(t, g2)
	jobs2, err := c2.Subscribe("/queue/jobs.x", stomp.AckClientIndividual)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"job-2", "job-3"} {
		m := nextSTOMP(t, jobs2)
		if string(m.Body) != want {
			t.Errorf("after restart got %q, want %s", m.Body, want)
		}
		if err := c2.Ack(m); err != nil {
			t.Fatal(err)
		}
	}
	noSTOMP(t, jobs2, 300*time.Millisecond)
}

// TestSTOMPNode runs the @stomp/stompjs tests in e2e/js against a gateway.
func TestSTOMPNode(t *testing.T) {
	node, dir := nodeModules(t, "js", "@stomp/stompjs")
	g := startGateway(t, gwOpts{})
	nc := natsConn(t, g.NATSURL)
	w, err := nc.Subscribe("js.echo", func(m *nats.Msg) { _ = m.Respond(append([]byte("echo:"), m.Data...)) })
	if err != nil {
		t.Fatal(err)
	}
	defer w.Unsubscribe()
	nc.Flush()
	cmd := exec.Command(node, "--test", "stomp.test.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "WSGATE_URL="+g.WS("/stomp"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node --test e2e/js/stomp.test.mjs: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}
