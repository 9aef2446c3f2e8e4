package subjects

import (
	"strings"
	"testing"
)

// matchCases drives TestMatch and seeds FuzzMatch.
var matchCases = []struct {
	name             string
	pattern, subject string
	want             bool
}{
	{"literal", "a.b", "a.b", true},
	{"literal differs", "a.b", "a.c", false},
	{"literal prefix only", "a", "a.b", false},
	{"literal longer", "a.b", "a", false},
	{"star one", "*", "a", true},
	{"star not two", "*", "a.b", false},
	{"star middle", "a.*.c", "a.b.c", true},
	{"star middle short", "a.*.c", "a.c", false},
	{"star last", "a.*", "a.b", true},
	{"star last not none", "a.*", "a", false},
	{"gt one", ">", "a", true},
	{"gt many", ">", "a.b.c", true},
	{"gt tail", "a.>", "a.b.c", true},
	{"gt needs a token", "a.>", "a", false},
	{"gt other first", "a.>", "b.c", false},
	{"star gt", "*.>", "a.b", true},
	{"star gt short", "*.>", "a", false},
	{"devices", "devices.*.temp", "devices.42.temp", true},
	{"case sensitive", "A.b", "a.b", false},

	// Hostile subjects and patterns.
	{"dot subject", ">", ".", false},
	{"dot pattern", ".", ".", false},
	{"star vs dot", "*", ".", false},
	{"leading dot", ">", ".a", false},
	{"trailing dot", ">", "a.", false},
	{"trailing dot star", "a.*", "a.", false},
	{"double dot", "a.>", "a..b", false},
	{"double dot literal", "a..b", "a..b", false},
	{"empty both", "", "", false},
	{"empty subject", ">", "", false},
	{"empty subject star", "*", "", false},
	{"empty pattern", "", "a", false},
	{"literal star subject", "*", "*", true},
	{"gt vs literal gt", ">", ">", true},
	{"inner gt is literal", "a.>.b", "a.>.b", true},
	{"inner gt not wildcard", "a.>.b", "a.x.b", false},
	{"a.b vs star", "a.*", "a.b", true},
	{"space not validated", "*", " ", true},
	{"tab not validated", "a.*", "a.\t", true},
	{"NUL", "a.*", "a.\x00", true},
	{"DEL", "\x7f", "\x7f", true},
	{"invalid UTF-8", "*", badUTF8, true},
	{"invalid UTF-8 literal", "\xff", badUTF8, false},
	{"percent", "%", "%", true},
	{"e acute", "caf*", "café", false},
	{"e acute star", "*", "é", true},
	{"japanese", "日本.*", "日本.東京", true},
	{"emoji", emoji + ".>", emoji + ".a.b", true},
	{"10k", ">", long10k, true},
	{"10k star", "*", long10k + "." + long10k, false},
}

func TestMatch(t *testing.T) {
	for _, tc := range matchCases {
		t.Run(tc.name, func(t *testing.T) {
			if got := Match(tc.pattern, tc.subject); got != tc.want {
				t.Errorf("Match(%.30q, %.30q) = %v, want %v", tc.pattern, tc.subject, got, tc.want)
			}
			if got := refMatch(tc.pattern, tc.subject); got != tc.want {
				t.Errorf("refMatch(%.30q, %.30q) = %v, want %v", tc.pattern, tc.subject, got, tc.want)
			}
		})
	}
}

