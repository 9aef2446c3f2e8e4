package wire

import (
	"errors"
	"log/slog"
	"sync"
	"syscall"
)

// Waker is what the poller wakes when its socket has something to read.
// Wake must not block.
type Waker interface{ Wake() }

// Poller watches idle connections with one epoll instance, so a connection
// with nothing to read has no goroutine — and no goroutine stack — of its
// own. Each socket is registered one-shot: an event wakes its Waker, which
// reads everything available on a short-lived goroutine and re-arms the
// registration when the socket runs dry.
//
// Go's runtime poller watches the same sockets for the writer; a socket may
// sit in several epoll sets, and the reader never uses the runtime's
// read path, so the two do not interfere.
type Poller struct {
	epfd int
	wake [2]int // a pipe: writing to wake[1] stops run
	log  *slog.Logger
	mu   sync.RWMutex
	fds  map[int32]Waker
	done chan struct{}
}

const pollEvents = syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT

// NewPoller starts a poller; Close stops it.
func NewPoller(log *slog.Logger) (*Poller, error) {
	fd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	p := &Poller{epfd: fd, log: log, fds: map[int32]Waker{}, done: make(chan struct{})}
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

// Add registers the socket of w and arms it.
func (p *Poller) Add(w Waker, raw syscall.RawConn) error {
	return withFD(raw, func(fd int) error {
		p.mu.Lock()
		p.fds[int32(fd)] = w
		p.mu.Unlock()
		ev := syscall.EpollEvent{Events: pollEvents, Fd: int32(fd)}
		if err := syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, fd, &ev); err != nil {
			p.forget(w, fd)
			return err
		}
		return nil
	})
}

// Arm asks for the next event on the socket. If it is readable already, the
// event comes at once, so no wake-up is lost between a read that found
// nothing and this call.
func (p *Poller) Arm(raw syscall.RawConn) error {
	return withFD(raw, func(fd int) error {
		ev := syscall.EpollEvent{Events: pollEvents, Fd: int32(fd)}
		return syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_MOD, fd, &ev)
	})
}

// Remove forgets the socket of w. It must run before the socket is closed: a
// closed socket can no longer be named, and its registration would then
// linger until the kernel drops it with the last reference.
func (p *Poller) Remove(w Waker, raw syscall.RawConn) {
	_ = withFD(raw, func(fd int) error {
		_ = syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_DEL, fd, nil)
		p.forget(w, fd)
		return nil
	})
}

func (p *Poller) forget(w Waker, fd int) {
	p.mu.Lock()
	if p.fds[int32(fd)] == w {
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

func (p *Poller) run() {
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
			if w := p.fds[events[i].Fd]; w != nil {
				w.Wake()
			}
		}
		p.mu.RUnlock()
	}
}

// Close stops the poller and waits for it.
func (p *Poller) Close() {
	_, _ = syscall.Write(p.wake[1], []byte{1})
	<-p.done
	p.closeFDs()
}

func (p *Poller) closeFDs() {
	_ = syscall.Close(p.wake[0])
	_ = syscall.Close(p.wake[1])
	_ = syscall.Close(p.epfd)
}
