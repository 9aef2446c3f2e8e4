package bridge

import (
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"
)

// checkSet verifies a member set's bookkeeping: every member in the chunk
// it believes it is in, at its slot; no empty linked chunk but a lone one;
// the open list holds exactly the linked chunks with room.
func checkSet(t *testing.T, hs *hubSub, want map[*Subscription]bool) {
	t.Helper()
	ms := &hs.ms
	ms.mu.Lock()
	defer ms.mu.Unlock()
	seen := map[*Subscription]bool{}
	chunks, open := 0, 0
	var prev *memberChunk
	for c := ms.head; c != nil; c = c.next {
		chunks++
		if c.unlinked || c.prev != prev || c.set != hs {
			t.Fatalf("chunk %d: unlinked %v, prev %p (want %p)", chunks, c.unlinked, c.prev, prev)
		}
		if len(c.members) == 0 && (c != ms.head || c != ms.tail) {
			t.Fatalf("chunk %d of several is empty but linked", chunks)
		}
		if len(c.members) > chunkCap {
			t.Fatalf("chunk %d holds %d members", chunks, len(c.members))
		}
		if room := len(c.members) < chunkCap; room != (c.open >= 0) {
			t.Fatalf("chunk %d: %d members, open index %d", chunks, len(c.members), c.open)
		} else if room {
			open++
			if ms.open[c.open] != c {
				t.Fatalf("chunk %d is not at its open index", chunks)
			}
		}
		for i, sub := range c.members {
			if sub.chunk.Load() != c || sub.slot != i || seen[sub] {
				t.Fatalf("chunk %d slot %d: member in chunk %p slot %d, seen %v", chunks, i, sub.chunk.Load(), sub.slot, seen[sub])
			}
			seen[sub] = true
		}
		prev = c
	}
	if prev != ms.tail || open != len(ms.open) || ms.count != len(seen) {
		t.Fatalf("tail %p (last %p), %d open chunks listed (%d found), count %d (%d found)", ms.tail, prev, len(ms.open), open, ms.count, len(seen))
	}
	if len(seen) != len(want) {
		t.Fatalf("%d members, want %d", len(seen), len(want))
	}
	for sub := range want {
		if !seen[sub] {
			t.Fatalf("member %p missing", sub)
		}
	}
}

// countingSub is a member that counts what it is given, by message.
func countingSub(got map[string]int) *Subscription {
	sub := &Subscription{}
	sub.deliver = func(d *Delivery) { got[fmt.Sprintf("%p %s", sub, d.Msg.Data)]++ }
	return sub
}

// TestMemberSet: joins and leaves in any order keep the chunks consistent,
// every member gets each message once, the last leave kills the set, and a
// dead set takes no one.
func TestMemberSet(t *testing.T) {
	hs := &hubSub{key: hubKey{pattern: "m"}}
	got := map[string]int{}
	live := map[*Subscription]bool{}
	var all []*Subscription
	for range 5*chunkCap + 17 {
		sub := countingSub(got)
		if !hs.join(sub) {
			t.Fatal("join refused by a live set")
		}
		live[sub] = true
		all = append(all, sub)
	}
	checkSet(t, hs, live)
	rng := rand.New(rand.NewPCG(1, 2))
	rng.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	for round, n := range []int{300, 700, 400} {
		for _, sub := range all[:n] {
			if _, last := sub.leave(); last {
				t.Fatal("last with members left")
			}
			if _, last := sub.leave(); last {
				t.Fatal("a second leave did something")
			}
			delete(live, sub)
		}
		all = all[n:]
		checkSet(t, hs, live)
		for range 100 {
			sub := countingSub(got)
			hs.join(sub)
			live[sub] = true
			all = append(all, sub)
		}
		checkSet(t, hs, live)
		clear(got)
		msg := strconv.Itoa(round)
		hs.deliverAll(&Delivery{Msg: &Message{Data: []byte(msg)}})
		for sub := range live {
			if n := got[fmt.Sprintf("%p %s", sub, msg)]; n != 1 {
				t.Fatalf("round %d: a member got the message %d times", round, n)
			}
		}
		if len(got) != len(live) {
			t.Fatalf("round %d: %d got it, %d members", round, len(got), len(live))
		}
	}
	for i, sub := range all {
		_, last := sub.leave()
		if last != (i == len(all)-1) {
			t.Fatalf("leave %d of %d: last %v", i, len(all), last)
		}
	}
	if hs.join(countingSub(got)) {
		t.Error("a dead set took a member")
	}
}

