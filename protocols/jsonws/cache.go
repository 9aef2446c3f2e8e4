package jsonws

import (
	"container/list"
	"strconv"
	"sync"
	"time"
)

// CacheConfig caches a request or http route's replies (the managed
// gateway's integration cache, for WebSocket routes). A cache belongs to
// one gateway process: gateways behind a balancer each keep their own, and
// a restart empties it.
type CacheConfig struct {
	// TTL is how long a reply is served from the cache. Required.
	TTL time.Duration `yaml:"ttl"`
	// Key is a template of the variables of subject templates
	// ({body.symbol}, {context.tenant}); replies are cached per rendered
	// key. Default "": the forwarded payload itself.
	Key string `yaml:"key"`
	// MaxEntries bounds the entries. Default 10000.
	MaxEntries int `yaml:"max_entries"`
	// MaxBytes bounds the keys and replies held. Default 16 MiB.
	MaxBytes int64 `yaml:"max_bytes"`
	// Shared serves one principal's cached reply to every other. Default
	// false: entries are per principal (per connection for anonymous
	// ones).
	Shared bool `yaml:"shared"`
}

// enabled reports whether the route has a cache block.
func (c CacheConfig) enabled() bool { return c != CacheConfig{} }

const (
	defaultCacheEntries = 10000
	defaultCacheBytes   = 16 << 20
)

// compileCache compiles a route's cache: block.
func compileCache(kind string, cc CacheConfig) (*replyCache, textTemplate, []error) {
	var errs []error
	if kind != kindRequest && kind != kindHTTP {
		errs = append(errs, ferr("cache", "only request and http routes answer, so only they cache"))
	}
	if cc.TTL <= 0 {
		errs = append(errs, ferr("cache.ttl", "required, and more than 0"))
	}
	if cc.MaxEntries < 0 {
		errs = append(errs, ferr("cache.max_entries", "must not be negative"))
	} else if cc.MaxEntries == 0 {
		cc.MaxEntries = defaultCacheEntries
	}
	if cc.MaxBytes < 0 {
		errs = append(errs, ferr("cache.max_bytes", "must not be negative"))
	} else if cc.MaxBytes == 0 {
		cc.MaxBytes = defaultCacheBytes
	}
	key, err := parseText(cc.Key)
	if err != nil {
		errs = append(errs, ferr("cache.key", "%v", err))
	}
	return newReplyCache(cc.TTL, cc.MaxEntries, cc.MaxBytes, cc.Shared), key, errs
}

// replyCache is a route's cache: least recently used entries go first once
// there are too many or they hold too many bytes; expired ones go when
// looked up or when they reach the back.
type replyCache struct {
	ttl      time.Duration
	maxN     int
	maxBytes int64
	shared   bool
	now      func() time.Time

	mu    sync.Mutex
	lru   *list.List // of *cacheEntry, most recent first
	index map[string]*list.Element
	bytes int64
}

type cacheEntry struct {
	key     string
	reply   []byte
	expires time.Time
}

func newReplyCache(ttl time.Duration, maxN int, maxBytes int64, shared bool) *replyCache {
	return &replyCache{ttl: ttl, maxN: maxN, maxBytes: maxBytes, shared: shared, now: time.Now,
		lru: list.New(), index: map[string]*list.Element{}}
}

// get returns the live reply under key.
func (c *replyCache) get(key string) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el := c.index[key]
	if el == nil {
		return nil, false
	}
	e := el.Value.(*cacheEntry)
	if !c.now().Before(e.expires) {
		c.remove(el)
		return nil, false
	}
	c.lru.MoveToFront(el)
	return e.reply, true
}

// put stores a reply, which must not be modified afterwards; one bigger
// than the whole cache is not stored.
func (c *replyCache) put(key string, reply []byte) {
	size := int64(len(key) + len(reply))
	if size > c.maxBytes {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el := c.index[key]; el != nil {
		c.remove(el)
	}
	c.index[key] = c.lru.PushFront(&cacheEntry{key: key, reply: reply, expires: c.now().Add(c.ttl)})
	c.bytes += size
	for c.lru.Len() > c.maxN || c.bytes > c.maxBytes {
		c.remove(c.lru.Back())
	}
}

func (c *replyCache) remove(el *list.Element) {
	e := c.lru.Remove(el).(*cacheEntry)
	delete(c.index, e.key)
	c.bytes -= int64(len(e.key) + len(e.reply))
}

// len returns the entries and bytes held.
func (c *replyCache) len() (int, int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len(), c.bytes
}

// cacheKey is the key of a message's reply on route r: the stage, who asks
// (unless the cache is shared), then the rendered key template or the payload,
// each part length-prefixed so that no two messages' parts can run
// together into the same key. ok is false when the key template has no
// value for the message: such a message is not cached.
func (c *conn) cacheKey(r *route, b *body, p []byte) (string, bool) {
	buf := make([]byte, 0, 64)
	part := func(dst []byte, v string) []byte {
		dst = strconv.AppendInt(dst, int64(len(v)), 10)
		return append(append(dst, ':'), v...)
	}
	if c.s != nil {
		// Stages share routes, not answers: their backends differ.
		if stage, _ := c.s.Stage(); stage != "" {
			buf = part(buf, "stage "+stage)
		}
	}
	if !r.cache.shared {
		who := "anonymous"
		if c.s != nil {
			if id := c.s.Principal().ID; id != "" {
				who = "principal " + id
			} else {
				who = "connection " + c.s.ID() // anonymous connections share nothing
			}
		}
		buf = part(buf, who)
	}
	if len(r.cacheKey.parts) == 0 {
		return string(part(buf, string(p))), true
	}
	buf, err := r.cacheKey.appendRender(buf, func(n string) (string, bool) { return c.lookup(r, b, n) }, part)
	return string(buf), err == nil
}
