package subjects

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// templateCases drives TestParseTemplate and seeds FuzzTemplateExpand. A
// case with err set expects an ErrInvalidTemplate error saying err.
var templateCases = []struct {
	name    string
	src     string
	vars    []string
	pattern bool
	err     string
}{
	{name: "room", src: "chat.rooms.{body.room}", vars: []string{"body.room"}},
	{name: "inbox", src: "users.{connectionId}.inbox", vars: []string{"connectionId"}},
	{name: "shared token", src: "t.{claims.tenant}-{body.x}", vars: []string{"claims.tenant", "body.x"}},
	{name: "placeholder only", src: "{principal}", vars: []string{"principal"}},
	{name: "adjacent placeholders", src: "{a}{b}", vars: []string{"a", "b"}},
	{name: "repeated name", src: "{a}.{a}.x{a}", vars: []string{"a"}},
	{name: "underscores digits", src: "x.{_a1.B_2.c}", vars: []string{"_a1.B_2.c"}},
	{name: "pattern gt", src: "chat.{body.room}.>", vars: []string{"body.room"}, pattern: true},
	{name: "pattern star", src: "devices.{claims.sub}.*.temp", vars: []string{"claims.sub"}, pattern: true},
	{name: "literal", src: "a.b", vars: nil},
	{name: "literal star", src: "*", pattern: true},
	{name: "literal gt", src: ">", pattern: true},
	{name: "percent", src: "%.{x}", vars: []string{"x"}},
	{name: "e acute", src: "é.{x}", vars: []string{"x"}},
	{name: "japanese", src: "日本.{x}", vars: []string{"x"}},
	{name: "emoji", src: emoji + "{x}", vars: []string{"x"}},
	{name: "dollar", src: "${x}", vars: []string{"x"}},

	{name: "empty", src: "", err: "empty"},
	{name: "dot", src: ".", err: "empty token 1 at offset 0"},
	{name: "leading dot", src: ".{x}", err: "empty token 1 at offset 0"},
	{name: "trailing dot", src: "{x}.", err: "empty token 2 at offset 4"},
	{name: "double dot", src: "{x}..b", err: "empty token 2 at offset 4"},
	{name: "dot after long name", src: "a.{body.room}..b", err: "empty token 3 at offset 14"},
	{name: "star next to placeholder", src: "a.{x}*", err: "'*' in token 2 at offset 5"},
	{name: "gt next to placeholder", src: "{x}>", err: "'>' in token 1 at offset 3"},
	{name: "star before placeholder", src: "a.*{x}", err: "'*' in token 2 at offset 2"},
	{name: "gt not last", src: ">.{x}", err: "'>' is token 1 at offset 0"},
	{name: "star inside", src: "a*b.{x}", err: "'*' in token 1 at offset 1"},
	{name: "space", src: "a {x}", err: "U+0020 in token 1 at offset 1"},
	{name: "tab", src: "{x}.\t", err: "U+0009 in token 2 at offset 4"},
	{name: "NUL", src: "{x}\x00", err: "U+0000"},
	{name: "DEL", src: "\x7f{x}", err: "U+007F"},
	{name: "invalid UTF-8", src: "{x}." + badUTF8, err: "0xFF in token 2 at offset 4"},
	{name: "10k", src: long10k, err: "10000 bytes"},
	{name: "empty name", src: "a.{}", err: "placeholder at offset 2: empty name"},
	{name: "space in name", src: "{ a }", err: "placeholder at offset 0"},
	{name: "digit first", src: "{1a}", err: "must match"},
	{name: "digit first segment", src: "{a.1b}", err: "must match"},
	{name: "empty segment", src: "{a..b}", err: "empty segment"},
	{name: "leading dot name", src: "{.a}", err: "empty segment"},
	{name: "trailing dot name", src: "{a.}", err: "empty segment"},
	{name: "star name", src: "{*}", err: "must match"},
	{name: "unicode name", src: "{é}", err: "must match"},
	{name: "unclosed", src: "chat.{body.room", err: "'{' at offset 5 is not closed"},
	{name: "nested", src: "{a{b}}", err: "'{' at offset 0 is not closed"},
	{name: "close without open", src: "a}", err: "'}' at offset 1 has no '{'"},
	{name: "close first", src: "}{a}", err: "'}' at offset 0"},
}

