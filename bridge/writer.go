package bridge

import (
	"crypto/tls"
	"net"
	"sync"
	"time"

	"github.com/wsgate/wsgate/bridge/internal/wire"
)

// writer is a connection's outbound queue, bounded in bytes, and the state
// of its writer. Whoever queues to an idle writer starts it (kick): on a
// plain TCP socket it first writes on the calling goroutine, without
// blocking, as much as the socket takes at once — at low load that is
// everything, and a delivery costs one writev and no goroutine. Only what a
// full socket refuses, and close frames, go to a writeLoop goroutine, which
// may block up to the write timeout. Either way every queued frame is taken
// at once and handed to one writev call, and an idle connection costs no
// writer stack.
type writer struct {
	mu      sync.Mutex
	queue   []*Frame
	skip    int  // bytes of queue[0] already written by a partial inline write
	queued  int  // bytes queued or being written
	running bool // a writer (inline or writeLoop) owns the socket's write side
	closing bool // a close frame is queued: nothing more is accepted
	dropped bool // the close is a slow consumer's: it gets closeGrace only
	stopped bool // the socket's write side is finished
	drained chan struct{}
}

var buffersPool = sync.Pool{New: func() any { return new(net.Buffers) }}

// enqueue queues f, starting the writer if it is idle. A full queue makes the
// connection a slow consumer.
func (s *Session) enqueue(f *Frame) error {
	start, err := s.enqueueLater(f)
	if start {
		s.kickSoon()
	}
	return err
}

// kickSoon starts a writer that enqueueLater found idle: now, or, while the
// reader handles a read, when it is done with it (endDeferring). Exactly one
// of the two starts it: the reader clears deferring before it looks for a
// deferred kick, and a deferrer that finds deferring cleared after marking
// its kick takes the kick back and starts the writer itself.
func (s *Session) kickSoon() {
	r := &s.r
	if r.deferring.Load() {
		r.kickDeferred.Store(true)
		if r.deferring.Load() || !r.kickDeferred.Swap(false) {
			return
		}
	}
	s.kick()
}

// kick runs a writer that enqueueLater found idle: inline as far as the
// socket takes the frames at once, then, if anything is left, on a
// writeLoop goroutine of its own.
func (s *Session) kick() {
	if s.r.raw != nil && s.r.tls == nil && s.writeInline() {
		return
	}
	go s.writeLoop()
}

// idle ends a writer's turn when the queue is empty: the caller holds w.mu.
// batch is the writer's spent batch slice, kept as the next queue when it
// is small, so that the next enqueue need not allocate.
func (w *writer) idle(batch []*Frame) {
	w.running = false
	if w.drained != nil {
		close(w.drained)
		w.drained = nil
	}
	switch {
	case cap(w.queue) > 256:
		w.queue = nil // a burst's queue is not kept by an idle connection
	case cap(w.queue) == 0 && cap(batch) <= 256:
		w.queue = batch[:0]
	}
}

// countFrames adds up frames' bytes and counts their data frames.
func countFrames(frames []*Frame) (size, data int) {
	for _, f := range frames {
		size += f.Len()
		if f.Op() < wire.OpClose {
			data++
		}
	}
	return size, data
}

// wrote accounts for frames written in full: data frames count as messages
// out, every byte as bytes out.
func (s *Session) wrote(size, data int, now time.Time) {
	s.lastWrite.Store(now.UnixNano())
	if data > 0 {
		s.msgsOut.Add(uint64(data))
		s.m.msgsOut.Add(float64(data))
		s.m.bytesOut.Add(float64(size))
		s.bytesOut.Add(uint64(size))
	}
}

// enqueueLater queues f; start reports that the writer was idle and the
// caller must start it (s.kick()), now or once it has queued to every other
// session it serves.
func (s *Session) enqueueLater(f *Frame) (start bool, err error) {
	if s.zmax > 0 {
		f = s.deflated(f) // before the lock: the first session to send it compresses
	}
	w := &s.w
	w.mu.Lock()
	if w.closing || w.stopped {
		w.mu.Unlock()
		return false, ErrClosed
	}
	if w.queued+f.Len() > s.gw.cfg.MaxQueuedBytes {
		w.mu.Unlock()
		s.gw.metrics.slowConsumers.WithLabelValues(s.proto.Name()).Inc()
		s.closeSlow()
		return false, ErrSlowConsumer
	}
	w.queue = append(w.queue, f)
	w.queued += f.Len()
	start = !w.running
	w.running = true
	w.mu.Unlock()
	return start, nil
}

