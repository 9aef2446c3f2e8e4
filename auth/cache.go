package auth

import (
	"container/list"
	"crypto/sha256"
	"sync"
	"time"
)

// replyCache remembers authorizer decisions per identity until they expire.
// It holds at most max entries: when full, expired entries go first, then
// the oldest live ones, so a flood of new identities cannot grow it. Safe
// for concurrent use.
type replyCache struct {
	mu    sync.Mutex
	max   int
	items map[[sha256.Size]byte]*list.Element
	order list.List // of *cacheEntry, oldest first
	swept time.Time // last sweep for expired entries
}

// sweepEvery is how often a full cache looks for expired entries.
const sweepEvery = time.Second

// cacheEntry is one remembered decision.
type cacheEntry struct {
	key     [sha256.Size]byte
	expires time.Time
	res     *authResult
}

// newReplyCache returns an empty cache of at most max entries (max > 0).
func newReplyCache(max int) *replyCache {
	return &replyCache{max: max, items: make(map[[sha256.Size]byte]*list.Element)}
}

// get returns the decision for key if it has not expired at now; an
// expired one is removed.
func (c *replyCache) get(key [sha256.Size]byte, now time.Time) (*authResult, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[key]
	if !ok {
		return nil, false
	}
	e := el.Value.(*cacheEntry)
	if !now.Before(e.expires) {
		c.remove(el)
		return nil, false
	}
	return e.res, true
}

// put remembers res for key until expires. When the cache is full it first
// drops expired entries and then, if still full, the oldest.
func (c *replyCache) put(key [sha256.Size]byte, res *authResult, expires, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[key]; ok {
		c.remove(el)
	}
	if c.order.Len() >= c.max && now.Sub(c.swept) >= sweepEvery {
		// Full: drop every expired entry, at most once per sweepEvery so
		// that a flood of new identities does not scan on every put.
		c.swept = now
		for el := c.order.Front(); el != nil; {
			next := el.Next()
			if !now.Before(el.Value.(*cacheEntry).expires) {
				c.remove(el)
			}
			el = next
		}
	}
	for c.order.Len() >= c.max {
		c.remove(c.order.Front())
	}
	c.items[key] = c.order.PushBack(&cacheEntry{key: key, expires: expires, res: res})
}

// len returns the number of entries, expired or not.
func (c *replyCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}

// remove drops one entry; c.mu is held.
func (c *replyCache) remove(el *list.Element) {
	delete(c.items, el.Value.(*cacheEntry).key)
	c.order.Remove(el)
}
