package bridge

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// discardConn is a client socket that takes every write at once.
type discardConn struct{}

func (discardConn) Read([]byte) (int, error)         { return 0, io.EOF }
func (discardConn) Write(b []byte) (int, error)      { return len(b), nil }
func (discardConn) Close() error                     { return nil }
func (discardConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (discardConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (discardConn) SetDeadline(time.Time) error      { return nil }
func (discardConn) SetReadDeadline(time.Time) error  { return nil }
func (discardConn) SetWriteDeadline(time.Time) error { return nil }

// benchFrameKey names the benchmark's one encoding of a delivery.
var benchFrameKey = new(int)

// BenchmarkFanOut measures one NATS message reaching n local sessions: the
// hub's fan-out, one shared encoding, n enqueues, and n writers writing
// the frame to a socket that discards it. No network: the sessions are
// built by hand around discardConn.
func BenchmarkFanOut(b *testing.B) {
	for _, n := range []int{1_000, 10_000, 100_000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) { benchFanOut(b, n, benchMsg, false) })
	}
}

// benchMsg is BenchmarkFanOut's message.
var benchMsg = []byte(`{"user":"alice","room":"lobby","text":"hello, everyone!","n":42}`)

// BenchmarkFanOutDeflate is BenchmarkFanOut with a 2 KiB JSON message to
// sessions that all negotiated permessage-deflate, or (plain) none: the
// message is compressed once per fan-out, not once per session.
func BenchmarkFanOutDeflate(b *testing.B) {
	var doc []byte
	doc = append(doc, `{"quotes":[`...)
	for i := 0; len(doc) < 2000; i++ {
		doc = fmt.Appendf(doc, `{"id":%d,"symbol":"SYM%d","price":%d.%02d,"volume":%d,"side":"buy"},`, i, i%37, 100+i*7%91, i%100, 1000+i*13)
	}
	doc = append(doc, `{}]}`...)
	for _, n := range []int{1_000, 10_000} {
		b.Run(strconv.Itoa(n)+"/plain", func(b *testing.B) { benchFanOut(b, n, doc, false) })
		b.Run(strconv.Itoa(n)+"/deflate", func(b *testing.B) { benchFanOut(b, n, doc, true) })
	}
}

// writeAll starts the writers a fan-out woke as kickAll does: inline up to
// 64, else on one goroutine per core. A writer on a socket that takes
// everything at once writes inline (Session.writeInline); discardConn
// always takes everything, but has no raw descriptor, so writeLoop, which
// returns once the queue is empty, stands in for writeInline.
func writeAll(kick []*Session) {
	spread(kick, (*Session).writeLoop)
}

func benchFanOut(b *testing.B, n int, data []byte, deflate bool) {
	cfg := Config{MaxQueuedBytes: 1 << 30}.withDefaults() // never a slow consumer here
	g := &Gateway{cfg: cfg, metrics: newMetrics(), log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	p := newTestProto()
	h := &hub{prefix: cfg.ReservedPrefix}
	hs := &hubSub{key: hubKey{pattern: "bench.fanout"}}
	encode := func(m *Message) (*Frame, error) {
		f, buf := NewFrame(true, len(m.Data))
		copy(buf, m.Data)
		return f, nil
	}
	sessions := make([]*Session, n)
	var sendErrs int
	for i := range sessions {
		s := &Session{gw: g, id: newID(12), proto: p, netConn: discardConn{}, done: make(chan struct{}), m: g.metrics.protocol(p.Name())}
		if deflate {
			s.zmin, s.zmax = uint16(cfg.CompressionMinBytes), 1<<15
		}
		sessions[i] = s
		sub := &Subscription{s: s, pattern: hs.key.pattern, deliver: func(d *Delivery) {
			f, err := d.Frame(benchFrameKey, encode)
			if err == nil {
				err = d.Send(s, f)
			}
			if err != nil {
				sendErrs++ // fanOut runs on this goroutine only
			}
		}}
		hs.join(sub)
	}
	msg := &nats.Msg{Subject: "bench.fanout", Data: data}

	b.ReportAllocs()
	b.ResetTimer()
	var kick []*Session
	for range b.N {
		// As the dispatcher does, with one message per batch.
		h.fanOut(hs, msg, &kick)
		writeAll(kick)
		clear(kick)
		kick = kick[:0]
	}
	// Until every writer has written everything.
	for _, s := range sessions {
		for {
			s.w.mu.Lock()
			idle := !s.w.running && len(s.w.queue) == 0
			s.w.mu.Unlock()
			if idle {
				break
			}
			time.Sleep(10 * time.Microsecond)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/delivery")
	if sendErrs > 0 {
		b.Fatalf("%d sends failed", sendErrs)
	}
	var written uint64
	for _, s := range sessions {
		written += s.msgsOut.Load()
	}
	if want := uint64(b.N * n); written != want {
		b.Fatalf("%d frames written, want %d", written, want)
	}
}
