package wamp

import (
	"context"
	"sync"
)

// runner runs a connection's CALLs beside its reader, at most n at once,
// so that a slow procedure never holds up the connection and a client
// cannot start unbounded work. (Written here, in one file, until bridge
// has a shared helper for "a bounded request beside the reader".)
type runner struct {
	sem    chan struct{}
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func newRunner(n int) *runner {
	r := &runner{sem: make(chan struct{}, n)}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	return r
}

// try starts fn in its own goroutine if fewer than n are running, and
// reports whether it did. fn's context is canceled by stop.
func (r *runner) try(fn func(ctx context.Context)) bool {
	select {
	case r.sem <- struct{}{}:
	default:
		return false
	}
	r.wg.Add(1)
	go func() {
		defer func() { <-r.sem; r.wg.Done() }()
		fn(r.ctx)
	}()
	return true
}

// stop cancels everything running and waits for it.
func (r *runner) stop() {
	r.cancel()
	r.wg.Wait()
}
