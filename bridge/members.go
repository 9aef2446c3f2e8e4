package bridge

import "sync"

// chunkCap is the most members one chunk holds. A fan-out copies one chunk
// at a time under the subject's lock and delivers with the lock released,
// so a join or a leave waits at most for one copy of chunkCap pointers,
// however many members the subject has and however slow their deliveries.
const chunkCap = 256

// memberSet is the local members of one hub subscription. Joining and
// leaving cost O(1) whatever its size: members live in chunks of at most
// chunkCap, each member knows its chunk and its slot in it, and a leaver's
// slot is taken by the last member of the same chunk. Members never move
// from one chunk to another, and a fan-out copies each chunk whole under
// the lock, so a member that stays gets each message exactly once however
// many join and leave meanwhile.
//
// Chunks form a list in the order they were made. One left empty is
// unlinked, unless it is the only one, but keeps its next pointer, so a
// fan-out standing on it goes on to the chunks after it; an unlinked chunk
// is never used again.
type memberSet struct {
	mu     sync.Mutex
	head   *memberChunk
	tail   *memberChunk
	open   []*memberChunk // linked chunks with room, the last one filled first
	count  int
	cursor *memberChunk // queue groups: the chunk whose turn it is
	// dead is set when the last member leaves: the hub drops the
	// subscription and a joiner must make a new one.
	dead bool
}

// memberChunk is up to chunkCap members of one memberSet, under its lock.
type memberChunk struct {
	set      *hubSub
	members  []*Subscription
	next     *memberChunk
	prev     *memberChunk
	open     int // index in memberSet.open; -1 when full or unlinked
	rr       int // queue groups: the next member to take
	unlinked bool
}

// join adds sub. It reports false, adding nothing, when the subscription
// has lost its last member and is being dropped.
func (hs *hubSub) join(sub *Subscription) bool {
	ms := &hs.ms
	ms.mu.Lock()
	defer ms.mu.Unlock()
	if ms.dead {
		return false
	}
	var c *memberChunk
	if n := len(ms.open); n > 0 {
		c = ms.open[n-1]
	} else {
		c = &memberChunk{set: hs, prev: ms.tail, open: len(ms.open)}
		if ms.head != nil {
			// A crowd: its chunks will fill.
			c.members = make([]*Subscription, 0, chunkCap)
		}
		if ms.tail != nil {
			ms.tail.next = c
		} else {
			ms.head = c
		}
		ms.tail = c
		ms.open = append(ms.open, c)
	}
	sub.slot = len(c.members)
	c.members = append(c.members, sub)
	if len(c.members) == chunkCap {
		ms.dropOpen(c)
	}
	ms.count++
	sub.chunk.Store(c)
	return true
}

// leave takes sub out, if it is a member (a Subscription joins once and
// leaves at most once, whoever calls). last reports that it was the last
// member: the set is dead and the caller drops the subscription.
func (sub *Subscription) leave() (hs *hubSub, last bool) {
	c := sub.chunk.Swap(nil)
	if c == nil {
		return nil, false
	}
	hs = c.set
	ms := &hs.ms
	ms.mu.Lock()
	defer ms.mu.Unlock()
	end := len(c.members) - 1
	moved := c.members[end]
	c.members[sub.slot] = moved
	moved.slot = sub.slot
	c.members[end] = nil
	c.members = c.members[:end]
	if c.open < 0 {
		c.open = len(ms.open)
		ms.open = append(ms.open, c)
	}
	ms.count--
	if len(c.members) == 0 && (ms.head != c || ms.tail != c) {
		ms.unlink(c)
	}
	if ms.count == 0 {
		ms.dead = true
		return hs, true
	}
	return hs, false
}

// dropOpen takes c off the open list, in constant time.
func (ms *memberSet) dropOpen(c *memberChunk) {
	i := c.open
	end := len(ms.open) - 1
	ms.open[i] = ms.open[end]
	ms.open[i].open = i
	ms.open[end] = nil
	ms.open = ms.open[:end]
	c.open = -1
}

// unlink takes the empty chunk c out of the list. c.next stays, for a
// fan-out standing on c.
func (ms *memberSet) unlink(c *memberChunk) {
	if c.open >= 0 {
		ms.dropOpen(c)
	}
	if c.prev != nil {
		c.prev.next = c.next
	} else {
		ms.head = c.next
	}
	if c.next != nil {
		c.next.prev = c.prev
	} else {
		ms.tail = c.prev
	}
	if ms.cursor == c {
		ms.cursor = c.next
	}
	c.prev = nil
	c.unlinked = true
}

// size is the number of members.
func (hs *hubSub) size() int {
	hs.ms.mu.Lock()
	defer hs.ms.mu.Unlock()
	return hs.ms.count
}

// pick returns the queue group member whose turn it is, or nil: every
// member in turn, chunk after chunk.
func (hs *hubSub) pick() *Subscription {
	ms := &hs.ms
	ms.mu.Lock()
	defer ms.mu.Unlock()
	if ms.count == 0 {
		return nil
	}
	c := ms.cursor
	if c == nil || c.unlinked || len(c.members) == 0 {
		c = ms.head // never empty while there are members
	}
	if c.rr >= len(c.members) {
		c.rr = 0
	}
	sub := c.members[c.rr]
	c.rr++
	ms.cursor = c
	if c.rr >= len(c.members) {
		c.rr = 0
		ms.cursor = c.next
	}
	return sub
}

// deliverAll hands d to every member, one chunk at a time: a chunk is
// copied under the lock, then delivered to without it, so a deliver
// callback may subscribe and unsubscribe, and joins and leaves wait for
// one chunk's copy, not for its deliveries. A member that has left by the
// time its turn comes is skipped. It allocates nothing.
func (hs *hubSub) deliverAll(d *Delivery) {
	var buf [chunkCap]*Subscription
	ms := &hs.ms
	ms.mu.Lock()
	c := ms.head
	for c != nil {
		n := copy(buf[:], c.members)
		c = c.next
		ms.mu.Unlock()
		for _, sub := range buf[:n] {
			if sub.chunk.Load() != nil {
				sub.deliver(d)
			}
		}
		if c == nil {
			return
		}
		ms.mu.Lock()
	}
	ms.mu.Unlock()
}
