package bridge

import (
	"io"
	"log/slog"
	"strconv"
	"sync"
	"testing"

	"github.com/nats-io/nats.go"
)

// crowdSizes are the members already on the subject when the benchmarked
// joins and leaves happen. Select the biggest on their own
// (-bench 'HubJoin/1000000'): the crowd is built once per size.
var crowdSizes = []int{1_000, 10_000, 100_000, 1_000_000}

// crowd is a hub whose one subject, bench.crowd, has n members.
type crowd struct {
	h *hub
	s *Session // every member's: nothing is delivered here
}

// newCrowd starts an in-process NATS server and a hub with n members on
// bench.crowd, made through hub.add as a subscribing session makes them.
// They live until owner (the parent benchmark) ends: a sub-benchmark's
// cleanups run after each b.N it tries.
func newCrowd(owner, b *testing.B, n int) *crowd {
	b.Helper()
	emb, err := StartEmbedded(EmbeddedConfig{Listen: "-", DataDir: owner.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	owner.Cleanup(emb.Shutdown)
	nc, err := emb.Connect()
	if err != nil {
		b.Fatal(err)
	}
	owner.Cleanup(nc.Close)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := Config{}.withDefaults()
	c := &crowd{
		h: newHub(nc, cfg.ReservedPrefix, log),
		s: &Session{gw: &Gateway{cfg: cfg, metrics: newMetrics(), log: log}, id: newID(12), done: make(chan struct{})},
	}
	owner.Cleanup(c.h.close)
	for range n {
		c.join(b)
	}
	return c
}

// join adds one member to bench.crowd.
func (c *crowd) join(b *testing.B) *Subscription {
	sub := &Subscription{s: c.s, pattern: "bench.crowd", deliver: func(*Delivery) {}}
	if err := c.h.add(sub); err != nil {
		b.Fatal(err)
	}
	return sub
}

// BenchmarkHubJoin measures one session joining a subject that n others
// are on already: the cost a crowd's n-th member pays, and that everyone
// delivering on the subject waits for if the hub locks them out meanwhile.
func BenchmarkHubJoin(b *testing.B) {
	for _, n := range crowdSizes {
		var c *crowd // built once, for every b.N the benchmark tries
		b.Run(strconv.Itoa(n), func(sb *testing.B) {
			if c == nil {
				c = newCrowd(b, sb, n)
			}
			b := sb
			subs := make([]*Subscription, 0, b.N)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				subs = append(subs, c.join(b))
			}
			b.StopTimer()
			for _, sub := range subs {
				c.h.remove(sub)
			}
		})
	}
}

// BenchmarkHubLeave measures one member leaving a subject that n others
// stay on.
func BenchmarkHubLeave(b *testing.B) {
	for _, n := range crowdSizes {
		var c *crowd
		b.Run(strconv.Itoa(n), func(sb *testing.B) {
			if c == nil {
				c = newCrowd(b, sb, n)
			}
			b := sb
			subs := make([]*Subscription, 0, b.N)
			for range b.N {
				subs = append(subs, c.join(b))
			}
			b.ReportAllocs()
			b.ResetTimer()
			for _, sub := range subs {
				c.h.remove(sub)
			}
		})
	}
}

// BenchmarkHubFanOut measures the hub's own part of a fan-out to n
// members: the walk over the subject's members and one call each, with a
// deliver that only counts (BenchmarkFanOut adds the encoding, the queues
// and the writers).
func BenchmarkHubFanOut(b *testing.B) {
	for _, n := range crowdSizes {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			h := &hub{prefix: "wsgate"}
			hs := &hubSub{key: hubKey{pattern: "bench.crowd"}}
			var got int
			for range n {
				hs.join(&Subscription{pattern: "bench.crowd", deliver: func(*Delivery) { got++ }})
			}
			msg := &nats.Msg{Subject: "bench.crowd", Data: []byte("x")}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				h.fanOut(hs, msg, nil)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/delivery")
			if got != b.N*n {
				b.Fatalf("%d deliveries, want %d", got, b.N*n)
			}
		})
	}
}

// BenchmarkHubMassLeave measures n members leaving one subject at once,
// from eight goroutines, while messages are fanned out to it without a
// pause: a restart closing n connections. An op is the whole crowd
// leaving.
func BenchmarkHubMassLeave(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			c := newCrowd(b, b, 1) // one member stays: the subject lives on
			h := c.h
			h.mu.RLock()
			hs := h.subs[hubKey{pattern: "bench.crowd"}]
			h.mu.RUnlock()
			msg := &nats.Msg{Subject: "bench.crowd", Data: []byte("x")}
			subs := make([]*Subscription, n)
			for range b.N {
				b.StopTimer()
				for i := range subs {
					subs[i] = c.join(b)
				}
				stop := make(chan struct{})
				var fanning sync.WaitGroup
				fanning.Go(func() {
					for {
						select {
						case <-stop:
							return
						default:
							h.fanOut(hs, msg, nil)
						}
					}
				})
				b.StartTimer()
				var leaving sync.WaitGroup
				for k := range 8 {
					leaving.Go(func() {
						for i := k; i < n; i += 8 {
							h.remove(subs[i])
						}
					})
				}
				leaving.Wait()
				b.StopTimer()
				close(stop)
				fanning.Wait()
				if got := hs.size(); got != 1 {
					b.Fatalf("%d members after the crowd left, want 1", got)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/leave")
		})
	}
}
