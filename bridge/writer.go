package bridge

import (
	"net"
	"sync"
	"time"

	"github.com/wsgate/wsgate/bridge/internal/wire"
)

// writer is a connection's outbound queue, bounded in bytes, and the state
// of its one writer goroutine. The goroutine runs only while there is
// something to write, so an idle connection costs no writer stack; it takes
// every queued frame at once and hands them to one writev call.
type writer struct {
	mu      sync.Mutex
	queue   []*Frame
	queued  int  // bytes queued or being written
	running bool // a writeLoop goroutine owns the socket's write side
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
		go s.writeLoop()
	}
	return err
}

// enqueueLater queues f; start reports that the writer was idle and the
// caller must start it (go s.writeLoop()), now or once it has queued to
// every other session it serves.
func (s *Session) enqueueLater(f *Frame) (start bool, err error) {
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
		go s.writeLoop()
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

// writeLoop writes queued frames until the queue is empty, then exits.
func (s *Session) writeLoop() {
	w := &s.w
	bufs := buffersPool.Get().(*net.Buffers)
	defer buffersPool.Put(bufs)
	var batch []*Frame
	for {
		w.mu.Lock()
		if len(w.queue) == 0 || w.stopped {
			w.running = false
			if w.drained != nil {
				close(w.drained)
				w.drained = nil
			}
			switch {
			case cap(w.queue) > 256:
				w.queue = nil // a burst's queue is not kept by an idle connection
			case cap(w.queue) == 0 && cap(batch) <= 256:
				w.queue = batch[:0] // reuse: the next enqueue need not allocate
			}
			w.mu.Unlock()
			return
		}
		batch, w.queue = w.queue, batch[:0]
		dropped := w.dropped
		w.mu.Unlock()

		*bufs = (*bufs)[:0]
		size, data, closing := 0, 0, false
		for _, f := range batch {
			*bufs = append(*bufs, f.Bytes())
			size += f.Len()
			switch op := f.Op(); {
			case op == wire.OpClose:
				closing = true
			case op < wire.OpClose:
				data++
			}
			if closing {
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
		v := *bufs
		_, err := v.WriteTo(s.netConn)
		clear(*bufs)
		total := 0
		for _, f := range batch {
			total += f.Len()
		}
		clear(batch)

		w.mu.Lock()
		w.queued -= total
		if err != nil || closing {
			w.stopped = true
		}
		w.mu.Unlock()

		if err != nil {
			s.causeOnce.Do(func() {
				s.cause = CloseInfo{Code: closeAbnormal, Reason: "write: " + err.Error(), By: "error"}
			})
			s.closeSocket()
			continue
		}
		s.lastWrite.Store(now.UnixNano())
		if data > 0 {
			s.msgsOut.Add(uint64(data))
			s.m.msgsOut.Add(float64(data))
			s.m.bytesOut.Add(float64(size))
		}
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
