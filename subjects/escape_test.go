package subjects

import (
	"errors"
	"strings"
	"testing"
)

// escapeCases drives TestEscapeToken and seeds FuzzEscapeToken and
// FuzzTemplateExpand. A case with err set expects that error instead of want.
var escapeCases = []struct {
	name, in, want string
	err            error
}{
	{name: "plain", in: "lobby", want: "lobby"},
	{name: "kept punctuation", in: `-_~!@#$^&()+=,;:'"[]{}|<?/\` + "`", want: `-_~!@#$^&()+=,;:'"[]{}|<?/\` + "`"},
	{name: "dot", in: ".", want: "%2E"},
	{name: "star", in: "*", want: "%2A"},
	{name: "gt", in: ">", want: "%3E"},
	{name: "a.b", in: "a.b", want: "a%2Eb"},
	{name: "leading and trailing dots", in: ".a.", want: "%2Ea%2E"},
	{name: "dots only", in: "...", want: "%2E%2E%2E"},
	{name: "wildcard tail", in: "x.>", want: "x%2E%3E"},
	{name: "space", in: " ", want: "%20"},
	{name: "tab", in: "\t", want: "%09"},
	{name: "NUL", in: "\x00", want: "%00"},
	{name: "DEL", in: "\x7f", want: "%7F"},
	{name: "CRLF injection", in: "a\r\nPUB x 1", want: "a%0D%0APUB%20x%201"},
	{name: "percent", in: "%", want: "%25"},
	{name: "escape lookalike", in: "%2E", want: "%252E"},
	{name: "invalid UTF-8", in: badUTF8, want: "%FF%FE"},
	{name: "truncated UTF-8", in: "a\xc3", want: "a%C3"},
	{name: "surrogate", in: "\xed\xa0\x80", want: "%ED%A0%80"},
	{name: "e acute", in: "é", want: "é"},
	{name: "japanese", in: "日本", want: "日本"},
	{name: "emoji", in: emoji, want: emoji},
	{name: "real U+FFFD", in: "\uFFFD", want: "\uFFFD"},
	{name: "no-break space", in: "a\u00a0b", want: "a%C2%A0b"},
	{name: "NEL", in: "\u0085", want: "%C2%85"},
	{name: "C1 control", in: "\u0080", want: "%C2%80"},
	{name: "line separator", in: "\u2028", want: "%E2%80%A8"},
	{name: "ideographic space", in: "日\u3000本", want: "日%E3%80%80本"},
	{name: "system token", in: "$SYS", want: "$SYS"},
	{name: "inbox token", in: "_INBOX", want: "_INBOX"},
	{name: "max length", in: strings.Repeat("a", MaxTokenLen), want: strings.Repeat("a", MaxTokenLen)},
	{name: "max length escaped", in: strings.Repeat(".", 85) + "a", want: strings.Repeat("%2E", 85) + "a"},
	{name: "empty", in: "", err: ErrEmptyValue},
	{name: "10k", in: long10k, err: ErrValueTooLong},
	{name: "one over max", in: strings.Repeat("a", MaxTokenLen+1), err: ErrValueTooLong},
	{name: "over max once escaped", in: strings.Repeat(".", 86), err: ErrValueTooLong},
}

func TestEscapeToken(t *testing.T) {
	for _, tc := range escapeCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := EscapeToken(tc.in)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("EscapeToken(%.30q) = %q, %v; want error %v", tc.in, got, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("EscapeToken(%.30q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
			if err := ValidateSubject(got); err != nil || strings.Contains(got, ".") {
				t.Errorf("EscapeToken(%.30q) = %q is not one valid token: %v", tc.in, got, err)
			}
			back, err := UnescapeToken(got)
			if err != nil || back != tc.in {
				t.Errorf("UnescapeToken(%q) = %q, %v; want %.30q", got, back, err, tc.in)
			}
		})
	}
}

