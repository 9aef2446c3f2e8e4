package bridge

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// ConsumerWatch tells whether a stream has any consumer, cluster-wide,
// without a round trip per question: a count of the stream's consumers
// from a stream info request, kept current by JetStream's consumer
// advisories and refreshed every consumerWatchRefresh (and soon after a
// deletion). It errs one way only: while anything is uncertain — before
// the first count, or a creation seen since the last one — it says yes.
//
// An interest-retention stream keeps a message only for the consumers it
// has; with none, storing is work for nothing. A consumer created on
// another gateway is known here once its advisory arrives (about a
// millisecond); what is published meanwhile is not stored for it, as if
// published just before it was created.
type ConsumerWatch struct {
	js     *JetStream
	stream string

	mu        sync.Mutex
	known     bool // a count has arrived
	consumers int  // in the last count
	created   int  // creations seen since that count was asked for
	subs      []*nats.Subscription
	kick      chan struct{} // a deletion: count again soon
	stop      chan struct{}
}

// consumerWatchRefresh is how often the count is taken again, in case an
// advisory was lost (advisories are not stored: a gateway that reconnects
// to NATS may have missed some).
const consumerWatchRefresh = 5 * time.Second

// WatchConsumers starts watching stream's consumers; Stop ends it.
func (j *JetStream) WatchConsumers(stream string) (*ConsumerWatch, error) {
	w := &ConsumerWatch{js: j, stream: stream, kick: make(chan struct{}, 1), stop: make(chan struct{})}
	for _, ev := range []string{"CREATED", "DELETED"} {
		subj := "$JS.EVENT.ADVISORY.CONSUMER." + ev + "." + stream + ".*"
		created := ev == "CREATED"
		sub, err := j.pub.nc.Subscribe(subj, func(*nats.Msg) { w.advisory(created) })
		if err != nil {
			w.Stop()
			return nil, fmt.Errorf("watch consumers of %s: %w", stream, err)
		}
		w.subs = append(w.subs, sub)
	}
	// The count is asked for after the subscriptions exist, so every
	// creation is either in it or seen as an advisory.
	if err := j.pub.nc.Flush(); err != nil {
		w.Stop()
		return nil, fmt.Errorf("watch consumers of %s: %w", stream, err)
	}
	go w.refresh()
	return w, nil
}

// HasConsumers reports whether the stream may have a consumer.
func (w *ConsumerWatch) HasConsumers() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return !w.known || w.consumers > 0 || w.created > 0
}

// Stop ends the watch.
func (w *ConsumerWatch) Stop() {
	for _, s := range w.subs {
		_ = s.Unsubscribe()
	}
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
}

func (w *ConsumerWatch) advisory(created bool) {
	if !created {
		select { // maybe none is left: count again
		case w.kick <- struct{}{}:
		default:
		}
		return
	}
	w.mu.Lock()
	w.created++
	w.mu.Unlock()
}

// refresh counts now, every consumerWatchRefresh, and after deletions (at
// most ten times a second), until Stop.
func (w *ConsumerWatch) refresh() {
	w.count()
	t := time.NewTicker(consumerWatchRefresh)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-w.kick:
			time.Sleep(100 * time.Millisecond) // let a burst of deletions settle
		case <-w.stop:
			return
		}
		w.count()
	}
}

// count asks JetStream for the number of consumers; creations seen from
// the moment it is asked for are counted on top of it.
func (w *ConsumerWatch) count() {
	w.mu.Lock()
	createdBefore := w.created
	w.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	n := -1
	if s, err := w.js.js.Stream(ctx, w.stream); err == nil {
		n = s.CachedInfo().State.Consumers
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if n < 0 {
		w.known = false // unsure: say yes until a count arrives
		return
	}
	w.known, w.consumers = true, n
	w.created -= createdBefore // those are in n
}
