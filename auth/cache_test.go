package auth

import (
	"crypto/sha256"
	"testing"
	"time"
)

func TestReplyCache(t *testing.T) {
	key := func(s string) [sha256.Size]byte { return sha256.Sum256([]byte(s)) }
	res := &authResult{reason: "r"}
	c := newReplyCache(3)
	now := testNow

	c.put(key("short"), res, now.Add(time.Second), now)
	c.put(key("long"), res, now.Add(time.Hour), now)
	if _, ok := c.get(key("short"), now.Add(999*time.Millisecond)); !ok {
		t.Error("entry gone before it expired")
	}
	if _, ok := c.get(key("short"), now.Add(time.Second)); ok {
		t.Error("entry found at its expiry")
	}
	if c.len() != 1 {
		t.Errorf("expired entry not removed on get: len %d", c.len())
	}

	// Expired entries at the old end go first when a new one comes.
	c.put(key("short2"), res, now.Add(time.Second), now)
	c.put(key("x"), res, now.Add(time.Hour), now)
	later := now.Add(2 * time.Second)
	c.put(key("long2"), res, later.Add(time.Hour), later)
	if _, ok := c.get(key("long"), later); !ok {
		t.Error("a live entry was evicted while an expired one was there")
	}

	// When full of live entries, the oldest goes.
	c.put(key("y"), res, later.Add(time.Hour), later)
	if c.len() != 3 {
		t.Errorf("len %d, want 3", c.len())
	}
	if _, ok := c.get(key("long"), later); ok {
		t.Error("oldest entry kept")
	}

	// Putting a key again replaces it and makes it the newest.
	c.put(key("x"), &authResult{reason: "new"}, later.Add(time.Hour), later)
	if r, ok := c.get(key("x"), later); !ok || r.reason != "new" {
		t.Errorf("replaced entry: %+v %v", r, ok)
	}
	c.put(key("z"), res, later.Add(time.Hour), later)
	if _, ok := c.get(key("x"), later); !ok {
		t.Error("re-put entry evicted as if old")
	}
}
