package bridge

import (
	"errors"
	"log/slog"
	"sync"
	"syscall"
)

// poller watches idle connections with one epoll instance, so a connection
// with nothing to read has no goroutine — and no goroutine stack — of its
// own. Each socket is registered one-shot: an event wakes the session, which
// reads everything available on a short-lived goroutine and re-arms the
// registration when the socket runs dry.
//
// Go's runtime poller watches the same sockets for the writer; a socket may
// sit in several epoll sets, and the reader never uses the runtime's
// read path, so the two do not interfere.
type poller struct {
	epfd int
	wake [2]int // a pipe: writing to wake[1] stops run
	log  *slog.Logger
	mu   sync.RWMutex
	fds  map[int32]*Session
	done chan struct{}
}

const pollEvents = syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT

func newPoller(log *slog.Logger) (*poller, error) {
	fd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	p := &poller{epfd: fd, log: log, fds: map[int32]*Session{}, done: make(chan struct{})}
	if err := syscall.Pipe2(p.wake[:], syscall.O_CLOEXEC|syscall.O_NONBLOCK); err != nil {
		_ = syscall.Close(fd)
		return nil, err
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(p.wake[0])}
	if err := syscall.EpollCtl(fd, syscall.EPOLL_CTL_ADD, p.wake[0], &ev); err != nil {
		p.closeFDs()
		return nil, err
	}
	go p.run()
	return p, nil
}

// The poller touches a socket's descriptor only inside its RawConn's
// Control, which holds the socket open for the call: a socket closed by
// another goroutine meanwhile makes the call fail instead of reaching a
// descriptor number the kernel may already have given to another
// connection. Safety comes from that, not from callers' ordering.

// add registers s's socket and arms it.
func (p *poller) add(s *Session, raw syscall.RawConn) error {
	return withFD(raw, func(fd int) error {
		p.mu.Lock()
		p.fds[int32(fd)] = s
		p.mu.Unlock()
		ev := syscall.EpollEvent{Events: pollEvents, Fd: int32(fd)}
		if err := syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, fd, &ev); err != nil {
			p.forget(s, fd)
			return err
		}
		return nil
	})
}

// arm asks for the next event on the socket. If it is readable already, the
// event comes at once, so no wake-up is lost between a read that found
// nothing and this call.
func (p *poller) arm(raw syscall.RawConn) error {
	return withFD(raw, func(fd int) error {
		ev := syscall.EpollEvent{Events: pollEvents, Fd: int32(fd)}
		return syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_MOD, fd, &ev)
	})
}

// remove forgets s's socket. It must run before the socket is closed: a
// closed socket can no longer be named, and its registration would then
// linger until the kernel drops it with the last reference.
func (p *poller) remove(s *Session, raw syscall.RawConn) {
	_ = withFD(raw, func(fd int) error {
		_ = syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_DEL, fd, nil)
		p.forget(s, fd)
		return nil
	})
}

func (p *poller) forget(s *Session, fd int) {
	p.mu.Lock()
	if p.fds[int32(fd)] == s {
		delete(p.fds, int32(fd))
	}
	p.mu.Unlock()
}

// withFD runs f with the socket's descriptor while the socket cannot be
// closed under it.
func withFD(raw syscall.RawConn, f func(fd int) error) error {
	var err error
	if cerr := raw.Control(func(fd uintptr) { err = f(int(fd)) }); cerr != nil {
		return cerr
	}
	return err
}

func (p *poller) run() {
	defer close(p.done)
	events := make([]syscall.EpollEvent, 256)
	for {
		n, err := syscall.EpollWait(p.epfd, events, -1)
		if err != nil {
			if errors.Is(err, syscall.EINTR) {
				continue
			}
			if !errors.Is(err, syscall.EBADF) {
				p.log.Error("epoll wait", "err", err)
			}
			return
		}
		p.mu.RLock()
		for i := range n {
			if int(events[i].Fd) == p.wake[0] {
				p.mu.RUnlock()
				return
			}
			if s := p.fds[events[i].Fd]; s != nil {
				s.wake()
			}
		}
		p.mu.RUnlock()
	}
}

// close stops the poller and waits for it.
func (p *poller) close() {
	_, _ = syscall.Write(p.wake[1], []byte{1})
	<-p.done
	p.closeFDs()
}

func (p *poller) closeFDs() {
	_ = syscall.Close(p.wake[0])
	_ = syscall.Close(p.wake[1])
	_ = syscall.Close(p.epfd)
}
