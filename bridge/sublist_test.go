package bridge

import (
	"slices"
	"strings"
	"testing"

	"github.com/wsgate/wsgate/subjects"
)

func matched(l *sublist, subject string) []string {
	var got []string
	l.match(subject, func(hs *hubSub) bool {
		got = append(got, hs.key.pattern+"|"+hs.key.queue)
		return true
	})
	slices.Sort(got)
	return got
}

func TestSublist(t *testing.T) {
	patterns := []string{"a", "a.b", "a.*", "a.>", "*.b", ">", "a.b.c", "a.*.c", "*.*.*", "x.y", "a.b.>"}
	subjectsToTry := []string{"a", "b", "a.b", "a.c", "x.y", "x.b", "a.b.c", "a.x.c", "a.b.c.d", "q.r.s", "a.b.d"}
	l := &sublist{}
	var subs []*hubSub
	for _, p := range patterns {
		for _, q := range []string{"", "g"} {
			hs := &hubSub{key: hubKey{p, q}}
			subs = append(subs, hs)
			l.insert(hs)
		}
	}
	check := func(live []*hubSub) {
		t.Helper()
		for _, s := range subjectsToTry {
			var want []string
			for _, hs := range live {
				if subjects.Match(hs.key.pattern, s) {
					want = append(want, hs.key.pattern+"|"+hs.key.queue)
				}
			}
			slices.Sort(want)
			if got := matched(l, s); !slices.Equal(got, want) {
				t.Errorf("%s: matched %v, want %v", s, got, want)
			}
		}
	}
	check(subs)
	// Remove every other one, then all: nodes are pruned.
	var live []*hubSub
	for i, hs := range subs {
		if i%2 == 0 {
			l.remove(hs)
		} else {
			live = append(live, hs)
		}
	}
	check(live)
	for _, hs := range live {
		l.remove(hs)
	}
	if !l.root.empty() {
		t.Errorf("root not empty after removing everything: %+v", l.root)
	}
	// Stopping early.
	l.insert(&hubSub{key: hubKey{"s.*", ""}})
	l.insert(&hubSub{key: hubKey{"s.>", ""}})
	n := 0
	l.match("s.t", func(*hubSub) bool { n++; return false })
	if n != 1 {
		t.Errorf("fn called %d times after returning false", n)
	}
}

// FuzzSublist: the index agrees with subjects.Match on every pattern.
func FuzzSublist(f *testing.F) {
	f.Add("a.*.c a.> >", "a.b.c")
	f.Add("*.* x", "x")
	f.Fuzz(func(t *testing.T, pats, subject string) {
		if subjects.ValidateSubject(subject) != nil {
			return
		}
		l := &sublist{}
		var subs []*hubSub
		for _, p := range strings.Fields(pats) {
			if subjects.ValidatePattern(p) != nil {
				continue
			}
			hs := &hubSub{key: hubKey{p, ""}}
			subs = append(subs, hs)
			l.insert(hs)
		}
		got := map[*hubSub]int{}
		l.match(subject, func(hs *hubSub) bool { got[hs]++; return true })
		for _, hs := range subs {
			want := 0
			if subjects.Match(hs.key.pattern, subject) {
				want = 1
			}
			if got[hs] != want {
				t.Fatalf("%q on %q: matched %d times, want %d", hs.key.pattern, subject, got[hs], want)
			}
		}
		for _, hs := range subs {
			l.remove(hs)
		}
		if !l.root.empty() {
			t.Fatal("not empty after removing everything")
		}
	})
}