// unescapeCases drives TestUnescapeToken and seeds FuzzEscapeToken. Valid
// tokens are covered by TestEscapeToken's round trips; these are the tokens
// EscapeToken cannot produce, plus a few it can.
var unescapeCases = []struct {
	name, in, want string
	err            error
}{
	{name: "plain", in: "lobby", want: "lobby"},
	{name: "escaped dot", in: "a%2Eb", want: "a.b"},
	{name: "escaped percent", in: "%25", want: "%"},
	{name: "e acute", in: "é", want: "é"},
	{name: "japanese", in: "日本", want: "日本"},
	{name: "emoji", in: emoji, want: emoji},
	{name: "invalid UTF-8 escaped", in: "%FF%FE", want: badUTF8},

	{name: "empty", in: "", err: ErrEmptyValue},
	{name: "10k", in: long10k, err: ErrValueTooLong},
	{name: "lone percent", in: "%", err: ErrInvalidEscape},
	{name: "short escape", in: "a%2", err: ErrInvalidEscape},
	{name: "lower-case hex", in: "%2e", err: ErrInvalidEscape},
	{name: "not hex", in: "%ZZ", err: ErrInvalidEscape},
	{name: "needless escape", in: "%41", err: ErrInvalidEscape},
	{name: "needless escape of e acute", in: "%C3%A9", err: ErrInvalidEscape},
	{name: "half escaped rune", in: "%C3\xa9", err: ErrInvalidEscape},
	{name: "dot", in: ".", err: ErrInvalidEscape},
	{name: "a.b", in: "a.b", err: ErrInvalidEscape},
	{name: "leading dot", in: ".a", err: ErrInvalidEscape},
	{name: "star", in: "*", err: ErrInvalidEscape},
	{name: "gt", in: ">", err: ErrInvalidEscape},
	{name: "space", in: " ", err: ErrInvalidEscape},
	{name: "tab", in: "\t", err: ErrInvalidEscape},
	{name: "NUL", in: "\x00", err: ErrInvalidEscape},
	{name: "DEL", in: "\x7f", err: ErrInvalidEscape},
	{name: "invalid UTF-8", in: badUTF8, err: ErrInvalidEscape},
	{name: "no-break space", in: "\u00a0", err: ErrInvalidEscape},
}

func TestUnescapeToken(t *testing.T) {
	for _, tc := range unescapeCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := UnescapeToken(tc.in)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("UnescapeToken(%.30q) = %q, %v; want error %v", tc.in, got, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("UnescapeToken(%.30q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
		})
	}
}

// TestEscapeTokenInjective checks that distinct values give distinct tokens
// over every value of up to two bytes drawn from the interesting ones.
func TestEscapeTokenInjective(t *testing.T) {
	var bytes []string
	for c := range 256 {
		bytes = append(bytes, string(rune(c)), string([]byte{byte(c)}))
	}
	seen := make(map[string]string)
	for _, a := range bytes {
		for _, b := range append([]string{""}, bytes...) {
			v := a + b
			tok, err := EscapeToken(v)
			if err != nil {
				t.Fatalf("EscapeToken(%q): %v", v, err)
			}
			if prev, ok := seen[tok]; ok && prev != v {
				t.Fatalf("EscapeToken(%q) = EscapeToken(%q) = %q", prev, v, tok)
			}
			seen[tok] = v
		}
	}
}

func TestEscapeTokenAllocs(t *testing.T) {
	for _, v := range []string{"lobby", "日本", emoji, "$SYS"} {
		if n := testing.AllocsPerRun(100, func() { _, _ = EscapeToken(v) }); n != 0 {
			t.Errorf("EscapeToken(%q): %v allocations, want 0", v, n)
		}
	}
}

func BenchmarkEscapeToken(b *testing.B) {
	for _, v := range []string{"lobby", "a.b c*d"} {
		b.Run(v, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, _ = EscapeToken(v)
			}
		})
	}
}
