package bridge

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/wsgate/wsgate/bridge/internal/wire"
)

// Reader states of a polled connection.
const (
	readIdle    int32 = iota // armed in the poller, no goroutine
	readRunning              // a goroutine is reading
	readAgain                // woken while reading: read once more before idling
)

// readBufSize is the first read buffer a waking connection takes from the
// pool; it grows for larger frames.
const readBufSize = 4 << 10

var readBufPool = sync.Pool{New: func() any { b := make([]byte, 0, readBufSize); return &b }}

// reader is a connection's read side: polled (no goroutine while idle) on
// plain TCP and on TLS accepted through TLSListener, a blocking goroutine
// otherwise (another listener, non-Linux).
type reader struct {
	state atomic.Int32
	raw   syscall.RawConn // the socket, when read through the poller; nil in blocking mode
	tls   *tls.Conn       // the connection, when it is TLS read through the poller
	buf   *[]byte         // bytes read and not yet parsed; nil when there are none
	fp    wire.Parser

	// While the reader handles what one read brought (deferring), a writer
	// that enqueue finds idle is started once at the end (kickDeferred),
	// so the answers to a burst of client messages leave in one write.
	deferring    atomic.Bool
	kickDeferred atomic.Bool

	sockOnce sync.Once
}

// initReader prepares the read side before the session is visible to
// anyone else: a plain TCP socket, or a TLS connection over a pollConn, is
// read through the poller, anything else by a blocking goroutine. Until
// startReading, wakes are only remembered.
func (s *Session) initReader() {
	r := &s.r
	r.fp.Max = s.gw.cfg.MaxMessageBytes
	r.state.Store(readRunning)
	if s.gw.poll == nil {
		return
	}
	switch c := s.netConn.(type) {
	case *net.TCPConn:
		if raw, err := c.SyscallConn(); err == nil {
			r.raw = raw
		}
	case *tls.Conn:
		// The handshake and the upgrade are done and nobody else reads:
		// from here on a Read of the socket never waits.
		if pc, ok := c.NetConn().(*pollConn); ok {
			pc.poll()
			r.raw, r.tls = pc.raw, c
		}
	}
}

// startReading begins reading the connection.
func (s *Session) startReading() {
	r := &s.r
	if r.raw != nil {
		if err := s.gw.poll.Add((*sessionWaker)(s), r.raw); err == nil {
			// add armed the socket: bytes already waiting raise an event at
			// once, and a wake that came meanwhile left readAgain. A TLS
			// connection may hold records it read before the upgrade was
			// done, which no event announces: it is read at once.
			if r.tls != nil || !r.state.CompareAndSwap(readRunning, readIdle) {
				r.state.Store(readRunning)
				go s.readBurst()
			}
			return
		}
		s.Logger().Warn("poller refused the socket: reading it with a goroutine")
		r.raw = nil
		if r.tls != nil {
			r.tls.NetConn().(*pollConn).polled.Store(false)
			r.tls = nil
		}
	}
	go s.readBlocking()
}

// sessionWaker is a Session as the poller's wire.Waker, without making Wake
// part of the Session API (the conversion costs nothing).
type sessionWaker Session

// Wake implements wire.Waker.
func (w *sessionWaker) Wake() { (*Session)(w).wake() }

// wake is called by the poller when the socket has something (bytes, EOF,
// an error), and by closeSocket: it makes sure a goroutine reads.
func (s *Session) wake() {
	r := &s.r
	if r.raw == nil {
		return // the blocking reader sees everything itself
	}
	for {
		switch r.state.Load() {
		case readIdle:
			if r.state.CompareAndSwap(readIdle, readRunning) {
				go s.readBurst()
				return
			}
		case readRunning:
			if r.state.CompareAndSwap(readRunning, readAgain) {
				return
			}
		default:
			return
		}
	}
}

// readBurst reads until the socket is dry, re-arms it and exits.
func (s *Session) readBurst() {
	r := &s.r
	for {
		if err := s.readAvailable(); err != nil {
			s.finish(err)
			return
		}
		if err := s.gw.poll.Arm(r.raw); err != nil {
			s.finish(err)
			return
		}
		if r.state.CompareAndSwap(readRunning, readIdle) {
			return
		}
		r.state.Store(readRunning) // was readAgain: go round once more
	}
}

// readAvailable reads without blocking until the socket has nothing more,
// handling every complete frame.
func (s *Session) readAvailable() error {
	r := &s.r
	if r.tls != nil {
		return s.readAvailableTLS()
	}
	for {
		b := r.spare()
		var n int
		var rerr error
		if err := r.raw.Read(func(fd uintptr) bool {
			n, rerr = syscall.Read(int(fd), b)
			return true // never wait in the runtime poller
		}); err != nil {
			return err
		}
		switch {
		case rerr == syscall.EAGAIN:
			r.release()
			return nil
		case rerr == syscall.EINTR:
			continue
		case rerr != nil:
			return rerr
		case n == 0:
			return io.EOF
		}
		if err := s.received(n); err != nil {
			return err
		}
	}
}