func TestParseTemplate(t *testing.T) {
	for _, tc := range templateCases {
		t.Run(tc.name, func(t *testing.T) {
			tmpl, err := ParseTemplate(tc.src)
			if tc.err != "" {
				if !errors.Is(err, ErrInvalidTemplate) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("ParseTemplate(%.30q) error = %v, want ErrInvalidTemplate saying %q", tc.src, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseTemplate(%q): %v", tc.src, err)
			}
			if got := tmpl.String(); got != tc.src {
				t.Errorf("String() = %q, want %q", got, tc.src)
			}
			if got := tmpl.Vars(); !slices.Equal(got, tc.vars) {
				t.Errorf("Vars() = %q, want %q", got, tc.vars)
			}
			if got := tmpl.IsPattern(); got != tc.pattern {
				t.Errorf("IsPattern() = %v, want %v", got, tc.pattern)
			}
		})
	}
}

// expandCases expand "chat.rooms.{body.room}" with one hostile value each,
// and seed FuzzTemplateExpand.
var expandCases = []struct {
	name, value, want string
	err               error
}{
	{name: "plain", value: "lobby", want: "chat.rooms.lobby"},
	{name: "dot", value: ".", want: "chat.rooms.%2E"},
	{name: "star", value: "*", want: "chat.rooms.%2A"},
	{name: "gt", value: ">", want: "chat.rooms.%3E"},
	{name: "a.b", value: "a.b", want: "chat.rooms.a%2Eb"},
	{name: "widening", value: "x.>", want: "chat.rooms.x%2E%3E"},
	{name: "leading and trailing dots", value: ".a.", want: "chat.rooms.%2Ea%2E"},
	{name: "space", value: " ", want: "chat.rooms.%20"},
	{name: "tab", value: "\t", want: "chat.rooms.%09"},
	{name: "NUL", value: "\x00", want: "chat.rooms.%00"},
	{name: "DEL", value: "\x7f", want: "chat.rooms.%7F"},
	{name: "protocol injection", value: "a\r\nPUB x 1", want: "chat.rooms.a%0D%0APUB%20x%201"},
	{name: "invalid UTF-8", value: badUTF8, want: "chat.rooms.%FF%FE"},
	{name: "percent", value: "%", want: "chat.rooms.%25"},
	{name: "e acute", value: "é", want: "chat.rooms.é"},
	{name: "japanese", value: "日本", want: "chat.rooms.日本"},
	{name: "emoji", value: emoji, want: "chat.rooms." + emoji},
	{name: "reserved lookalike", value: "$SYS", want: "chat.rooms.$SYS"},
	{name: "empty", value: "", err: ErrEmptyValue},
	{name: "10k", value: long10k, err: ErrValueTooLong},
	{name: "too long once escaped", value: strings.Repeat(" ", 100), err: ErrValueTooLong},
}

func TestExpandHostile(t *testing.T) {
	tmpl, err := ParseTemplate("chat.rooms.{body.room}")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range expandCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tmpl.Expand(func(name string) (string, bool) {
				if name != "body.room" {
					t.Errorf("lookup(%q), want body.room", name)
				}
				return tc.value, true
			})
			if tc.err != nil {
				if !errors.Is(err, tc.err) || !strings.Contains(err.Error(), "{body.room}") {
					t.Fatalf("Expand with %.30q = %q, %v; want error %v naming {body.room}", tc.value, got, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Expand with %.30q = %q, %v; want %q", tc.value, got, err, tc.want)
			}
			if n := strings.Count(got, "."); n != 2 {
				t.Errorf("Expand with %.30q = %q has %d dots, want 2", tc.value, got, n)
			}
		})
	}
}

