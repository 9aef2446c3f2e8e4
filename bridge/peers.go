package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"
)

// Gateways that share a NATS know each other, so that one that dies
// without closing its connections (SIGKILL, power loss) leaves no ghosts.
//
//   - Liveness: every gateway keeps its id in the key-value bucket
//     wsgate_gateways, put when it starts and again every GhostTimeout/3.
//     The bucket's values expire after GhostTimeout, so a gateway that
//     stops putting drops out of it within GhostTimeout.
//   - Last words: every open connection has a record in the bucket
//     wsgate_last_words under c.<gateway>.<connection>: what its
//     disconnect event and its protocol's GhostHandler need (ghost.go),
//     written without waiting when it opens and deleted when it closes.
//     Each gateway also keeps g.<gateway> there while it runs.
//   - The sweep: every GhostTimeout/3 each gateway looks for g.<id> keys
//     whose gateway is no longer live. It claims one by writing its own
//     id into the key on condition of its revision, so one gateway
//     cleans each dead one; it takes each c.<dead>.* record by deleting
//     it on condition of its revision, and only then publishes the
//     connection's disconnect event and lets its protocol act (the JSON
//     $disconnect route, MQTT wills): once, by whichever gateway is up.
//   - Fencing: a gateway that was presumed dead (stopped for longer
//     than GhostTimeout, cut off from NATS) finds its g.<id> key changed
//     when it comes back; its connections have had their disconnect
//     events, so it closes them with 1012 without a second one.
//
// A whole deployment that restarts finds its predecessors' records the
// same way: the embedded single gateway cleans up after itself when it
// comes back from a SIGKILL.
const (
	gatewaysBucket  = "wsgate_gateways"
	lastWordsBucket = "wsgate_last_words"
)

// minGhostTimeout is the shortest GhostTimeout: a heartbeat every 100 ms.
const minGhostTimeout = 300 * time.Millisecond

// peerRecord is a gateway's value in the gateways bucket.
type peerRecord struct {
	Started   time.Time `json:"started"`
	Protocols []string  `json:"protocols"`
}

// markRecord is g.<gateway> in the last words bucket.
type markRecord struct {
	Started time.Time `json:"started"`
	// Cleaner is the gateway cleaning up after this one, once it is
	// presumed dead.
	Cleaner string `json:"cleaner,omitempty"`
}

// peers runs this gateway's part: its heartbeat, its mark and the sweep.
type peers struct {
	g       *Gateway
	timeout time.Duration
	started time.Time

	mu       sync.Mutex
	reg      *KV             // gateways bucket, nil until opened
	words    *KV             // last words bucket, nil until opened
	markRev  uint64          // revision of g.<self>
	live     []string        // gateway ids, as of the last beat
	cleaning map[string]bool // dead gateways this one is cleaning up
	absent   map[string]bool // marks without their gateway at the last sweep (run's own)
	failing  bool            // the last attempt to open failed (logged once)
	presumed func(*Gateway)  // fencing action; closeGhosted unless a test sets it
	wg       sync.WaitGroup  // clean-ups running
	quit     chan struct{}   // closed to stop run
	done     chan struct{}   // closed when run has returned
	ctx      context.Context // cancelled with quit: ends what run waits for
	cancel   context.CancelFunc
}

func newPeers(g *Gateway) *peers {
	timeout := g.cfg.GhostTimeout
	if timeout > 0 && timeout < minGhostTimeout {
		timeout = minGhostTimeout
	}
	p := &peers{g: g, timeout: timeout, started: time.Now().UTC(),
		cleaning: map[string]bool{}, presumed: closeGhosted}
	p.reset()
	return p
}

// reset makes run's channels and context anew.
func (p *peers) reset() {
	p.quit, p.done = make(chan struct{}), make(chan struct{})
	p.ctx, p.cancel = context.WithCancel(context.Background())
}

// stop ends run and waits for it.
func (p *peers) stop() {
	close(p.quit)
	p.cancel()
	<-p.done
}

// on reports whether liveness and last words are kept at all.
func (p *peers) on() bool { return p != nil && p.timeout > 0 }

// run beats until the gateway stops.
func (p *peers) run() {
	defer close(p.done)
	tick := time.NewTicker(p.timeout / 3)
	defer tick.Stop()
	for {
		p.beat()
		select {
		case <-p.quit:
			p.wg.Wait()
			return
		case <-tick.C:
		}
	}
}

