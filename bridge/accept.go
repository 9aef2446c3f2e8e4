package bridge

import (
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
)

// fdRefusal is what a connection accepted while the process is out of file
// descriptors gets before it is closed: a whole HTTP response, so that a
// client (and a balancer's health check) sees why.
const fdRefusal = "HTTP/1.1 503 Service Unavailable\r\n" +
	"Content-Type: text/plain; charset=utf-8\r\n" +
	"Connection: close\r\n" +
	"Retry-After: 1\r\n" +
	"Content-Length: 28\r\n" +
	"\r\n" +
	"server out of file handles\r\n"

// fdListener keeps serving when the process runs out of file descriptors
// (EMFILE, ENFILE). net/http would retry its Accept with backoff and leave
// every new client hanging in the kernel's queue; instead, fdListener holds
// one spare descriptor, and when Accept fails for want of one it lets the
// spare go, accepts the next connection with it, answers 503 (a TLS
// connection is closed without a word), closes it and takes the spare
// back. It logs once when descriptors run out and once when connections
// are accepted again; the connections already open are served throughout.
// Accept is called by one goroutine at a time, as http.Server does.
type fdListener struct {
	net.Listener
	log     *slog.Logger
	refused func() // counts a refusal

	out   bool // out of descriptors: the last Accept failed for want of one
	delay time.Duration

	mu     sync.Mutex
	spare  *os.File // nil while given up, or if it could not be had
	closed bool
}

func newFDListener(ln net.Listener, log *slog.Logger, refused func()) *fdListener {
	l := &fdListener{Listener: ln, log: log, refused: refused}
	l.takeSpare()
	return l
}

// Accept returns the next connection, refusing with 503 those that come
// while no descriptor is free.
func (l *fdListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err == nil {
			l.recovered()
			return c, nil
		}
		if !outOfFDs(err) {
			return nil, err
		}
		if !l.out {
			l.out = true
			l.log.Warn("out of file descriptors: refusing new connections with 503 until some are free; raise the open-files limit (LimitNOFILE, ulimit -n)",
				"err", err)
		}
		// Linux fails accept for want of a descriptor before it looks
		// for a waiting connection: there may be none yet.
		if l.giveSpare() {
			c, err := l.Listener.Accept()
			switch {
			case err == nil && l.takeSpare():
				// Descriptors were freed meanwhile: serve it.
				l.recovered()
				return c, nil
			case err == nil:
				l.refuse(c)
				l.takeSpare()
				continue
			case !outOfFDs(err):
				return nil, err
			}
			l.takeSpare()
		}
		// Another goroutine took the descriptor, or there is no spare: back
		// off, 5 ms doubling to 1 s, as net/http would.
		l.delay = min(max(2*l.delay, 5*time.Millisecond), time.Second)
		time.Sleep(l.delay)
		l.takeSpare()
	}
}

// refuse answers c with 503 and closes it.
func (l *fdListener) refuse(c net.Conn) {
	l.refused()
	l.delay = 0
	if tc, ok := c.(*tls.Conn); ok {
		// A 503 would need a handshake first: just close.
		_ = tc.NetConn().Close()
		return
	}
	_ = c.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = c.Write([]byte(fdRefusal))
	_ = c.Close()
}

// recovered notes that a connection was accepted normally.
func (l *fdListener) recovered() {
	l.delay = 0
	if l.out {
		l.out = false
		l.log.Info("accepting connections again: file descriptors are free")
	}
	l.takeSpare()
}

// giveSpare closes the spare descriptor, reporting whether there was one.
func (l *fdListener) giveSpare() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.spare == nil {
		return false
	}
	_ = l.spare.Close()
	l.spare = nil
	return true
}

// takeSpare opens the spare descriptor if it is not held, reporting
// whether it is held now.
func (l *fdListener) takeSpare() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.spare == nil && !l.closed {
		l.spare, _ = os.Open(os.DevNull)
	}
	return l.spare != nil
}

// Close closes the listener and lets the spare go.
func (l *fdListener) Close() error {
	l.mu.Lock()
	l.closed = true
	if l.spare != nil {
		_ = l.spare.Close()
		l.spare = nil
	}
	l.mu.Unlock()
	return l.Listener.Close()
}

// outOfFDs reports whether an Accept failed because the process (EMFILE)
// or the system (ENFILE) has no file descriptor to give.
func outOfFDs(err error) bool {
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE)
}
