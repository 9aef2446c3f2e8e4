package bridge

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// EmptyWatch tells whether a key-value bucket has never held anything —
// so that a lookup in it can be skipped — without a round trip per
// question: the bucket stream's message count from a stream info request,
// and, while that is zero, a plain subscription to the bucket's subjects,
// which sees every put and delete as it is made (by any gateway). It errs
// one way only: before the first count, or once anything was seen, it says
// the bucket may hold keys. Deletions leave markers, so a bucket that ever
// held a key stays "not empty" until its markers age out.
type EmptyWatch struct {
	k *KV

	mu    sync.Mutex
	known bool // a count has arrived
	msgs  uint64
	seen  bool // a put or delete since the watch began
	sub   *nats.Subscription
	stop  chan struct{}
}

// emptyWatchRefresh is how often an empty bucket is counted again.
const emptyWatchRefresh = 5 * time.Second

// WatchEmpty starts watching whether the bucket is empty; Stop ends it.
func (k *KV) WatchEmpty() (*EmptyWatch, error) {
	w := &EmptyWatch{k: k, stop: make(chan struct{})}
	sub, err := k.js.pub.nc.Subscribe(k.put+">", func(*nats.Msg) {
		w.mu.Lock()
		w.seen = true
		w.mu.Unlock()
	})
	if err != nil {
		return nil, fmt.Errorf("watch bucket %s: %w", k.put, err)
	}
	w.sub = sub
	// The count is asked for after the subscription exists, so every put
	// is either in it or seen.
	if err := k.js.pub.nc.Flush(); err != nil {
		_ = sub.Unsubscribe()
		return nil, fmt.Errorf("watch bucket %s: %w", k.put, err)
	}
	go w.count()
	return w, nil
}

// MayHaveKeys reports whether the bucket may hold a key.
func (w *EmptyWatch) MayHaveKeys() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return !w.known || w.msgs > 0 || w.seen
}

// Stop ends the watch.
func (w *EmptyWatch) Stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	select {
	case <-w.stop:
	default:
		close(w.stop)
		_ = w.sub.Unsubscribe()
	}
}

// count asks for the bucket's message count now and, while it is zero and
// nothing was seen, again every emptyWatchRefresh. Once the bucket has
// had something the answer stays yes (its markers last as long as its
// values would), so the watch stops there.
func (w *EmptyWatch) count() {
	t := time.NewTicker(emptyWatchRefresh)
	defer t.Stop()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		info, err := w.k.kv.Status(ctx)
		cancel()
		w.mu.Lock()
		if err == nil {
			w.known, w.msgs = true, info.Values()
		}
		done := w.known && (w.msgs > 0 || w.seen)
		w.mu.Unlock()
		if done {
			w.Stop()
			return
		}
		select {
		case <-t.C:
		case <-w.stop:
			return
		}
	}
}
