package bridge

import (
	"fmt"
	"hash/maphash"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/nats-io/nats.go"

	"github.com/wsgate/wsgate/subjects"
)

// hubChanLen is the buffer of each dispatcher channel. nats.go drops (and
// reports a slow consumer) when it is full, so it is generous.
const hubChanLen = 64 << 10

// hub keeps one NATS subscription per distinct (pattern, queue group) in the
// process and fans every message out to the local sessions that want it.
//
// nats.go starts a goroutine per callback subscription; channel
// subscriptions do not, so every hub subscription feeds one of a few shared
// channels, each drained by one dispatcher goroutine. A subscription always
// uses the same channel, so its messages keep their order.
type hub struct {
	nc       *nats.Conn // the hub's subscriptions; with local, made with NoEcho
	local    bool       // clients' messages reach local subscribers in process (deliverLocal)
	log      *slog.Logger
	prefix   string
	shards   []chan *nats.Msg
	seed     maphash.Seed
	mu       sync.RWMutex
	subs     map[hubKey]*hubSub
	byNATS   map[*nats.Subscription]*hubSub
	index    sublist // subs by pattern, for deliverLocal
	wg       sync.WaitGroup
	filtered atomic.Uint64 // reserved-subject messages kept from wide subscriptions
	tr       *tracer       // nil unless tracing.deliveries: spans of fan-outs
}

type hubKey struct{ pattern, queue string }

// hubSub is one NATS subscription and its local members.
type hubSub struct {
	key hubKey
	ns  *nats.Subscription
	ms  memberSet      // its own lock: joins and leaves never take the hub's
	ch  chan *nats.Msg // the dispatcher shard it feeds
	// filter is set when the pattern can match reserved subjects (">" in
	// dev mode): such messages are never delivered to clients.
	filter bool
}

func newHub(nc *nats.Conn, prefix string, log *slog.Logger) *hub {
	n := max(runtime.GOMAXPROCS(0), 1)
	h := &hub{
		nc:     nc,
		log:    log,
		prefix: prefix,
		shards: make([]chan *nats.Msg, n),
		seed:   maphash.MakeSeed(),
		subs:   make(map[hubKey]*hubSub),
		byNATS: make(map[*nats.Subscription]*hubSub),
	}
	for i := range h.shards {
		h.shards[i] = make(chan *nats.Msg, hubChanLen)
		h.wg.Add(1)
		go h.dispatch(h.shards[i])
	}
	return h
}

// add joins sub to the hub subscription for its pattern and queue, making
// the NATS subscription if it is the first member. It costs O(1) however
// many members the subscription has, and takes the hub's lock for writing
// only to make a subscription.
func (h *hub) add(sub *Subscription) error {
	k := hubKey{sub.pattern, sub.queue}
	h.mu.RLock()
	hs := h.subs[k]
	h.mu.RUnlock()
	for {
		if hs == nil {
			var err error
			if hs, err = h.make(k, nil); err != nil {
				return err
			}
		}
		if hs.join(sub) {
			return nil
		}
		// Its last member has just left: it is being dropped.
		var err error
		if hs, err = h.make(k, hs); err != nil {
			return err
		}
	}
}

// make returns the live hub subscription for k, making it (and its NATS
// subscription) unless another joiner has; stale, if not nil, is a dead
// one to replace.
func (h *hub) make(k hubKey, stale *hubSub) (*hubSub, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if hs := h.subs[k]; hs != nil && hs != stale {
		return hs, nil
	}
	hs := &hubSub{key: k, filter: subjects.TouchesReserved(k.pattern, h.prefix)}
	hs.ch = h.shards[maphash.String(h.seed, k.pattern+"\x00"+k.queue)%uint64(len(h.shards))]
	var err error
	if k.queue != "" {
		hs.ns, err = h.nc.ChanQueueSubscribe(k.pattern, k.queue, hs.ch)
	} else {
		hs.ns, err = h.nc.ChanSubscribe(k.pattern, hs.ch)
	}
	if err != nil {
		return nil, fmt.Errorf("subscribe %q: %w", k.pattern, err)
	}
	h.subs[k] = hs // in place of stale, if it is still there
	h.byNATS[hs.ns] = hs
	h.index.insert(hs)
	return hs, nil
}

// remove takes sub out of its hub subscription, dropping the NATS
// subscription with its last member. It costs O(1), and is a no-op for a
// subscription that is not a member (any more).
func (h *hub) remove(sub *Subscription) {
	hs, last := sub.leave()
	if !last {
		return
	}
	h.mu.Lock()
	if h.subs[hs.key] == hs {
		delete(h.subs, hs.key)
	}
	delete(h.byNATS, hs.ns)
	h.index.remove(hs)
	h.mu.Unlock()
	_ = hs.ns.Unsubscribe()
}

