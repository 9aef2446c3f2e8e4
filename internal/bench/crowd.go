package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/nats-io/nats.go"
	"golang.org/x/sync/errgroup"
)

// crowdMaxTime bounds a crowd's join phase: its publisher stops, and the
// bookkeeping of what every client got is sized, for this long.
const crowdMaxTime = 2 * time.Minute

// crowdSettle is how long the publisher goes on after the last join, and
// how long a leave may take before the curve is cut short.
const (
	crowdSettle   = time.Second
	crowdLeaveMax = 30 * time.Second
)

// crowd measures a crowd arriving on one subject and leaving it: --crowd
// clients connect and subscribe to bench.crowd as fast as --concurrency
// dialers allow while a NATS publisher sends --crowd-rate messages a
// second, then all of them close at once. It reports the join curve (time
// to the given share of subscriptions, the last one included, and the
// server's CPU time per join, deliveries meanwhile included), the latency
// of the deliveries meanwhile, whether every client got every message
// published after its subscription was confirmed, and the leave curve: how
// soon the server's open sockets, read from /proc, are back to what they
// were before the crowd.
func (o *Options) crowd(t *target) ([]figure, string, error) {
	const subject = "bench.crowd"
	n, rate := o.Crowd, o.CrowdRate
	if n < 1 || rate < 1 {
		return nil, "", fmt.Errorf("crowd needs --crowd and --crowd-rate of at least 1 (got %d, %d)", n, rate)
	}
	if t.kind != "json" && t.kind != "nats" {
		return nil, "", fmt.Errorf("crowd speaks JSON and NATS only, not %s", t.kind)
	}
	if t.natsURL == "" {
		return nil, "", fmt.Errorf("crowd publishes on NATS: %s has no NATS URL (--nats)", t.name)
	}
	params := fmt.Sprintf("clients=%d rate=%d/s concurrency=%d", n, rate, o.Concurrency)

	// The publisher: message seq is sent at pubAt[seq] (since start).
	maxMsgs := rate * int(crowdMaxTime/time.Second)
	words := (maxMsgs + 63) / 64
	pubAt := make([]atomic.Int64, maxMsgs)
	var published atomic.Int64
	nc, err := nats.Connect(t.natsURL, nats.Name("wsgate-bench-crowd"))
	if err != nil {
		return nil, params, fmt.Errorf("publisher: %w", err)
	}
	defer nc.Close()
	if err := nc.Flush(); err != nil {
		return nil, params, fmt.Errorf("publisher: %w", err)
	}
	fds0, _ := procFDs(t.pid) // the publisher's connection included
	cpu0 := cpuOf(t)
	start := time.Now()
	stopPub := make(chan struct{})
	pubDone := make(chan error, 1)
	go func() {
		tick := time.NewTicker(time.Second / time.Duration(rate))
		defer tick.Stop()
		for seq := 0; seq < maxMsgs; seq++ {
			select {
			case <-stopPub:
				pubDone <- nil
				return
			case <-tick.C:
			}
			now := time.Now()
			pubAt[seq].Store(int64(now.Sub(start)))
			if err := nc.Publish(subject, makePayload(o.Size, uint64(seq), now.UnixNano())); err != nil {
				pubDone <- err
				return
			}
			published.Store(int64(seq + 1))
		}
		pubDone <- nil
	}()

	// The crowd.
	type member struct {
		c        *conn
		joinedAt time.Duration
		seen     []uint64 // bit seq: message seq arrived (written by its reader only)
	}
	members := make([]member, n)
	var hist histogram
	var readers sync.WaitGroup
	onPayload := func(m *member) func([]byte) {
		return func(p []byte) {
			seq, sent, ok := parsePayload(p)
			if !ok || seq >= uint64(maxMsgs) {
				return
			}
			m.seen[seq/64] |= 1 << (seq % 64)
			hist.record(time.Duration(time.Now().UnixNano() - sent))
		}
	}
	joined := make([]time.Duration, 0, n)
	var joinedMu sync.Mutex
	g, ctx := errgroup.WithContext(context.Background())
	g.SetLimit(o.Concurrency)
	ctx, cancel := context.WithTimeout(ctx, crowdMaxTime)
	defer cancel()
	for i := range n {
		g.Go(func() error {
			m := &members[i]
			m.seen = make([]uint64, words)
			c, err := dial(ctx, t)
			if err != nil {
				return fmt.Errorf("connection %d: %w", i, err)
			}
			m.c = c
			if err := c.crowdSubscribe(subject, onPayload(m)); err != nil {
				return fmt.Errorf("subscribe %d: %w", i, err)
			}
			m.joinedAt = time.Since(start)
			joinedMu.Lock()
			joined = append(joined, m.joinedAt)
			joinedMu.Unlock()
			readers.Add(1)
			go func() {
				defer readers.Done()
				_ = c.readPayloads(onPayload(m))
			}()
			return nil
		})
	}
	joinErr := g.Wait()
	allIn := time.Since(start)
	cpuIn := cpuOf(t) - cpu0
	if joinErr == nil {
		time.Sleep(crowdSettle)
	}
	close(stopPub)
	pubErr := <-pubDone
	lastPub := int(published.Load())
	// Let the last messages arrive: everyone in expects every one.
	time.Sleep(500 * time.Millisecond)

	// All leave at once.
	fdsIn, _ := procFDs(t.pid)
	leaveStart := time.Now()
	var closers sync.WaitGroup
	for k := range 8 {
		closers.Go(func() {
			for i := k; i < n; i += 8 {
				if c := members[i].c; c != nil {
					c.close()
				}
			}
		})
	}
	closers.Wait()
	leave := leaveCurve(t.pid, fds0, fdsIn, leaveStart)
	readers.Wait()

	// Every message published after a client's subscription was
	// confirmed must have reached it.
	var expected, delivered, extra int
	for i := range members {
		m := &members[i]
		if m.c == nil || m.joinedAt == 0 {
			continue
		}
		for seq := range lastPub {
			got := m.seen[seq/64]&(1<<(seq%64)) != 0
			switch {
			case time.Duration(pubAt[seq].Load()) > m.joinedAt:
				expected++
				if got {
					delivered++
				}
			case got:
				extra++ // published while it was joining: it may or may not come
			}
		}
	}
	sort.Slice(joined, func(i, j int) bool { return joined[i] < joined[j] })
	figs := []figure{{"clients", float64(len(joined)), ""}}
	for _, q := range []float64{0.5, 0.9} {
		if k := int(q*float64(len(joined))) - 1; k >= 0 && len(joined) == n {
			figs = append(figs, figure{fmt.Sprintf("join %d%%", int(q*100)), ms(joined[k]), "ms"})
		}
	}
	figs = append(figs,
		figure{"join 100%", ms(allIn), "ms"},
		figure{"joins/s", float64(len(joined)) / allIn.Seconds(), ""},
		figure{"server CPU/join", float64(cpuIn.Microseconds()) / float64(max(len(joined), 1)), "µs"},
		figure{"messages", float64(lastPub), ""},
		figure{"expected", float64(expected), "deliveries"},
		figure{"delivered", float64(delivered), ""},
		figure{"lost", float64(expected - delivered), "deliveries"},
		figure{"early", float64(extra), "deliveries"},
		figure{"p50 latency", float64(hist.percentile(0.50).Microseconds()), "µs"},
		figure{"p99 latency", float64(hist.percentile(0.99).Microseconds()), "µs"},
	)
	figs = append(figs, leave...)
	if joinErr != nil {
		return figs, params, joinErr
	}
	return figs, params, pubErr
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// leaveCurve polls the server's open descriptors after the crowd closed at
// leaveStart until they are back to base (as before the crowd), and
// reports when half of the crowd's sockets, nine in ten, and all were
// gone. in is the count with the crowd in.
func leaveCurve(pid, base, in int, leaveStart time.Time) []figure {
	if pid == 0 || in <= base {
		return nil
	}
	crowd := float64(in - base)
	var figs []figure
	marks := []float64{0.5, 0.9, 1}
	for len(marks) > 0 && time.Since(leaveStart) < crowdLeaveMax {
		now, err := procFDs(pid)
		if err != nil {
			break
		}
		for len(marks) > 0 && float64(in-now) >= marks[0]*crowd {
			figs = append(figs, figure{fmt.Sprintf("leave %d%%", int(marks[0]*100)), ms(time.Since(leaveStart)), "ms"})
			marks = marks[1:]
		}
		time.Sleep(5 * time.Millisecond)
	}
	for _, q := range marks {
		figs = append(figs, figure{fmt.Sprintf("leave %d%% not after", int(q*100)), ms(crowdLeaveMax), "ms"})
	}
	return figs
}

// procFDs counts a process's open file descriptors.
func procFDs(pid int) (int, error) {
	if pid == 0 {
		return 0, nil
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	return len(names), err
}

// crowdSubscribe is subscribe for a connection that may get messages on
// the subject before the server confirms it: they go to onPayload.
func (c *conn) crowdSubscribe(subject string, onPayload func([]byte)) error {
	_ = c.ws.SetReadDeadline(time.Now().Add(30 * time.Second))
	defer c.ws.SetReadDeadline(time.Time{})
	if c.kind == "nats" {
		if err := c.ws.WriteMessage(websocket.BinaryMessage, []byte("SUB "+subject+" 1\r\nPING\r\n")); err != nil {
			return err
		}
		for found := false; !found; {
			if err := c.natsParse(onPayload, func(line string) { found = found || line == "PONG" }); err != nil {
				return err
			}
		}
		return nil
	}
	if err := c.ws.WriteMessage(websocket.TextMessage, []byte(`{"action":"subscribe","subject":"`+subject+`"}`)); err != nil {
		return err
	}
	dataKey := []byte(`"data":`)
	for {
		_, b, err := c.ws.ReadMessage()
		if err != nil {
			return err
		}
		if bytes.Contains(b, []byte(`"type":"subscribed"`)) {
			return nil
		}
		if i := bytes.Index(b, dataKey); i >= 0 && bytes.Contains(b, []byte(`"type":"message"`)) {
			onPayload(b[i+len(dataKey):])
			continue
		}
		return fmt.Errorf("subscribe answered %s", b)
	}
}