// open opens both buckets and puts this gateway's liveness and then its
// mark, once: a mark is never seen without its gateway alive first.
func (p *peers) open(ctx context.Context) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.words != nil {
		return true
	}
	js := p.g.js
	reg, err := js.KV(ctx, gatewaysBucket, KVConfig{TTL: p.timeout})
	var words *KV
	if err == nil {
		words, err = js.KV(ctx, lastWordsBucket, KVConfig{})
	}
	if err == nil {
		_, err = reg.Put(ctx, p.g.id, p.record())
	}
	var rev uint64
	if err == nil {
		b, _ := json.Marshal(markRecord{Started: p.started})
		rev, err = words.Put(ctx, "g."+p.g.id, b)
	}
	if err != nil {
		if !p.failing {
			p.g.log.Warn("gateway liveness unavailable: a gateway that dies leaves its connections without disconnect events",
				"buckets", gatewaysBucket+", "+lastWordsBucket, "err", err)
			p.failing = true
		}
		return false
	}
	if p.failing {
		p.g.log.Info("gateway liveness available again")
	}
	p.reg, p.words, p.markRev, p.failing = reg, words, rev, false
	return true
}

// beat puts this gateway in the gateways bucket, checks that it was not
// presumed dead, and sweeps.
func (p *peers) beat() {
	ctx, cancel := context.WithTimeout(p.ctx, p.timeout/3)
	defer cancel()
	if !p.open(ctx) {
		return
	}
	if _, err := p.reg.Put(ctx, p.g.id, p.record()); err != nil {
		p.g.log.Warn("gateway heartbeat failed", "err", err)
		return
	}
	if by, ok := p.claimedBy(ctx); ok {
		p.g.log.Error("this gateway was presumed dead and its connections cleaned up by another: closing them",
			"timeout", p.timeout, "by", by)
		p.presumed(p.g)
		b, _ := json.Marshal(markRecord{Started: p.started})
		if rev, err := p.words.Put(ctx, "g."+p.g.id, b); err == nil {
			p.mu.Lock()
			p.markRev = rev
			p.mu.Unlock()
		}
	}
	// The marks first, then who is alive: a gateway puts its liveness
	// before its mark, so one whose mark is listed is in the later list
	// unless it has stopped beating.
	marks, err := p.words.Keys(ctx, "g.*")
	if err != nil {
		return
	}
	live, err := p.reg.Keys(ctx)
	if err != nil {
		return
	}
	slices.Sort(live)
	p.mu.Lock()
	p.live = live
	p.mu.Unlock()
	p.sweep(ctx, marks, live)
}

// Peers returns the ids of the gateways on this NATS that are alive, this
// one included, as of its last heartbeat (every gateway.ghost_timeout/3):
// just this one when liveness is off or unavailable.
func (g *Gateway) Peers() []string { return g.peers.Live() }

// Live returns the ids of the gateways alive as of the last heartbeat,
// this one included: just this one when liveness is off or unavailable.
func (p *peers) Live() []string {
	if p.on() {
		p.mu.Lock()
		defer p.mu.Unlock()
		if len(p.live) > 0 {
			return slices.Clone(p.live)
		}
	}
	return []string{p.g.id}
}

// sweep claims the clean-up of every gateway that has a mark but is not
// live.
func (p *peers) sweep(ctx context.Context, marks, live []string) {
	// A gateway is taken for dead only when two sweeps in a row, a
	// heartbeat apart, find its mark without it: one listing that misses
	// it (a gateway starting, a slow heartbeat) claims nothing.
	absent := map[string]bool{}
	defer func() { p.absent = absent }()
	for _, k := range marks {
		dead := strings.TrimPrefix(k, "g.")
		if dead == p.g.id || slices.Contains(live, dead) {
			continue
		}
		absent[dead] = true
		if !p.absent[dead] {
			continue
		}
		p.mu.Lock()
		busy := p.cleaning[dead]
		p.mu.Unlock()
		if busy {
			continue
		}
		v, rev, err := p.words.Get(ctx, k)
		if err != nil {
			continue
		}
		var m markRecord
		_ = json.Unmarshal(v, &m)
		if m.Cleaner != "" && m.Cleaner != p.g.id && slices.Contains(live, m.Cleaner) {
			continue // another gateway is at it
		}
		m.Cleaner = p.g.id
		b, _ := json.Marshal(m)
		if rev, err = p.words.Update(ctx, k, b, rev); err != nil {
			continue // another gateway claimed it first
		}
		p.mu.Lock()
		p.cleaning[dead] = true
		p.mu.Unlock()
		p.wg.Add(1)
		go p.clean(dead, k, rev)
	}
}

