package bench

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/nats-io/nats.go"
)

// fanout measures one publisher to many subscribers on one subject.
func (o *Options) fanout(t *target) ([]figure, error) {
	const subject = "bench.fanout"
	n := o.Subscribers
	conns, _, err := o.openConns(t, n, func(int) string { return subject })
	if err != nil {
		return nil, err
	}
	defer closeAll(conns)

	w := o.Window
	slots := make([]atomic.Int32, w)
	tokens := make(chan struct{}, w)
	for range w {
		tokens <- struct{}{}
	}
	var hist histogram
	counts := make([]atomic.Uint64, n)
	var readers sync.WaitGroup
	for i, c := range conns {
		readers.Add(1)
		go func() {
			defer readers.Done()
			k := 0
			_ = c.readPayloads(func(p []byte) {
				seq, sent, ok := parsePayload(p)
				if !ok {
					return
				}
				counts[i].Add(1)
				if k++; k%8 == 0 {
					hist.record(time.Duration(time.Now().UnixNano() - sent))
				}
				if slots[seq%uint64(w)].Add(1) == int32(n) {
					slots[seq%uint64(w)].Store(0)
					tokens <- struct{}{}
				}
			})
		}()
	}

	send, closePub, err := o.publisher(t, subject)
	if err != nil {
		return nil, err
	}
	defer closePub()

	var published uint64
	var stalled bool
	publish := func(until time.Time) {
		start, sent := time.Now(), 0
		for time.Now().Before(until) {
			if o.Rate > 0 {
				next := start.Add(time.Duration(sent) * time.Second / time.Duration(o.Rate))
				if d := time.Until(next); d > 0 {
					time.Sleep(d)
				}
				sent++
			}
			select {
			case <-tokens:
			case <-time.After(5 * time.Second):
				stalled = true
				return
			}
			if err := send(makePayload(o.Size, published, time.Now().UnixNano())); err != nil {
				stalled = true
				return
			}
			published++
		}
	}
	publish(time.Now().Add(time.Second)) // warm up
	if stalled {
		return nil, errors.New("deliveries stalled during warm-up: messages were lost")
	}
	sum := func() (s uint64) {
		for i := range counts {
			s += counts[i].Load()
		}
		return s
	}
	hist = histogram{}
	d0, cpu0 := sum(), cpuOf(t)
	start := time.Now()
	publish(start.Add(o.Duration))
	elapsed := time.Since(start)
	d1, cpu1 := sum(), cpuOf(t)
	// Let what is in flight arrive, then count losses.
	deadline := time.Now().Add(5 * time.Second)
	for sum() < published*uint64(n) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	lost := published*uint64(n) - sum()
	closeAll(conns)
	readers.Wait()

	deliveries := float64(d1 - d0)
	figs := []figure{
		{"deliveries/s", deliveries / elapsed.Seconds(), ""},
		{"p50 latency", float64(hist.percentile(0.50).Microseconds()), "µs"},
		{"p99 latency", float64(hist.percentile(0.99).Microseconds()), "µs"},
		{"lost", float64(lost), "deliveries"},
	}
	if cpu1 > 0 {
		figs = append(figs, figure{"server CPU/delivery", float64((cpu1 - cpu0).Nanoseconds()) / deliveries / 1000, "µs"})
	}
	if stalled {
		figs = append(figs, figure{"stalled", 1, ""})
	}
	return figs, nil
}

// publisher publishes on NATS, or, for a server without NATS (RabbitMQ),
// with STOMP SEND frames on a connection of its own.
func (o *Options) publisher(t *target, subject string) (send func([]byte) error, closeFn func(), err error) {
	if t.natsURL != "" {
		nc, err := nats.Connect(t.natsURL, nats.Name("wsgate-bench-publisher"))
		if err != nil {
			return nil, nil, err
		}
		return func(p []byte) error { return nc.Publish(subject, p) }, nc.Close, nil
	}
	c, err := dial(context.Background(), t)
	if err != nil {
		return nil, nil, err
	}
	head := "SEND\ndestination:/topic/" + subject + "\ncontent-length:"
	return func(p []byte) error {
		f := make([]byte, 0, len(head)+len(p)+8)
		f = append(f, head...)
		f = strconv.AppendInt(f, int64(len(p)), 10)
		f = append(f, "\n\n"...)
		f = append(f, p...)
		f = append(f, 0)
		return c.ws.WriteMessage(websocket.TextMessage, f)
	}, c.close, nil
}