// coversCases drives TestCovers and seeds FuzzMatch.
var coversCases = []struct {
	name         string
	outer, inner string
	want         bool
}{
	{"gt covers literal", "devices.42.>", "devices.42.temp", true},
	{"gt not star gt", "devices.42.>", "devices.*.>", false},
	{"gt not everything", "devices.42.>", ">", false},
	{"star covers literal", "a.*", "a.b", true},
	{"star covers star", "a.*", "a.*", true},
	{"gt covers star", "a.>", "a.*.c", true},
	{"star not gt", "a.*.c", "a.>", false},
	{"all covers literal", ">", "a.b.c", true},
	{"all covers all", ">", ">", true},
	{"all covers star gt", ">", "*.>", true},
	{"literal not star", "a.b", "a.*", false},
	{"literal itself", "a.b", "a.b", true},
	{"literal other", "a.b", "a.c", false},
	{"star not gt tail", "a.*", "a.>", false},
	{"gt needs a token", "a.>", "a", false},
	{"gt itself", "a.>", "a.>", true},
	{"star gt not all", "*.>", ">", false},
	{"star star not gt", "*.*", "a.>", false},
	{"star not shorter", "a.*", "a", false},
	{"star not longer", "a.*", "a.b.c", false},
	{"star not gt alone", "*", ">", false},
	{"crossed stars", "*.b", "a.*", false},
	{"star star covers", "*.*", "a.b", true},
	{"gt covers deep star", "a.>", "a.*.*.>", true},

	// Hostile inner and outer: an invalid pattern is never covered.
	{"dot inner", ">", ".", false},
	{"dot outer", ".", "a", false},
	{"leading dot", ">", ".a", false},
	{"trailing dot", ">", "a.", false},
	{"double dot", ">", "a..b", false},
	{"empty inner", ">", "", false},
	{"empty outer", "", "a", false},
	{"star inner", "*", "*", true},
	{"a.b under star", "a.*", "a.b", true},
	{"space", ">", " ", false},
	{"tab", "a.*", "a.\t", false},
	{"NUL", ">", "a.\x00", false},
	{"DEL", ">", "\x7f", false},
	{"10k", ">", long10k, false},
	{"invalid UTF-8", "*", badUTF8, false},
	{"partial wildcard inner", ">", "a*b", false},
	{"partial wildcard outer", "a*", "a*", false},
	{"gt not last", ">", "a.>.b", false},
	{"percent", "*", "%", true},
	{"e acute", "*", "é", true},
	{"japanese", "日本.>", "日本.東京.*", true},
	{"emoji", "*", emoji, true},
}

func TestCovers(t *testing.T) {
	for _, tc := range coversCases {
		t.Run(tc.name, func(t *testing.T) {
			if got := Covers(tc.outer, tc.inner); got != tc.want {
				t.Errorf("Covers(%.30q, %.30q) = %v, want %v", tc.outer, tc.inner, got, tc.want)
			}
		})
	}
}

// intersectsCases drives TestIntersects and seeds FuzzMatch.
var intersectsCases = []struct {
	name string
	a, b string
	want bool
}{
	{"all and prefix", ">", "wsgate.>", true},
	{"different first", "a.*", "b.>", false},
	{"gt needs a token", "a.>", "a", false},
	{"crossed stars", "*.x", "a.*", true},
	{"same literal", "a.b", "a.b", true},
	{"other literal", "a.b", "a.c", false},
	{"star and literal", "a.*", "a.b", true},
	{"star lengths", "*", "*.*", false},
	{"gt and star", "a.>", "*.b", true},
	{"gt and longer", "a.>", "*.b.c.d", true},
	{"gt and gt", "a.>", "*.>", true},
	{"gt tails apart", "a.b.>", "a.c.>", false},
	{"literal vs gt deeper", "a.b", "a.b.>", false},
	{"all and all", ">", ">", true},
	{"all and one", ">", "*", true},

	// Hostile: an invalid pattern matches nothing.
	{"dot", ">", ".", false},
	{"leading dot", ">", ".a", false},
	{"trailing dot", ".a", ">", false},
	{"double dot", "a..b", "a.*.b", false},
	{"empty", ">", "", false},
	{"a.b and star", "a.b", "*.*", true},
	{"space", "*", " ", false},
	{"tab", ">", "\t", false},
	{"NUL", ">", "\x00", false},
	{"DEL", ">", "\x7f", false},
	{"10k", ">", long10k, false},
	{"invalid UTF-8", ">", badUTF8, false},
	{"partial wildcard", "a*b", ">", false},
	{"percent", "%", "*", true},
	{"e acute", "é.>", "*.x", true},
	{"japanese", "日本", "日本.*", false},
	{"emoji", emoji, "*", true},
}

