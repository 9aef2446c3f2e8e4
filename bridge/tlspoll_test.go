package bridge

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/gorilla/websocket"
	"github.com/nats-io/nats.go"
)

// tlsEnv is an env with a TLS server beside the plain one, accepting
// through pollListener as TLSListener does.
type tlsEnv struct {
	*env
	srv  *httptest.Server
	pool *x509.CertPool
}

func newTLSEnv(t *testing.T, cfg Config) *tlsEnv {
	t.Helper()
	e := newEnv(t, cfg)
	srv := httptest.NewUnstartedServer(e.gw.Handler())
	srv.Listener = pollListener{srv.Listener}
	srv.StartTLS() // tls.NewListener over ours, HTTP/1.1
	t.Cleanup(srv.Close)
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	return &tlsEnv{env: e, srv: srv, pool: pool}
}

// chunkConn is a client's TCP connection under its tls.Conn that writes
// what it is given in small pieces, yielding between them, so that the
// server's reads end in the middle of TLS records. cut, when set, makes the
// next Write send only that many bytes and close the connection.
type chunkConn struct {
	net.Conn
	max int
	cut atomic.Int32
	mu  sync.Mutex
	rnd *rand.Rand
}

func (c *chunkConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if k := int(c.cut.Load()); k > 0 {
		n, _ := c.Conn.Write(p[:min(k, len(p))])
		_ = c.Conn.Close()
		return n, nil
	}
	done := 0
	for done < len(p) {
		n := min(len(p)-done, 1+c.rnd.IntN(c.max))
		w, err := c.Conn.Write(p[done : done+n])
		done += w
		if err != nil {
			return done, err
		}
		if c.rnd.IntN(4) == 0 {
			time.Sleep(50 * time.Microsecond) // let the server read a partial record
		}
	}
	return done, nil
}

// dialTLS connects a gorilla client over a chunkConn (max: largest piece; 0
// writes whole) and says hello.
func (e *tlsEnv) dialTLS(max int) (*client, *tls.Conn, *chunkConn) {
	e.t.Helper()
	var tc *tls.Conn
	var cc *chunkConn
	d := websocket.Dialer{
		HandshakeTimeout: 5 * time.Second,
		NetDialTLSContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			raw, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			cc = &chunkConn{Conn: raw, max: max, rnd: rand.New(rand.NewPCG(1, uint64(max)))}
			if max == 0 {
				cc.max = 1 << 30
			}
			tc = tls.Client(cc, &tls.Config{RootCAs: e.pool, ServerName: "example.com"})
			if err := tc.HandshakeContext(ctx); err != nil {
				raw.Close()
				return nil, err
			}
			return tc, nil
		},
	}
	u := "wss" + strings.TrimPrefix(e.srv.URL, "https") + "/"
	c, _, err := d.Dial(u, nil)
	if err != nil {
		e.t.Fatalf("dial %s: %v", u, err)
	}
	e.t.Cleanup(func() { c.Close() })
	cl := &client{t: e.t, c: c}
	cl.send("hello")
	f := strings.Fields(cl.read())
	if len(f) != 3 || f[0] != "hello" {
		e.t.Fatalf("first message %v, want a hello", f)
	}
	cl.id = f[2]
	if err := e.nc.Flush(); err != nil {
		e.t.Fatal(err)
	}
	return cl, tc, cc
}