// clean ends every connection the dead gateway left, then its mark.
func (p *peers) clean(dead, mark string, markRev uint64) {
	defer p.wg.Done()
	defer func() {
		p.mu.Lock()
		delete(p.cleaning, dead)
		p.mu.Unlock()
	}()
	ctx := p.ctx
	keys, err := p.words.Keys(ctx, "c."+dead+".*")
	if err != nil {
		p.g.log.Warn("ghost clean-up failed", "gateway", dead, "err", err)
		return
	}
	n := 0
	for _, k := range keys {
		v, rev, err := p.words.Get(ctx, k)
		if err != nil {
			continue
		}
		if p.words.DeleteIf(ctx, k, rev) != nil {
			continue // taken by another cleaner
		}
		p.g.ghost(v)
		n++
	}
	if ctx.Err() != nil {
		return // stopped: the mark stays claimed by a gateway that is going
	}
	_ = p.words.DeleteIf(ctx, mark, markRev)
	p.g.log.Warn("gateway presumed dead: its connections ended", "gateway", dead, "connections", n,
		"timeout", p.timeout)
}

// remember writes a connection's record, without waiting.
func (p *peers) remember(s *Session) {
	if !p.on() {
		return
	}
	p.mu.Lock()
	words := p.words
	p.mu.Unlock()
	if words == nil {
		return
	}
	b, err := json.Marshal(s.ghostRecord())
	if err != nil {
		return
	}
	words.PutAsync(p.key(s), b, func(uint64, error) {})
}

// forget deletes a connection's record, without waiting.
func (p *peers) forget(s *Session) {
	if !p.on() {
		return
	}
	p.mu.Lock()
	words := p.words
	p.mu.Unlock()
	if words != nil {
		words.DeleteAsync(p.key(s), func(error) {})
	}
}

func (p *peers) key(s *Session) string { return "c." + p.g.id + "." + s.id }

// leave stops the heartbeat and deletes this gateway's records at a clean
// shutdown, after its connections have closed: the ones whose deletion
// did not land, its mark and its liveness.
func (p *peers) leave() {
	if !p.on() {
		return
	}
	p.stop()
	if !p.g.nc.IsConnected() {
		return // its records stay: the next sweep anywhere ends them
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	p.mu.Lock()
	reg, words := p.reg, p.words
	p.mu.Unlock()
	if words == nil {
		return
	}
	if keys, err := words.Keys(ctx, "c."+p.g.id+".*"); err == nil {
		for _, k := range keys {
			_ = words.Delete(ctx, k)
		}
	}
	_ = words.Delete(ctx, "g."+p.g.id)
	_ = reg.Delete(ctx, p.g.id)
}

// closeGhosted closes every connection of a gateway that was presumed
// dead: their disconnect events are out already.
func closeGhosted(g *Gateway) {
	for _, s := range g.snapshot() {
		s.ghosted.Store(true)
		s.closeBy(CloseInfo{Code: CloseServiceRestart, Reason: "gateway was presumed dead", By: "server"})
	}
}

// record is this gateway's value in the gateways bucket.
func (p *peers) record() []byte {
	var names []string
	for _, proto := range p.g.protos {
		names = append(names, proto.Name())
	}
	b, _ := json.Marshal(peerRecord{Started: p.started, Protocols: names})
	return b
}

// claimedBy reports whether another gateway has claimed this one's mark
// (its Cleaner) or, having cleaned up, deleted it: seen twice, so that
// one read that misses the mark presumes nothing.
func (p *peers) claimedBy(ctx context.Context) (string, bool) {
	key := "g." + p.g.id
	for look := 0; look < 2; look++ {
		v, rev, err := p.words.Get(ctx, key)
		switch {
		case errors.Is(err, ErrNotFound):
			continue // deleted by a cleaner, if a second look agrees
		case err != nil:
			return "", false
		case rev == p.markRev:
			return "", false
		}
		var m markRecord
		_ = json.Unmarshal(v, &m)
		if m.Cleaner == "" || m.Cleaner == p.g.id {
			p.mu.Lock()
			p.markRev = rev // rewritten, not claimed
			p.mu.Unlock()
			return "", false
		}
		return m.Cleaner, true
	}
	return "a gateway that has cleaned up", true
}
