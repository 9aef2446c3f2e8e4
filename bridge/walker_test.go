package bridge

import (
	"sync"
	"testing"
	"time"
)

// TestWalker: members are beaten every tick until removed (by Beat itself
// too), and the walk stops with its last member and starts again with the
// next.
func TestWalker(t *testing.T) {
	var mu sync.Mutex
	beats := map[int]int{}
	var w Walker[int]
	w.Tick = time.Millisecond
	w.Beat = func(m int, now int64) {
		if now <= 0 {
			t.Errorf("beat %d at %d", m, now)
		}
		mu.Lock()
		beats[m]++
		n := beats[m]
		mu.Unlock()
		if m == 2 && n == 3 {
			w.Remove(2) // a member that times out leaves from its beat
		}
	}
	count := func(m int) int {
		mu.Lock()
		defer mu.Unlock()
		return beats[m]
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for i := 0; !ok(); i++ {
			if i == 5000 {
				t.Fatalf("waited 5 s for %s", what)
			}
			time.Sleep(time.Millisecond)
		}
	}
	w.Add(1)
	w.Add(2)
	waitFor("member 1 beaten 10 times", func() bool { return count(1) >= 10 })
	if got := count(2); got != 3 {
		t.Fatalf("member 2 beaten %d times after removing itself at 3", got)
	}
	w.Remove(1)
	if w.Len() != 0 {
		t.Fatalf("Len %d", w.Len())
	}
	w.mu.Lock()
	stopped := w.stop == nil
	w.mu.Unlock()
	if !stopped {
		t.Fatal("the walk runs on without members")
	}
	before := count(1)
	w.Add(3)
	waitFor("member 3 beaten after the walk restarted", func() bool { return count(3) >= 2 })
	if count(1) > before+1 { // at most a beat already under way
		t.Fatalf("member 1 beaten after it was removed: %d -> %d", before, count(1))
	}
	w.Remove(3)
}