// maskedText is a client's text frame (RFC 6455 section 5.2), masked with
// a key that is not zero.
func maskedText(payload []byte) []byte {
	b := []byte{0x81}
	switch n := len(payload); {
	case n < 126:
		b = append(b, 0x80|byte(n))
	case n < 1<<16:
		b = append(b, 0x80|126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, 0x80|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	key := [4]byte{0x1f, 0x83, 0x5a, 0xc6}
	b = append(b, key[:]...)
	for i, c := range payload {
		b = append(b, c^key[i%4])
	}
	return b
}

// waitIdle waits until a session's reader is idle in the poller, its read
// buffer given back. It looks at the buffer holding the reader as a wake
// does (readIdle to readRunning), so the look is ordered before the
// reader's next use of it, and hands it back as readBurst does.
func waitIdle(t *testing.T, s *Session) {
	t.Helper()
	r := &s.r
	checkFor(t, 5*time.Second, func() error {
		if !r.state.CompareAndSwap(readIdle, readRunning) {
			return fmt.Errorf("session %s: reader state %d, want idle", s.ID(), r.state.Load())
		}
		held := r.buf != nil
		if !r.state.CompareAndSwap(readRunning, readIdle) {
			r.state.Store(readRunning) // woken meanwhile: read, as the wake would have
			go s.readBurst()
		}
		if held {
			return fmt.Errorf("session %s: idle with a read buffer", s.ID())
		}
		return nil
	})
}

// TestTLSPollMessages sends many messages, their frames packed together and
// cut into TLS records and TCP writes at random places, while a worker
// pushes messages to the same connection: the gateway reads every frame in
// order and writes every answer and delivery.
func TestTLSPollMessages(t *testing.T) {
	e := newTLSEnv(t, Config{})
	cl, tc, _ := e.dialTLS(97)
	s := e.session(cl)
	if s.r.tls == nil || s.r.raw == nil {
		t.Fatal("the TLS session is not read through the poller")
	}
	e.sub(cl, "sub tls.down")

	const up, down = 2000, 2000
	got := make(chan *nats.Msg, up)
	sub, err := e.worker().ChanSubscribe("tls.up", got)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := e.nc.Flush(); err != nil {
		t.Fatal(err)
	}

	// The client reads everything: up answers, down deliveries in order.
	readErr := make(chan error, 1)
	go func() {
		oks, next := 0, 0
		for oks < up || next < down {
			m, err := cl.tryRead(10 * time.Second)
			if err != nil {
				readErr <- fmt.Errorf("after %d answers and %d deliveries: %w", oks, next, err)
				return
			}
			switch {
			case m == "ok pub tls.up":
				oks++
			case m == fmt.Sprintf("msg tls.down %d", next):
				next++
			default:
				readErr <- fmt.Errorf("unexpected %q (answers %d, deliveries %d)", m, oks, next)
				return
			}
		}
		readErr <- nil
	}()
	go func() {
		w := e.worker()
		for i := range down {
			if err := w.Publish("tls.down", []byte(fmt.Sprint(i))); err != nil {
				t.Error(err)
				return
			}
		}
	}()

	var all []byte
	for i := range up {
		all = append(all, maskedText([]byte(fmt.Sprintf("pub tls.up %d", i)))...)
	}
	// Writes of 1 to 700 bytes: each a TLS record, cut by chunkConn into
	// TCP writes of at most 97 bytes.
	rnd := rand.New(rand.NewPCG(7, 7))
	for len(all) > 0 {
		n := min(len(all), 1+rnd.IntN(700))
		if _, err := tc.Write(all[:n]); err != nil {
			t.Fatal(err)
		}
		all = all[n:]
	}
	for i := range up {
		select {
		case m := <-got:
			if want := fmt.Sprint(i); string(m.Data) != want {
				t.Fatalf("worker got %q, want %q", m.Data, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("worker got %d of %d messages", i, up)
		}
	}
	if err := <-readErr; err != nil {
		t.Fatal(err)
	}
	waitIdle(t, s)
}

// TestTLSPollLarge sends and receives messages larger than a TLS record.
func TestTLSPollLarge(t *testing.T) {
	e := newTLSEnv(t, Config{})
	cl, _, _ := e.dialTLS(1500)
	s := e.session(cl)
	e.sub(cl, "sub tls.big")
	got := make(chan *nats.Msg, 4)
	sub, err := e.worker().ChanSubscribe("tls.up", got)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := e.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	for _, size := range []int{16 << 10, 16<<10 + 1, 100 << 10, 300 << 10} {
		big := bytes.Repeat([]byte("0123456789abcdef"), size/16+1)[:size]
		cl.do("pub tls.up " + string(big))
		select {
		case m := <-got:
			if !bytes.Equal(m.Data, big) {
				t.Fatalf("%d bytes up: worker got %d bytes, not the same", size, len(m.Data))
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%d bytes up: worker got nothing", size)
		}
		if err := e.worker().Publish("tls.big", big); err != nil {
			t.Fatal(err)
		}
		if m := cl.read(); m != "msg tls.big "+string(big) {
			t.Fatalf("%d bytes down: client got %d bytes, not the same", size, len(m))
		}
		waitIdle(t, s)
	}
}

// TestTLSPollIdleCycles wakes an idle TLS session again and again: each
// wake reads, answers and goes back to the poller without a buffer.
func TestTLSPollIdleCycles(t *testing.T) {
	e := newTLSEnv(t, Config{})
	cl, _, _ := e.dialTLS(0)
	s := e.session(cl)
	for i := range 30 {
		waitIdle(t, s)
		cl.do(fmt.Sprintf("pub tls.cycle %d", i))
	}
	waitIdle(t, s)
}

// TestTLSPollEnds ends TLS sessions every way a client can: a close frame,
// a close_notify alone (the TCP connection stays open), the TCP connection
// closed at a record boundary and in the middle of a record.
func TestTLSPollEnds(t *testing.T) {
	e := newTLSEnv(t, Config{})
	for _, tc := range []struct {
		name string
		end  func(cl *client, tc *tls.Conn, cc *chunkConn)
	}{
		{"close frame", func(cl *client, _ *tls.Conn, _ *chunkConn) {
			_ = cl.c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(1000, "bye"), time.Now().Add(time.Second))
		}},
		{"close_notify", func(_ *client, tc *tls.Conn, _ *chunkConn) {
			if err := tc.CloseWrite(); err != nil {
				t.Error(err)
			}
		}},
		{"abrupt", func(_ *client, _ *tls.Conn, cc *chunkConn) { _ = cc.Conn.Close() }},
		{"abrupt mid-record", func(_ *client, tc *tls.Conn, cc *chunkConn) {
			cc.cut.Store(20)
			_, _ = tc.Write(maskedText([]byte("pub tls.never sent")))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cl, conn, cc := e.dialTLS(0)
			s := e.session(cl)
			waitIdle(t, s)
			tc.end(cl, conn, cc)
			waitDone(t, s)
		})
	}
}

// TestTLSPollNoGoroutines holds idle TLS sessions: none keeps a goroutine.
func TestTLSPollNoGoroutines(t *testing.T) {
	e := newTLSEnv(t, Config{})
	cl, _, _ := e.dialTLS(0)
	waitIdle(t, e.session(cl))
	before := runtime.NumGoroutine()
	const n = 60
	var ss []*Session
	for i := range n {
		cl, _, _ := e.dialTLS(0)
		e.sub(cl, fmt.Sprintf("sub tls.idle.%d", i))
		ss = append(ss, e.session(cl))
	}
	// Handlers of finished upgrades may still be on their way out: count
	// until the figure settles, with a margin of a few goroutines (a
	// blocking reader each would be 60).
	checkFor(t, 5*time.Second, func() error {
		if d := runtime.NumGoroutine() - before; d > 5 {
			return fmt.Errorf("%d idle TLS sessions hold %d goroutines more than one", n, d)
		}
		return nil
	})
	for _, s := range ss {
		waitIdle(t, s)
	}
}

// recordConn counts writes to a TLS connection's socket: one a record.
type recordConn struct {
	net.Conn
	writes atomic.Int64
}

func (c *recordConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// TestWriteTLSBatches checks that queued frames go out in as few TLS
// records as fit, not one a frame, and arrive whole and in order.
func TestWriteTLSBatches(t *testing.T) {
	e := newTLSEnv(t, Config{})
	a, b := net.Pipe()
	rc := &recordConn{Conn: a}
	cert := e.srv.TLS.Certificates[0]
	server := tls.Server(rc, &tls.Config{Certificates: []tls.Certificate{cert}})
	client := tls.Client(b, &tls.Config{RootCAs: e.pool, ServerName: "example.com"})
	defer server.Close()
	defer client.Close()
	errc := make(chan error, 1)
	go func() { errc <- client.Handshake() }()
	if err := server.Handshake(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}

	var frames [][]byte
	var want []byte
	for i := range 500 {
		f := []byte(fmt.Sprintf("frame %d;", i))
		frames = append(frames, f)
		want = append(want, f...)
	}
	frames = append(frames, bytes.Repeat([]byte{'L'}, tlsBatchMax)) // written as it is
	want = append(want, frames[len(frames)-1]...)

	got := make(chan []byte, 1)
	go func() {
		buf := make([]byte, len(want))
		_, err := io.ReadFull(client, buf)
		if err != nil {
			t.Error(err)
		}
		got <- buf
	}()
	rc.writes.Store(0)
	if err := writeTLS(server, frames); err != nil {
		t.Fatal(err)
	}
	if g := <-got; !bytes.Equal(g, want) {
		t.Fatal("the frames arrived changed")
	}
	// One write per frame would be 501 records. crypto/tls cuts the first
	// 128 KiB a connection sends into records growing from one TCP segment
	// by as much again each time (dynamic record sizing): about 11 records
	// for these 69 KB, 16 KiB records after that.
	if w := rc.writes.Load(); w > 25 {
		t.Fatalf("%d frames took %d record writes", len(frames), w)
	}
}

// TestTLSBuffersReleased checks that crypto/tls's read buffers are found on
// this Go release and let go when a session goes idle, and that the
// session reads on afterwards (the other TLS tests do so at length).
func TestTLSBuffersReleased(t *testing.T) {
	if !tlsBuffers.ok {
		t.Fatal("crypto/tls.Conn's rawInput, input and hand are not where releaseTLSBuffers looks: idle TLS connections keep their read buffers")
	}
	e := newTLSEnv(t, Config{})
	cl, _, _ := e.dialTLS(0)
	s := e.session(cl)
	big := strings.Repeat("x", 40<<10) // grows rawInput past a full record
	looked := 0
	for i := range 3 {
		cl.do("pub tls.buffers " + big)
		waitIdle(t, s)
		// Own the reader, as waitIdle does, to look.
		if !s.r.state.CompareAndSwap(readIdle, readRunning) {
			continue // woken again meanwhile: look next time
		}
		looked++
		p := unsafe.Pointer(s.r.tls)
		raw := (*bytes.Buffer)(unsafe.Add(p, tlsBuffers.rawInput))
		hand := (*bytes.Buffer)(unsafe.Add(p, tlsBuffers.hand))
		rawCap, handCap := raw.Cap(), hand.Cap()
		if !s.r.state.CompareAndSwap(readRunning, readIdle) {
			s.r.state.Store(readRunning)
			go s.readBurst()
		}
		if rawCap != 0 || handCap != 0 {
			t.Fatalf("round %d: idle TLS session keeps buffers of %d and %d bytes", i, rawCap, handCap)
		}
	}
	if looked == 0 {
		t.Fatal("the reader never stayed idle long enough to look")
	}
}

// TestPollConnRead checks a pollConn's reads in poll mode on a real TCP
// connection: nothing there is errWouldBlock, which crypto/tls must take
// for temporary; bytes are read; the peer's close is io.EOF; a read of a
// closed pollConn fails for good.
func TestPollConnRead(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	peer, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	c, err := pollListener{ln}.Accept()
	if err != nil {
		t.Fatal(err)
	}
	pc, ok := c.(*pollConn)
	if !ok {
		t.Fatalf("accepted a %T, want a *pollConn", c)
	}
	pc.poll()
	buf := make([]byte, 64)

	n, err := pc.Read(buf)
	var ne net.Error
	if n != 0 || !errors.As(err, &ne) || !ne.Timeout() || !ne.Temporary() || err != errWouldBlock {
		t.Fatalf("read of an empty socket: %d, %v; want errWouldBlock, a temporary net.Error", n, err)
	}
	if _, err := peer.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	got := ""
	checkFor(t, 5*time.Second, func() error {
		n, err := pc.Read(buf)
		got += string(buf[:n])
		if got != "hello" {
			return fmt.Errorf("read %q so far (last: %v)", got, err)
		}
		return nil
	})
	if err := peer.Close(); err != nil {
		t.Fatal(err)
	}
	checkFor(t, 5*time.Second, func() error {
		if _, err := pc.Read(buf); err != io.EOF {
			return fmt.Errorf("read after the peer closed: %v, want EOF", err)
		}
		return nil
	})
	if err := pc.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := pc.Read(buf); err == nil || errors.As(err, &ne) && ne.Temporary() {
		t.Fatalf("read of a closed pollConn: %v, want a permanent error", err)
	}
}
