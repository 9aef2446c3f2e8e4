package bench

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// pairSubject is publisher i's subject; an MQTT client uses it with "/"
// for ".", bench/pairs/<i>.
func pairSubject(i int) string { return fmt.Sprintf("bench.pairs.%d", i) }

// pairs measures the per-message path from many small publishers:
// --publishers WebSocket clients, each publishing in the target's own
// protocol on a subject of its own with --pair-subscribers subscribers on
// it, each keeping --window (default 10) messages in flight. The loop is
// closed per publisher, as fanout's is for its one: a publisher sends its
// next message when every subscriber of its subject has its earliest
// outstanding one. Publishers subscribe to nothing, so a message that
// comes back to one is an error, as are a lost delivery and a stall.
func (o *Options) pairs(t *target) ([]figure, string, error) {
	np, ns, w := o.Publishers, o.PairSubscribers, o.window("pairs")
	params := fmt.Sprintf("publishers=%d subscribers/publisher=%d window=%d publisher=ws", np, ns, w)
	if np < 1 || ns < 1 || w < 1 {
		return nil, params, fmt.Errorf("pairs needs --publishers, --pair-subscribers and --window of at least 1 (got %d, %d, %d)", np, ns, w)
	}
	subs, _, err := o.openConns(t, np*ns, func(j int) string { return pairSubject(j / ns) })
	if err != nil {
		return nil, params, fmt.Errorf("subscribers: %w", err)
	}
	defer closeAll(subs)
	// Over several gateways, publisher i is on another than its
	// subscribers: every message crosses from one gateway to another.
	pubs, _, err := o.openConns(t.shifted(1), np, nil)
	if err != nil {
		return nil, params, fmt.Errorf("publishers: %w", err)
	}
	defer closeAll(pubs)

	lanes := make([]lane, np)
	for i := range lanes {
		lanes[i].init(w, stallTimeout)
	}
	var hist histogram
	counts := make([]atomic.Uint64, len(subs))
	var readers sync.WaitGroup
	for j, c := range subs {
		l := &lanes[j/ns]
		readers.Add(1)
		go func() {
			defer readers.Done()
			k := 0
			_ = c.readPayloads(func(p []byte) {
				seq, sent, ok := parsePayload(p)
				if !ok {
					return
				}
				counts[j].Add(1)
				if k++; k%8 == 0 {
					hist.record(time.Duration(time.Now().UnixNano() - sent))
				}
				l.delivered(seq, ns)
			})
		}()
	}
	sum := func() (s uint64) {
		for j := range counts {
			s += counts[j].Load()
		}
		return s
	}

	stops := make([]func() error, len(pubs))
	for i, c := range pubs {
		stops[i] = c.watch()
	}
	warm := time.Now().Add(time.Second)
	end := warm.Add(o.Duration)
	var publishers sync.WaitGroup
	for i, c := range pubs {
		publishers.Add(1)
		go func() {
			defer publishers.Done()
			lanes[i].run(c, pairSubject(i), o.Size, end)
		}()
	}
	time.Sleep(time.Until(warm))
	hist.reset()
	d0, cpu0 := sum(), cpuOf(t)
	start := time.Now()
	publishers.Wait()
	elapsed := time.Since(start)
	d1, cpu1 := sum(), cpuOf(t)

	// Let what is in flight arrive, then count losses.
	var want uint64
	for i := range lanes {
		want += lanes[i].published.Load() * uint64(ns)
	}
	deadline := time.Now().Add(stallTimeout)
	for sum() < want && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	got := sum()
	var pubErrs []error
	for _, stop := range stops {
		if err := stop(); err != nil {
			pubErrs = append(pubErrs, err)
		}
	}
	closeAll(subs)
	readers.Wait()

	deliveries := float64(d1 - d0)
	var lost uint64
	if got < want {
		lost = want - got
	}
	figs := []figure{
		{"deliveries/s", deliveries / elapsed.Seconds(), ""},
		{"p50 latency", float64(hist.percentile(0.50).Microseconds()), "µs"},
		{"p99 latency", float64(hist.percentile(0.99).Microseconds()), "µs"},
		{"lost", float64(lost), "deliveries"},
	}
	if cpu1 > 0 && deliveries > 0 {
		figs = append(figs, figure{"server CPU/delivery", float64((cpu1 - cpu0).Nanoseconds()) / deliveries / 1000, "µs"})
	}

	var errs []error
	if n, first := laneFailures(lanes); n > 0 {
		figs = append(figs, figure{"stalled", float64(n), "publishers"})
		errs = append(errs, fmt.Errorf("%d of %d publishers stopped early, the first: %w", n, np, first))
	}
	if lost > 0 {
		errs = append(errs, fmt.Errorf("%d of %d deliveries lost", lost, want))
	}
	if got > want {
		errs = append(errs, fmt.Errorf("%d deliveries more than published", got-want))
	}
	if len(pubErrs) > 0 {
		errs = append(errs, fmt.Errorf("%d of %d publisher connections failed, the first: %w", len(pubErrs), np, pubErrs[0]))
	}
	return figs, params, errors.Join(errs...)
}

// lane is one publisher's closed loop. Its window's slots count the
// subscribers that have each message in flight (by sequence number modulo
// the window); when a slot's count reaches the subscriber count, the slot
// empties and a token lets the publisher send the next message.
type lane struct {
	slots     []atomic.Int32
	tokens    chan struct{}
	published atomic.Uint64
	stall     time.Duration // how long the window may stay shut
	err       error         // why run stopped before its time; read after it returned
}

// init opens a window of w messages that may stay shut for stall.
func (l *lane) init(w int, stall time.Duration) {
	l.stall = stall
	l.slots = make([]atomic.Int32, w)
	l.tokens = make(chan struct{}, w)
	for range w {
		l.tokens <- struct{}{}
	}
}

// delivered counts one subscriber's receipt of message seq.
func (l *lane) delivered(seq uint64, subscribers int) {
	s := &l.slots[seq%uint64(len(l.slots))]
	if s.Add(1) == int32(subscribers) {
		s.Store(0)
		l.tokens <- struct{}{}
	}
}

// run publishes on c to subject until the time until, a message whenever
// the window has room; it stops early when the window stays shut for
// l.stall or a write fails.
func (l *lane) run(c *conn, subject string, size int, until time.Time) {
	timer := time.NewTimer(l.stall)
	timer.Stop()
	for seq := uint64(0); time.Now().Before(until); seq++ {
		select {
		case <-l.tokens:
		default:
			timer.Reset(l.stall)
			select {
			case <-l.tokens:
				timer.Stop()
			case <-timer.C:
				l.err = fmt.Errorf("%w: %s: no window slot freed for %s after %d messages", errStalled, subject, l.stall, seq)
				return
			}
		}
		if err := c.publish(subject, makePayload(size, seq, time.Now().UnixNano())); err != nil {
			l.err = err
			return
		}
		l.published.Add(1)
	}
}

// laneFailures counts the lanes that stopped early and returns the first
// one's error.
func laneFailures(lanes []lane) (n int, first error) {
	for i := range lanes {
		if lanes[i].err != nil {
			if n == 0 {
				first = lanes[i].err
			}
			n++
		}
	}
	return n, first
}
