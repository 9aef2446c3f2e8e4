package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
)

// stallTimeout is how long a closed-loop publisher waits for its window to
// open before the scenario is declared stalled: deliveries stopped, so
// messages were lost or the server stopped serving.
const stallTimeout = 5 * time.Second

// errStalled is a publisher whose window stayed shut for stallTimeout.
var errStalled = errors.New("bench: deliveries stalled")

// fanout measures one publisher to many subscribers on one subject. The
// publisher is a NATS client by default, or with --ws-publisher a
// WebSocket client speaking the target's protocol.
func (o *Options) fanout(t *target) ([]figure, string, error) {
	const subject = "bench.fanout"
	n := o.Subscribers
	w := o.window("fanout")
	if n < 1 || w < 1 {
		return nil, "", fmt.Errorf("fanout needs --subscribers and --window of at least 1 (got %d, %d)", n, w)
	}
	conns, _, err := o.openConns(t, n, func(int) string { return subject })
	if err != nil {
		return nil, "", err
	}
	defer closeAll(conns)

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

	send, pubName, stopPub, err := o.publisher(t, subject)
	if err != nil {
		return nil, "", err
	}
	params := fmt.Sprintf("subscribers=%d window=%d publisher=%s", n, w, pubName)
	stopPub = sync.OnceValue(stopPub)
	defer stopPub()

	fill := filler(o.Filler, o.Size)
	var published uint64
	var failure error
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
			case <-time.After(stallTimeout):
				failure = fmt.Errorf("%w: no window slot freed for %s after %d messages", errStalled, stallTimeout, published)
				return
			}
			if err := send(makePayloadFilled(o.Size, published, time.Now().UnixNano(), fill)); err != nil {
				failure = err
				return
			}
			published++
		}
	}
	publish(time.Now().Add(time.Second)) // warm up
	if failure != nil {
		return nil, params, errors.Join(fmt.Errorf("warm-up: %w", failure), stopPub())
	}
	sum := func() (s uint64) {
		for i := range counts {
			s += counts[i].Load()
		}
		return s
	}
	hist.reset()
	d0, cpu0, w0 := sum(), cpuOf(t), wireBytesIn.Load()
	start := time.Now()
	publish(start.Add(o.Duration))
	elapsed := time.Since(start)
	d1, cpu1, w1 := sum(), cpuOf(t), wireBytesIn.Load()
	// Let what is in flight arrive, then count losses.
	deadline := time.Now().Add(stallTimeout)
	for sum() < published*uint64(n) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	lost := published*uint64(n) - sum()
	pubErr := stopPub()
	closeAll(conns)
	readers.Wait()

	deliveries := float64(d1 - d0)
	figs := []figure{
		{"deliveries/s", deliveries / elapsed.Seconds(), ""},
		{"p50 latency", float64(hist.percentile(0.50).Microseconds()), "µs"},
		{"p99 latency", float64(hist.percentile(0.99).Microseconds()), "µs"},
		{"lost", float64(lost), "deliveries"},
	}
	if deliveries > 0 {
		// What the subscribers' sockets read, frames and all, per
		// delivery: compression shows here.
		figs = append(figs, figure{"wire bytes/delivery", float64(w1-w0) / deliveries, "B"})
	}
	if cpu1 > 0 && deliveries > 0 {
		figs = append(figs, figure{"server CPU/delivery", float64((cpu1 - cpu0).Nanoseconds()) / deliveries / 1000, "µs"})
	}
	if failure != nil {
		figs = append(figs, figure{"stalled", 1, ""})
	}
	return figs, params, errors.Join(failure, pubErr)
}

// publisher returns how fanout publishes to subject, and its name for the
// result line: "nats", a NATS client, by default; "ws", a WebSocket
// connection of its own in the target's protocol, with --ws-publisher or
// for a server without NATS (RabbitMQ, whose publisher sends STOMP).
// stop closes it and returns what went wrong on its connection.
func (o *Options) publisher(t *target, subject string) (send func([]byte) error, name string, stop func() error, err error) {
	if t.natsURL != "" && !o.WSPublisher {
		nc, err := nats.Connect(t.natsURL, nats.Name("wsgate-bench-publisher"))
		if err != nil {
			return nil, "", nil, fmt.Errorf("publisher: %w", err)
		}
		stop := func() error {
			err := nc.LastError()
			nc.Close()
			return err
		}
		if t.kind == "socketio" {
			// The subscribers are in the room named subject.
			if subject, err = sioRoomSubject(subject); err != nil {
				nc.Close()
				return nil, "", nil, err
			}
		}
		return func(p []byte) error { return nc.Publish(subject, p) }, "nats", stop, nil
	}
	c, err := dial(context.Background(), t)
	if err != nil {
		return nil, "", nil, fmt.Errorf("publisher: %w", err)
	}
	return func(p []byte) error { return c.publish(subject, p) }, "ws", c.watch(), nil
}
