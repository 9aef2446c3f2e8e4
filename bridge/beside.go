package bridge

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// ErrTooManyRequests refuses work beside the reader when a connection has
// its limit running already. It wraps ErrLimit.
var ErrTooManyRequests = fmt.Errorf("%w: too many requests waiting", ErrLimit)

// beside is what a connection runs beside its reader: two-way requests and
// HTTP integrations, which may take seconds, must not hold up the
// connection's next message. It is made on first use: most connections
// never make a request.
type beside struct {
	mu      sync.Mutex
	running int
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	ended   bool
}

// Beside runs fn on a goroutine of its own, beside the reader, with at
// most limit of them running at once for this connection (limit < 1 means
// one); over it, fn is not run and ErrTooManyRequests is returned. ctx is
// cancelled when the connection ends, and the connection's end — its
// Closer.OnClose, its $disconnect — waits for every fn to return, so fn
// must give up promptly once ctx is done. fn must not keep the reader's
// buffers: copy what it needs before calling Beside.
func (s *Session) Beside(limit int, fn func(ctx context.Context)) error {
	b := &s.beside
	b.mu.Lock()
	if b.ended {
		b.mu.Unlock()
		return ErrClosed
	}
	if b.running >= max(limit, 1) {
		b.mu.Unlock()
		s.gw.metrics.limited.WithLabelValues(s.proto.Name(), "requests").Inc()
		return fmt.Errorf("%w (at most %d)", ErrTooManyRequests, max(limit, 1))
	}
	if b.ctx == nil {
		b.ctx, b.cancel = context.WithCancel(context.Background())
	}
	b.running++
	b.wg.Add(1)
	ctx := b.ctx
	b.mu.Unlock()
	go func() {
		defer func() {
			b.mu.Lock()
			b.running--
			b.mu.Unlock()
			b.wg.Done()
		}()
		fn(ctx)
	}()
	return nil
}

// RequestAsync is Request beside the reader, bounded as Beside is: done
// gets the reply or the error (ErrTimeout, ErrNoResponders, ErrForbidden…)
// on the request's own goroutine, and is not called at all when the
// connection ended meanwhile. data is copied: the caller's buffer may be
// reused as soon as RequestAsync returns.
func (s *Session) RequestAsync(limit int, subject, route string, hdr Header, data []byte, timeout time.Duration, done func(*Message, error)) error {
	if err := s.CheckPublish(subject); err != nil {
		return err
	}
	data = append([]byte(nil), data...)
	return s.Beside(limit, func(ctx context.Context) {
		m, err := s.Request(ctx, subject, route, hdr, data, timeout)
		if ctx.Err() != nil {
			return // the connection is gone: nobody to answer
		}
		done(m, err)
	})
}

// cancelBeside cancels what runs beside the reader; nothing new starts
// afterwards. The session's end calls it before Done is closed, so that
// work that finishes after Done sees its ctx cancelled and answers nobody.
func (s *Session) cancelBeside() {
	b := &s.beside
	b.mu.Lock()
	b.ended = true
	if b.cancel != nil {
		b.cancel()
	}
	b.mu.Unlock()
}

// endBeside cancels what runs beside the reader and waits for it.
func (s *Session) endBeside() {
	s.cancelBeside()
	s.beside.wg.Wait()
}