func TestIntersects(t *testing.T) {
	for _, tc := range intersectsCases {
		t.Run(tc.name, func(t *testing.T) {
			if got := Intersects(tc.a, tc.b); got != tc.want {
				t.Errorf("Intersects(%.30q, %.30q) = %v, want %v", tc.a, tc.b, got, tc.want)
			}
			if got := Intersects(tc.b, tc.a); got != tc.want {
				t.Errorf("Intersects(%.30q, %.30q) = %v, want %v (swapped)", tc.b, tc.a, got, tc.want)
			}
		})
	}
}

// TestCoversIntersectsExhaustive checks Covers and Intersects against their
// definitions over every pattern of up to three tokens from {a, b, *, >} and
// every subject of up to five tokens from {a, b, c}. Five tokens are enough:
// two patterns of at most three tokens differ, if at all, on a subject of at
// most four.
func TestCoversIntersectsExhaustive(t *testing.T) {
	patterns := words([]string{"a", "b", "*", ">"}, 3)
	var valid []string
	for _, p := range patterns {
		if ValidatePattern(p) == nil {
			valid = append(valid, p)
		}
	}
	subjs := words([]string{"a", "b", "c"}, 5)
	for _, outer := range valid {
		for _, inner := range valid {
			covers, meets := true, false
			for _, s := range subjs {
				mi, mo := Match(inner, s), Match(outer, s)
				if mi && !mo {
					covers = false
				}
				if mi && mo {
					meets = true
				}
			}
			if got := Covers(outer, inner); got != covers {
				t.Errorf("Covers(%q, %q) = %v, want %v", outer, inner, got, covers)
			}
			if got := Intersects(outer, inner); got != meets {
				t.Errorf("Intersects(%q, %q) = %v, want %v", outer, inner, got, meets)
			}
		}
	}
}

// words returns every '.'-joined sequence of 1 to n tokens from alphabet.
func words(alphabet []string, n int) []string {
	var out, last []string
	last = []string{""}
	for range n {
		var next []string
		for _, w := range last {
			for _, a := range alphabet {
				if w == "" {
					next = append(next, a)
				} else {
					next = append(next, w+"."+a)
				}
			}
		}
		out = append(out, next...)
		last = next
	}
	return out
}

func TestMatchAllocs(t *testing.T) {
	for _, tc := range matchCases {
		if n := testing.AllocsPerRun(50, func() { Match(tc.pattern, tc.subject) }); n != 0 {
			t.Errorf("Match(%.20q, %.20q): %v allocations, want 0", tc.pattern, tc.subject, n)
		}
	}
}

func BenchmarkMatch(b *testing.B) {
	cases := []struct{ name, pattern, subject string }{
		{"literal", "chat.rooms.lobby", "chat.rooms.lobby"},
		{"star", "devices.*.temp", "devices.4f2a9c.temp"},
		{"gt", "devices.42.>", "devices.42.sensors.temp.celsius"},
		{"miss", "devices.42.>", "devices.43.sensors.temp"},
		{"long", strings.Repeat("tok.", 20) + ">", strings.Repeat("tok.", 30) + "end"},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Match(c.pattern, c.subject)
			}
		})
	}
}

func BenchmarkCovers(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		Covers("devices.42.>", "devices.42.*.temp")
	}
}

func TestIsLiteral(t *testing.T) {
	for _, tc := range []struct {
		pattern string
		want    bool
	}{
		{"a", true},
		{"a.b.c", true},
		{"a.*", false},
		{"*", false},
		{">", false},
		{"a.>", false},
		{"*.b", false},
		{"a*.b", true}, // '*' inside a token is a literal character
		{"a.b>", true},
		{"a.**", true},
		{"", true},
		{"a\x00.b", true},
	} {
		if got := IsLiteral(tc.pattern); got != tc.want {
			t.Errorf("IsLiteral(%q) = %v, want %v", tc.pattern, got, tc.want)
		}
	}
}
