package mqtt

import (
	"fmt"
	"testing"
)

// TestSubSet adds and removes subscriptions across the size at which the
// index appears, checking every lookup against a plain map.
func TestSubSet(t *testing.T) {
	var s subSet
	want := map[string]*sub{}
	check := func(step string) {
		t.Helper()
		if len(s.all) != len(want) {
			t.Fatalf("%s: %d subscriptions, want %d", step, len(s.all), len(want))
		}
		for i, sb := range s.all {
			if sb.pos != i || want[sb.filter] != sb {
				t.Fatalf("%s: %q at %d has pos %d", step, sb.filter, i, sb.pos)
			}
		}
		for f, sb := range want {
			if s.get(f) != sb {
				t.Fatalf("%s: get(%q) wrong", step, f)
			}
		}
		if s.get("absent") != nil {
			t.Fatalf("%s: found an absent filter", step)
		}
	}
	for i := range 20 {
		f := fmt.Sprintf("a/%d", i)
		sb := &sub{filter: f}
		s.put(sb)
		want[f] = sb
		check("put " + f)
	}
	if s.index == nil {
		t.Fatal("no index past subSetIndexAt")
	}
	for _, i := range []int{0, 19, 7, 3, 3, 12} {
		f := fmt.Sprintf("a/%d", i)
		got := s.del(f)
		if got != want[f] {
			t.Fatalf("del(%q) = %v, want %v", f, got, want[f])
		}
		delete(want, f)
		check("del " + f)
	}
	var small subSet
	small.put(&sub{filter: "x"})
	if small.index != nil || small.del("x") == nil || small.del("x") != nil || len(small.all) != 0 {
		t.Fatal("small set")
	}
}