// deliverLocal hands a client's message to the local subscriptions that
// match it: each gets it through its dispatcher, as if from NATS, so a
// subscription's deliveries stay on one goroutine and in order, and the
// headers are the map the session built, never encoded or parsed. It
// reports false, delivering nothing, when a local queue group matches:
// NATS must then choose the member, so the message goes through NATS like
// any other. The caller publishes it to NATS either way (on the hub's
// NoEcho connection when true, so it does not come back here).
func (h *hub) deliverLocal(subject string, hdr Header, data []byte) bool {
	var buf [8]*hubSub
	found := buf[:0]
	queue := false
	h.mu.RLock()
	h.index.match(subject, func(hs *hubSub) bool {
		if hs.key.queue != "" {
			queue = true
			return false
		}
		found = append(found, hs)
		return true
	})
	h.mu.RUnlock()
	if queue {
		return false
	}
	if len(found) == 0 {
		return true
	}
	data = append([]byte(nil), data...) // the caller's buffer is reused
	for _, hs := range found {
		m := &nats.Msg{Subject: subject, Header: nats.Header(hdr), Data: data, Sub: hs.ns}
		select {
		case hs.ch <- m:
		default:
			// A dispatcher 64K messages behind: do not block a reader
			// (which may be that dispatcher's own caller) for it.
			go func() { hs.ch <- m }()
		}
	}
	return true
}

// publishClient sends a client's message (its headers made) to its subscribers:
// the local ones in process, everyone else through NATS.
func (g *Gateway) publishClient(subject string, h Header, data []byte) error {
	nc := g.nc
	if hb := g.hub; hb.local && hb.deliverLocal(subject, h, data) {
		nc = hb.nc // NoEcho: local subscribers have it already
	}
	return nc.PublishMsg(&nats.Msg{Subject: subject, Header: nats.Header(h), Data: data})
}

// size is the number of NATS subscriptions the hub holds.
func (h *hub) size() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.subs)
}

// dispatch fans out the messages of one channel until it is closed.
// Writers are woken after a batch of at most dispatchBatch messages, or when
// the channel is empty, whichever comes first.
func (h *hub) dispatch(ch chan *nats.Msg) {
	defer h.wg.Done()
	var kick []*Session
	for m := range ch {
		if m == nil {
			return // close: the channel stays open for late local sends
		}
		h.one(m, &kick)
		for n := 1; n < dispatchBatch && len(ch) > 0; n++ {
			if m = <-ch; m == nil {
				kickAll(kick)
				return
			}
			h.one(m, &kick)
		}
		kickAll(kick)
		clear(kick)
		kick = kick[:0]
	}
}

// dispatchBatch bounds how many messages are queued before writers wake.
const dispatchBatch = 64

// kickAll starts the writers a dispatch batch woke. Their first writes do
// not block (Session.kick). A few are written on the dispatcher itself; a
// crowd is handed to one goroutine per core, not one per session, and the
// dispatcher goes on meanwhile, so that the next messages join the queues
// of writers not yet run and leave with them in one writev.
func kickAll(kick []*Session) { spread(kick, (*Session).kick) }

// spread runs start for every session: inline up to 64 of them, else on
// one goroutine per core, without waiting for them.
func spread(kick []*Session, start func(*Session)) {
	const inline = 64
	if len(kick) <= inline {
		for _, s := range kick {
			start(s)
		}
		return
	}
	n := min(runtime.GOMAXPROCS(0), (len(kick)+inline-1)/inline)
	chunk := (len(kick) + n - 1) / n
	for i := 0; i < len(kick); i += chunk {
		part := append([]*Session(nil), kick[i:min(i+chunk, len(kick))]...)
		go func() {
			for _, s := range part {
				start(s)
			}
		}()
	}
}

func (h *hub) one(m *nats.Msg, kick *[]*Session) {
	h.mu.RLock()
	hs := h.byNATS[m.Sub]
	h.mu.RUnlock()
	if hs != nil {
		h.fanOut(hs, m, kick)
	}
}

// fanOut hands m to the subscription's members; kick, if not nil, collects
// writers to wake.
func (h *hub) fanOut(hs *hubSub, m *nats.Msg, kick *[]*Session) {
	if hs.filter && subjects.IsReserved(m.Subject, h.prefix) {
		h.filtered.Add(1)
		return
	}
	d := newDelivery(m, kick)
	if h.tr != nil {
		if sp := h.tr.startDelivery(d.Msg, hs.key.pattern); sp != nil {
			defer sp.End()
		}
	}
	if hs.key.queue != "" {
		// NATS gave this process the message for the group: one local
		// member takes it.
		if sub := hs.pick(); sub != nil {
			sub.deliver(d)
		}
		return
	}
	hs.deliverAll(d)
}

// newDelivery is the delivery of m, with the hub's batch of writers to wake.
func newDelivery(m *nats.Msg, kick *[]*Session) *Delivery {
	d := &Delivery{kick: kick, msg: Message{Subject: m.Subject, Reply: m.Reply, Header: Header(m.Header), Data: m.Data}}
	d.Msg, d.cache = &d.msg, d.first[:0]
	return d
}

// close stops the dispatchers. NATS subscriptions must be gone first.
func (h *hub) close() {
	h.mu.Lock()
	for _, hs := range h.subs {
		_ = hs.ns.Unsubscribe()
	}
	h.subs = map[hubKey]*hubSub{}
	h.byNATS = map[*nats.Subscription]*hubSub{}
	h.index = sublist{}
	h.mu.Unlock()
	for _, ch := range h.shards {
		ch <- nil // after what is queued; never closed, so a late send cannot panic
	}
	h.wg.Wait()
}