// TestMemberSetQueue: a queue group's members take turns, across chunks,
// while others join and leave.
func TestMemberSetQueue(t *testing.T) {
	hs := &hubSub{key: hubKey{pattern: "q", queue: "g"}}
	got := map[string]int{}
	var subs []*Subscription
	for range 3*chunkCap + 5 {
		sub := countingSub(got)
		hs.join(sub)
		subs = append(subs, sub)
	}
	n := len(subs)
	for range 2 * n {
		hs.pick().deliver(&Delivery{Msg: &Message{Data: []byte("x")}})
	}
	for _, sub := range subs {
		if k := got[fmt.Sprintf("%p x", sub)]; k != 2 {
			t.Fatalf("a member took %d of %d messages, want 2", k, 2*n)
		}
	}
	for _, sub := range subs[:2*chunkCap] {
		sub.leave()
	}
	for range 10 * n {
		if hs.pick() == nil {
			t.Fatal("no member picked")
		}
	}
	for _, sub := range subs[2*chunkCap:] {
		sub.leave()
	}
	if hs.pick() != nil {
		t.Error("a member picked from an empty group")
	}
}

// TestHubChurnDuringFanOut: members joining and leaving one subject from
// many goroutines, its last member leaving and a new first joining over
// and over, never cost a member that stays a message, nor give it one
// twice or out of order; when everyone has left, the hub holds nothing.
func TestHubChurnDuringFanOut(t *testing.T) {
	emb, err := StartEmbedded(EmbeddedConfig{Listen: "-", DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emb.Shutdown)
	nc, err := emb.Connect()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	h := newHub(nc, "wsgate", log)
	defer h.close()
	pub, err := emb.Connect()
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()

	const stable, msgs = 3*chunkCap + 10, 300
	type rec struct {
		mu   sync.Mutex
		seqs []int
	}
	newSub := func(subject string, r *rec) *Subscription {
		return &Subscription{pattern: subject, deliver: func(d *Delivery) {
			n, err := strconv.Atoi(string(d.Msg.Data))
			if err != nil {
				t.Errorf("payload %q", d.Msg.Data)
				return
			}
			r.mu.Lock()
			r.seqs = append(r.seqs, n)
			r.mu.Unlock()
		}}
	}
	// Churners come and go on "churn.a", where the stable members are, and
	// alone on "churn.b", which loses its last member again and again.
	recs := make([]rec, stable)
	var stayers, between []*Subscription
	for i := range stable {
		sub := newSub("churn.a", &recs[i])
		if err := h.add(sub); err != nil {
			t.Fatal(err)
		}
		stayers = append(stayers, sub)
		// Members between the stable ones, who leave during the fan-outs:
		// each leave moves a stable member within its chunk.
		for range i % 3 {
			sub := newSub("churn.a", &rec{})
			if err := h.add(sub); err != nil {
				t.Fatal(err)
			}
			between = append(between, sub)
		}
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}

	stop := make(chan struct{})
	var churn sync.WaitGroup
	churn.Go(func() {
		for _, sub := range between {
			h.remove(sub)
			time.Sleep(10 * time.Microsecond)
		}
	})
	for g := range 4 {
		churn.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 7))
			var mine []*Subscription
			for {
				select {
				case <-stop:
					for _, sub := range mine {
						h.remove(sub)
					}
					return
				default:
				}
				subject := "churn.a"
				if g%2 == 1 {
					subject = "churn.b"
				}
				if len(mine) < 50 && rng.IntN(2) == 0 {
					sub := newSub(subject, &rec{})
					if err := h.add(sub); err != nil {
						t.Error(err)
						return
					}
					mine = append(mine, sub)
				} else if len(mine) > 0 {
					i := rng.IntN(len(mine))
					h.remove(mine[i])
					mine[i] = mine[len(mine)-1]
					mine = mine[:len(mine)-1]
				}
			}
		})
	}
	for i := range msgs {
		if err := pub.Publish("churn.a", []byte(strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
		if err := pub.Publish("churn.b", []byte(strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
		if i%50 == 0 {
			time.Sleep(time.Millisecond) // let churn overlap many fan-outs
		}
	}
	checkFor(t, 20*time.Second, func() error {
		for i := range recs {
			recs[i].mu.Lock()
			n := len(recs[i].seqs)
			recs[i].mu.Unlock()
			if n < msgs {
				return fmt.Errorf("stable member %d has %d of %d messages", i, n, msgs)
			}
		}
		return nil
	})
	close(stop)
	churn.Wait()
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // a duplicate would be on its way now
	for i := range recs {
		r := &recs[i]
		r.mu.Lock()
		if len(r.seqs) != msgs {
			t.Errorf("stable member %d got %d messages, want %d", i, len(r.seqs), msgs)
		}
		for j, n := range r.seqs {
			if n != j {
				t.Errorf("stable member %d: message %d is %d", i, j, n)
				break
			}
		}
		r.mu.Unlock()
	}
	for _, sub := range stayers {
		h.remove(sub)
	}
	h.mu.RLock()
	subs, byNATS := len(h.subs), len(h.byNATS)
	empty := h.index.root.empty()
	h.mu.RUnlock()
	if subs != 0 || byNATS != 0 || !empty {
		t.Errorf("after everyone left: %d subscriptions, %d by NATS subscription, index empty %v", subs, byNATS, empty)
	}
	if n := nc.NumSubscriptions(); n != 0 {
		t.Errorf("%d NATS subscriptions left", n)
	}
}
