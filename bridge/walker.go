package bridge

import (
	"sync"
	"time"
)

// Walker is one goroutine that calls Beat for each of its members every
// Tick: a protocol's keep-alive (STOMP heart-beats, Engine.IO pings)
// without a timer per connection. It runs only while it has members, so
// an idle gateway runs nothing. Beat runs on the walker's goroutine, one
// member after the other, and may Remove the member it is called for.
// Set Tick and Beat before the first Add.
type Walker[T comparable] struct {
	Tick time.Duration
	Beat func(member T, now int64) // now: the tick's time, Unix nanoseconds

	mu      sync.Mutex
	members map[T]struct{}
	stop    chan struct{} // closed to end the running walk; nil: none runs
}

// Add starts walking m, and the walk if it is not running.
func (w *Walker[T]) Add(m T) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.members == nil {
		w.members = map[T]struct{}{}
	}
	w.members[m] = struct{}{}
	if w.stop == nil {
		w.stop = make(chan struct{})
		go w.run(w.stop)
	}
}

// Remove stops walking m, and the walk with the last member.
func (w *Walker[T]) Remove(m T) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.members, m)
	if len(w.members) == 0 && w.stop != nil {
		close(w.stop)
		w.stop = nil
	}
}

// Len is how many members the walker has.
func (w *Walker[T]) Len() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.members)
}

func (w *Walker[T]) run(stop chan struct{}) {
	t := time.NewTicker(w.Tick)
	defer t.Stop()
	var batch []T
	var zero T
	for {
		var now time.Time
		select {
		case <-stop:
			return
		case now = <-t.C:
		}
		w.mu.Lock()
		batch = batch[:0]
		for m := range w.members {
			batch = append(batch, m)
		}
		w.mu.Unlock()
		n := now.UnixNano()
		for i, m := range batch {
			w.Beat(m, n)
			batch[i] = zero // nothing kept for the next tick
		}
	}
}