func TestExpand(t *testing.T) {
	vals := map[string]string{
		"connectionId": "c1",
		"claims.sub":   "dev.42",
		"claims.te":    "acme",
		"body.x":       "*",
		"body.big":     strings.Repeat("b", 250),
		"body.empty":   "",
	}
	lookup := func(name string) (string, bool) { v, ok := vals[name]; return v, ok }
	tests := []struct {
		name, src, want string
		err             error
		why             string
	}{
		{name: "literal", src: "a.b", want: "a.b"},
		{name: "literal pattern", src: "a.>", want: "a.>"},
		{name: "inbox", src: "users.{connectionId}.inbox", want: "users.c1.inbox"},
		{name: "shared token", src: "t.{claims.te}-{body.x}", want: "t.acme-%2A"},
		{name: "pattern", src: "devices.{claims.sub}.>", want: "devices.dev%2E42.>"},
		{name: "pattern star", src: "*.{body.x}", want: "*.%2A"},
		{name: "repeated", src: "{connectionId}.{connectionId}", want: "c1.c1"},
		{name: "missing", src: "a.{body.room}", err: ErrMissingValue, why: "expand {body.room}"},
		{name: "missing second", src: "{connectionId}.{nope}", err: ErrMissingValue, why: "{nope}"},
		{name: "empty value", src: "a.{body.empty}", err: ErrEmptyValue, why: "{body.empty}"},
		{name: "total too long", src: "{body.big}.{body.big}.{body.big}.{body.big}.{body.big}", err: ErrValueTooLong, why: "result exceeds 1024 bytes"},
		{name: "repeated too long", src: "{body.big}.{body.big}.{body.big}.{body.big}{body.big}", err: ErrValueTooLong, why: "{body.big}"},
		{name: "total at limit", src: "{body.big}.{body.big}.{body.big}.{body.big}." + strings.Repeat("z", 20), want: strings.Repeat(strings.Repeat("b", 250)+".", 4) + strings.Repeat("z", 20)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tmpl, err := ParseTemplate(tc.src)
			if err != nil {
				t.Fatal(err)
			}
			got, err := tmpl.Expand(lookup)
			if tc.err != nil {
				if !errors.Is(err, tc.err) || !strings.Contains(err.Error(), tc.why) {
					t.Fatalf("Expand(%q) = %q, %v; want error %v saying %q", tc.src, got, err, tc.err, tc.why)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Expand(%q) = %q, %v; want %q", tc.src, got, err, tc.want)
			}
		})
	}
}

func TestExpandLookupOncePerName(t *testing.T) {
	tmpl, err := ParseTemplate("{b}.{a}.{b}")
	if err != nil {
		t.Fatal(err)
	}
	var calls []string
	got, err := tmpl.Expand(func(name string) (string, bool) { calls = append(calls, name); return name, true })
	if err != nil || got != "b.a.b" {
		t.Fatalf("Expand = %q, %v", got, err)
	}
	if !slices.Equal(calls, []string{"b", "a"}) {
		t.Errorf("lookup calls = %q, want [b a]", calls)
	}
}

func TestExpandAllocs(t *testing.T) {
	tests := []struct {
		src  string
		want float64
	}{
		{"wsgate.events.connect", 0},
		{"chat.rooms.{body.room}", 1},
		{"t.{claims.tenant}-{body.x}.{body.room}.>", 1},
	}
	lookup := func(string) (string, bool) { return "a b.c", true }
	for _, tc := range tests {
		tmpl, err := ParseTemplate(tc.src)
		if err != nil {
			t.Fatal(err)
		}
		if n := testing.AllocsPerRun(100, func() { _, _ = tmpl.Expand(lookup) }); n != tc.want {
			t.Errorf("Expand(%q): %v allocations, want %v", tc.src, n, tc.want)
		}
	}
}

func BenchmarkExpand(b *testing.B) {
	cases := []struct{ name, src, value string }{
		{"literal", "wsgate.events.connect", ""},
		{"one", "chat.rooms.{body.room}", "lobby"},
		{"escaped", "chat.rooms.{body.room}", "a.b c*"},
		{"three", "t.{claims.tenant}-{body.x}.{connectionId}.>", "v"},
	}
	for _, c := range cases {
		tmpl, err := ParseTemplate(c.src)
		if err != nil {
			b.Fatal(err)
		}
		lookup := func(string) (string, bool) { return c.value, true }
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, _ = tmpl.Expand(lookup)
			}
		})
	}
}
