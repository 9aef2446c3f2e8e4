package bridge

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// writerIdle waits until s's writer has nothing queued and is not running.
func writerIdle(t *testing.T, s *Session) {
	t.Helper()
	checkFor(t, 5*time.Second, func() error {
		s.w.mu.Lock()
		defer s.w.mu.Unlock()
		if s.w.running || len(s.w.queue) > 0 {
			return fmt.Errorf("writer running %v, %d queued", s.w.running, len(s.w.queue))
		}
		return nil
	})
}

// TestBatch: frames sent through a Batch wait in the queue, the writer
// not started, until Flush; then they reach the client in order. A nil
// Batch sends at once.
func TestBatch(t *testing.T) {
	e := newEnv(t, Config{})
	c := e.dial("/", nil, nil)
	s := e.session(c)
	writerIdle(t, s)

	b := &Batch{}
	for _, m := range []string{"one", "two", "three"} {
		if err := b.Send(s, TextFrame([]byte(m))); err != nil {
			t.Fatal(err)
		}
	}
	if b.Len() != 1 {
		t.Fatalf("%d writers held, want 1 (the first Send found it idle)", b.Len())
	}
	s.w.mu.Lock()
	queued, running := len(s.w.queue), s.w.running
	s.w.mu.Unlock()
	if queued != 3 || !running {
		t.Fatalf("before Flush: %d queued, running %v; want 3 queued for a writer not yet started", queued, running)
	}
	b.Flush()
	if b.Len() != 0 {
		t.Fatalf("%d writers held after Flush", b.Len())
	}
	for _, want := range []string{"one", "two", "three"} {
		if got := c.read(); got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	}

	var nb *Batch
	if err := nb.Send(s, TextFrame([]byte("now"))); err != nil {
		t.Fatal(err)
	}
	nb.Flush()
	if got := c.read(); got != "now" {
		t.Fatalf("nil batch: got %q", got)
	}
}

// TestSendDeferred: frames sent one by one with SendDeferred, from two
// goroutines at once, all reach the client, each goroutine's in order: no
// writer start is lost between the caller and the goroutine it starts.
func TestSendDeferred(t *testing.T) {
	e := newEnv(t, Config{MaxQueuedBytes: 64 << 20})
	c := e.dial("/", nil, nil)
	s := e.session(c)
	const n = 2000
	var wg sync.WaitGroup
	for g := range 2 {
		wg.Go(func() {
			for i := range n {
				if err := s.SendDeferred(TextFrame(fmt.Appendf(nil, "%d %d", g, i))); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	next := [2]int{}
	for range 2 * n {
		var g, i int
		if _, err := fmt.Sscanf(c.read(), "%d %d", &g, &i); err != nil {
			t.Fatal(err)
		}
		if i != next[g] {
			t.Fatalf("goroutine %d: got %d, want %d", g, i, next[g])
		}
		next[g]++
	}
}

// TestPublishBatched: the callbacks of stores that JetStream acknowledged
// get the reply goroutine's Batch, and what they send through it reaches
// the client: the batch is flushed once the acknowledgements that
// arrived together are handled.
func TestPublishBatched(t *testing.T) {
	e := newEnv(t, Config{})
	js := e.gw.js
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := js.EnsureStream(ctx, StreamConfig{Name: "T_BATCHED", Subjects: []string{"batched.>"}}); err != nil {
		t.Fatal(err)
	}
	c := e.dial("/", nil, nil)
	s := e.session(c)
	const n = 300
	var mu sync.Mutex
	withBatch := 0
	for i := range n {
		js.PublishBatched("batched.x", nil, fmt.Appendf(nil, "%d", i), func(seq uint64, err error, b *Batch) {
			if err != nil {
				t.Errorf("store: %v", err)
			}
			mu.Lock()
			if b != nil {
				withBatch++
			}
			mu.Unlock()
			_ = b.Send(s, TextFrame(fmt.Appendf(nil, "acked %d", seq)))
		})
	}
	for i := range n {
		// One reply goroutine calls back, in the order JetStream answers:
		// the stream's order.
		if got, want := c.read(), fmt.Sprintf("acked %d", i+1); got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if withBatch != n {
		t.Fatalf("%d of %d callbacks had a batch", withBatch, n)
	}
}