// enqueueClose queues the close frame; nothing is queued after it. When drop
// is set (slow consumer), frames still waiting are discarded and the write in
// progress is given only closeGrace to finish.
func (s *Session) enqueueClose(code int, reason string, drop bool) {
	w := &s.w
	w.mu.Lock()
	if w.closing || w.stopped {
		w.mu.Unlock()
		return
	}
	w.closing = true
	if drop {
		w.dropped = true
		for _, f := range w.queue {
			w.queued -= f.Len()
		}
		clear(w.queue)
		w.queue = w.queue[:0]
		_ = s.netConn.SetWriteDeadline(time.Now().Add(closeGrace))
	}
	f := wire.CloseFrame(code, reason)
	w.queue = append(w.queue, f)
	w.queued += f.Len()
	start := !w.running
	w.running = true
	w.mu.Unlock()
	if start {
		go s.writeLoop() // a close is written by writeLoop, under its deadline
	}
}

// closeSlow disconnects a client that cannot keep up.
func (s *Session) closeSlow() {
	c := CloseInfo{Code: ClosePolicy, Reason: "slow consumer: outbound queue full", By: "server"}
	first := false
	s.causeOnce.Do(func() { s.cause = c; first = true })
	if first {
		s.enqueueClose(c.Code, c.Reason, true)
	}
}

// writeLoop writes queued frames until the queue is empty, then exits. It
// blocks, each write under its own deadline.
func (s *Session) writeLoop() {
	w := &s.w
	bufs := buffersPool.Get().(*net.Buffers)
	defer buffersPool.Put(bufs)
	var batch []*Frame
	for {
		w.mu.Lock()
		if len(w.queue) == 0 || w.stopped {
			w.idle(batch)
			w.mu.Unlock()
			return
		}
		batch, w.queue = w.queue, batch[:0]
		skip := w.skip
		w.skip = 0
		dropped := w.dropped
		w.mu.Unlock()

		*bufs = (*bufs)[:0]
		closing, n := false, 0
		for i, f := range batch {
			b := f.Bytes()
			if i == 0 {
				b = b[skip:]
			}
			*bufs = append(*bufs, b)
			n++
			if f.Op() == wire.OpClose {
				closing = true
				break
			}
		}
		// Every write has its own deadline, the close frame's too: one
		// written under the deadline of the last data write would fail at
		// once after a quiet spell, and the client would see no close code.
		// A slow consumer's close gets only closeGrace: its socket is full.
		now := time.Now()
		timeout := s.gw.cfg.WriteTimeout
		if closing && dropped {
			timeout = min(timeout, closeGrace)
		}
		_ = s.netConn.SetWriteDeadline(now.Add(timeout))
		var err error
		if tc, ok := s.netConn.(*tls.Conn); ok {
			err = writeTLS(tc, *bufs)
		} else {
			v := *bufs
			_, err = v.WriteTo(s.netConn)
		}
		clear(*bufs)
		total := 0
		for _, f := range batch {
			total += f.Len()
		}

		w.mu.Lock()
		w.queued -= total
		if err != nil || closing {
			w.stopped = true
		}
		w.mu.Unlock()

		if err != nil {
			clear(batch)
			s.causeOnce.Do(func() {
				s.cause = CloseInfo{Code: closeAbnormal, Reason: "write: " + err.Error(), By: "error"}
			})
			s.closeSocket()
			continue
		}
		size, data := countFrames(batch[:n])
		s.wrote(size, data, now)
		clear(batch)
		if closing {
			// The close handshake (RFC 6455 section 7.1.1): wait briefly for
			// the client's close frame, then close the socket anyway.
			time.AfterFunc(closeGrace, s.closeSocket)
		}
	}
}

// drain stops the queue and waits, at most timeout, until the writer has
// written what it holds.
func (w *writer) drain(s *Session, timeout time.Duration) {
	w.mu.Lock()
	w.closing = true
	if !w.running {
		w.stopped = true
		w.mu.Unlock()
		return
	}
	ch := make(chan struct{})
	w.drained = ch
	w.mu.Unlock()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-ch:
	case <-t.C:
	}
}
