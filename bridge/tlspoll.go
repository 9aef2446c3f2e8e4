package bridge

import (
	"crypto/tls"
	"io"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"time"
)

// TLS connections on the poller.
//
// crypto/tls reads its socket through a plain io.Reader and has no
// non-blocking mode of its own, but it tolerates a reader that says "not
// now": readRecordOrCCS (crypto/tls/conn.go) leaves its connection usable
// after a net.Error whose Temporary() is true, keeping the bytes of a
// partial record in its raw input buffer for the next Read. So a TLS
// connection is accepted on a pollConn, which reads like any TCP socket
// (blocking) while crypto/tls does the handshake and net/http reads the
// upgrade request; once the session is live (initReader) it switches to
// poll mode, in which a Read takes what the socket has without waiting and
// answers errWouldBlock when it has nothing. The session then reads the
// tls.Conn on poller wakes, as it reads a plain socket, until that error
// (readAvailableTLS), and an idle TLS connection owns no goroutine.
//
// Writes are not affected: they go through tls.Conn.Write to the socket,
// blocking under the writer's deadlines. (crypto/tls makes every write
// error permanent, so a TLS write cannot be tried without blocking the way
// a plain one is in writeInline.)

// TLSListener returns a TLS listener over ln, as tls.NewListener does,
// whose connections a Gateway reads through its poller once they are
// upgraded, so that an idle TLS connection costs no goroutine. Pass it to
// Serve.
func TLSListener(ln net.Listener, cfg *tls.Config) net.Listener {
	return tls.NewListener(pollListener{ln}, cfg)
}

// pollListener wraps each accepted TCP connection in a pollConn.
type pollListener struct{ net.Listener }

// Accept returns the next connection, a *pollConn when it is TCP.
func (l pollListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return c, nil
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return c, nil
	}
	return &pollConn{tc: tc, raw: raw}, nil
}

// pollConn is an accepted TCP connection under crypto/tls. It is not an
// embedded *net.TCPConn on purpose: TCPConn's WriteTo and ReadFrom would
// read and write around Read.
type pollConn struct {
	tc     *net.TCPConn
	raw    syscall.RawConn
	polled atomic.Bool // poll mode: Read never waits
}

// errWouldBlock is a poll-mode Read's answer when the socket has nothing
// to read. It is a temporary net.Error, which crypto/tls passes up without
// failing the connection.
var errWouldBlock net.Error = wouldBlock{}

type wouldBlock struct{}

func (wouldBlock) Error() string   { return "bridge: nothing to read yet" }
func (wouldBlock) Timeout() bool   { return true }
func (wouldBlock) Temporary() bool { return true }

// poll switches c to poll mode. The caller must be its only reader from
// then on.
func (c *pollConn) poll() { c.polled.Store(true) }

// Read reads as a TCP connection does; in poll mode without waiting.
func (c *pollConn) Read(b []byte) (int, error) {
	if !c.polled.Load() {
		return c.tc.Read(b)
	}
	if len(b) == 0 {
		return 0, nil
	}
	var n int
	var rerr error
	if err := c.raw.Read(func(fd uintptr) bool {
		for {
			n, rerr = syscall.Read(int(fd), b)
			if rerr != syscall.EINTR {
				return true // never wait in the runtime poller
			}
		}
	}); err != nil {
		return 0, err // closed, or a read deadline passed
	}
	switch {
	case rerr == syscall.EAGAIN:
		return 0, errWouldBlock
	case rerr != nil:
		return 0, &net.OpError{Op: "read", Net: "tcp", Source: c.tc.LocalAddr(), Addr: c.tc.RemoteAddr(), Err: os.NewSyscallError("read", rerr)}
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

// Write writes to the socket, blocking under the write deadline.
func (c *pollConn) Write(b []byte) (int, error) { return c.tc.Write(b) }

// Close closes the socket.
func (c *pollConn) Close() error { return c.tc.Close() }

// LocalAddr is the socket's local address.
func (c *pollConn) LocalAddr() net.Addr { return c.tc.LocalAddr() }

// RemoteAddr is the peer's address.
func (c *pollConn) RemoteAddr() net.Addr { return c.tc.RemoteAddr() }

// SetDeadline sets the socket's read and write deadlines.
func (c *pollConn) SetDeadline(t time.Time) error { return c.tc.SetDeadline(t) }

// SetReadDeadline sets the socket's read deadline.
func (c *pollConn) SetReadDeadline(t time.Time) error { return c.tc.SetReadDeadline(t) }

// SetWriteDeadline sets the socket's write deadline.
func (c *pollConn) SetWriteDeadline(t time.Time) error { return c.tc.SetWriteDeadline(t) }