// readAvailableTLS is readAvailable through crypto/tls: each Read returns
// what one record holds, taking it from the records the tls.Conn has
// buffered or, without waiting (pollConn), from the socket. errWouldBlock
// means the tls.Conn holds no complete record and the socket is dry, so an
// armed socket will wake us for the next one; a partial record stays in the
// tls.Conn. A client's close_notify is io.EOF.
func (s *Session) readAvailableTLS() error {
	r := &s.r
	for {
		n, err := r.tls.Read(r.spare())
		if n > 0 {
			if perr := s.received(n); perr != nil {
				return perr
			}
		}
		switch {
		case err == nil:
		case errors.Is(err, errWouldBlock):
			r.release()
			releaseTLSBuffers(r.tls)
			return nil
		default:
			return err
		}
	}
}

// readBlocking is the reader of connections the poller cannot watch.
func (s *Session) readBlocking() {
	for {
		n, err := s.netConn.Read(s.r.spare())
		if n > 0 {
			if perr := s.received(n); perr != nil {
				s.finish(perr)
				return
			}
		}
		if err != nil {
			s.finish(err)
			return
		}
	}
}

// spare returns free space at the end of the read buffer, taking one from
// the pool or growing it as needed.
func (r *reader) spare() []byte {
	if r.buf == nil {
		r.buf = readBufPool.Get().(*[]byte)
	}
	b := *r.buf
	if len(b) == cap(b) {
		nb := make([]byte, len(b), 2*cap(b))
		copy(nb, b)
		*r.buf = nb
		b = nb
	}
	return b[len(b):cap(b)]
}

// release gives an empty buffer back, so an idle connection holds none.
func (r *reader) release() {
	if r.buf == nil || len(*r.buf) > 0 {
		return
	}
	if cap(*r.buf) <= 64<<10 {
		readBufPool.Put(r.buf)
	}
	r.buf = nil
}

// received handles n new bytes at the end of the read buffer: every complete
// frame is decoded and dispatched, and what remains is kept.
func (s *Session) received(n int) error {
	r := &s.r
	*r.buf = (*r.buf)[:len(*r.buf)+n]
	r.deferring.Store(true)
	defer s.endDeferring()
	now := time.Now().UnixNano()
	s.lastRead.Store(now)
	used, err := r.fp.Feed(*r.buf, func(op byte, data []byte) error {
		switch op {
		case wire.OpPing:
			_ = s.enqueue(wire.PongFrame(string(data)))
		case wire.OpPong:
		case wire.OpClose:
			code, reason, err := wire.ParseClose(data)
			if err != nil {
				return err
			}
			s.closeBy(CloseInfo{Code: code, Reason: reason, By: "client"})
			return errClientClosed
		default:
			s.lastData.Store(now)
			s.msgsIn.Add(1)
			s.bytesIn.Add(uint64(len(data)))
			s.m.msgsIn.Inc()
			s.m.bytesIn.Add(float64(len(data)))
			if s.limiter != nil && !s.limiter.Allow() {
				return s.refuse(op == wire.OpText, data)
			}
			if err := s.handler.HandleMessage(op == wire.OpText, data); err != nil {
				var ce *CloseError
				if !errors.As(err, &ce) {
					err = &CloseError{Code: CloseInternal, Reason: err.Error()}
				}
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	b := (*r.buf)[used:]
	rest := copy(*r.buf, b)
	*r.buf = (*r.buf)[:rest]
	return nil
}

// endDeferring ends a read's handling: a writer woken meanwhile starts now.
func (s *Session) endDeferring() {
	s.r.deferring.Store(false)
	if s.r.kickDeferred.Swap(false) {
		s.kick()
	}
}

// refuse answers a message over the connection's message rate.
func (s *Session) refuse(text bool, data []byte) error {
	s.gw.metrics.limited.WithLabelValues(s.proto.Name(), "message_rate").Inc()
	r, ok := s.handler.(Refuser)
	if !ok {
		return nil
	}
	err := r.Refuse(text, data, fmt.Errorf("%w: more than %g messages per second", ErrLimit, s.limits().MessageRate))
	var ce *CloseError
	if err != nil && !errors.As(err, &ce) {
		err = &CloseError{Code: ClosePolicy, Reason: err.Error()}
	}
	return err
}

// errClientClosed ends reading after the client's close frame; the cause is
// already recorded.
var errClientClosed = errors.New("bridge: client closed")

// closeSocket closes the connection's socket once, taking it out of the
// poller first (its number can be reused as soon as it is closed), and wakes
// the reader so that it notices and tears the session down.
func (s *Session) closeSocket() {
	s.r.sockOnce.Do(func() {
		if s.r.raw != nil {
			s.gw.poll.Remove((*sessionWaker)(s), s.r.raw)
		}
		_ = s.netConn.Close()
	})
	s.wake()
}
