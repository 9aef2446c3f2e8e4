package subjects

import (
	"errors"
	"strings"
	"testing"
)

// validateCases drives TestValidateSubject, TestValidatePattern and seeds the
// fuzzers. why is a fragment of the subject error, pwhy of the pattern error.
var validateCases = []struct {
	name      string
	in        string
	subject   bool // valid as a literal subject
	pattern   bool // valid as a pattern
	why, pwhy string
}{
	{name: "one token", in: "a", subject: true, pattern: true},
	{name: "two tokens", in: "a.b", subject: true, pattern: true},
	{name: "control subject", in: "wsgate.conn.abc.send", subject: true, pattern: true},
	{name: "punctuation", in: "a-b_c~d!e@f#g$h^i&j(k)l+m=n,o;p:q'r\"s[t]u{v}w|x<y?z/0", subject: true, pattern: true},
	{name: "percent", in: "%", subject: true, pattern: true},
	{name: "percent escapes", in: "a%2Eb.%20", subject: true, pattern: true},
	{name: "e acute", in: "é", subject: true, pattern: true},
	{name: "japanese", in: "日本", subject: true, pattern: true},
	{name: "emoji", in: emoji, subject: true, pattern: true},
	{name: "unicode tokens", in: "café.日本." + emoji, subject: true, pattern: true},
	{name: "real U+FFFD", in: "\uFFFD", subject: true, pattern: true},
	{name: "dollar", in: "$JS.API.INFO", subject: true, pattern: true},
	{name: "exactly max length", in: max1024, subject: true, pattern: true},

	{name: "empty", in: "", why: "empty", pwhy: "empty"},
	{name: "dot", in: ".", why: "empty token 1 at offset 0", pwhy: "empty token 1"},
	{name: "leading dot", in: ".a", why: "empty token 1 at offset 0", pwhy: "empty token 1"},
	{name: "trailing dot", in: "a.", why: "empty token 2 at offset 2", pwhy: "empty token 2"},
	{name: "double dot", in: "a..b", why: "empty token 2 at offset 2", pwhy: "empty token 2"},
	{name: "dots only", in: "...", why: "empty token 1", pwhy: "empty token 1"},
	{name: "space", in: " ", why: "U+0020 in token 1 at offset 0", pwhy: "U+0020"},
	{name: "inner space", in: "a.b c", why: "U+0020 in token 2 at offset 3", pwhy: "U+0020"},
	{name: "tab", in: "\t", why: "U+0009", pwhy: "U+0009"},
	{name: "inner tab", in: "a\tb", why: "U+0009 in token 1 at offset 1", pwhy: "U+0009"},
	{name: "newline", in: "a\nb", why: "U+000A", pwhy: "U+000A"},
	{name: "carriage return", in: "a.b\r", why: "U+000D", pwhy: "U+000D"},
	{name: "NUL", in: "\x00", why: "U+0000", pwhy: "U+0000"},
	{name: "inner NUL", in: "a\x00b", why: "U+0000 in token 1 at offset 1", pwhy: "U+0000"},
	{name: "DEL", in: "\x7f", why: "U+007F", pwhy: "U+007F"},
	{name: "C1 control", in: "a\u0080", why: "U+0080", pwhy: "U+0080"},
	{name: "NEL", in: "\u0085", why: "U+0085", pwhy: "U+0085"},
	{name: "no-break space", in: "a\u00a0b", why: "U+00A0", pwhy: "U+00A0"},
	{name: "line separator", in: "\u2028", why: "U+2028", pwhy: "U+2028"},
	{name: "ideographic space", in: "日\u3000本", why: "U+3000 in token 1 at offset 3", pwhy: "U+3000"},
	{name: "invalid UTF-8", in: badUTF8, why: "invalid UTF-8 byte 0xFF in token 1 at offset 0", pwhy: "0xFF"},
	{name: "truncated UTF-8", in: "a.\xc3", why: "0xC3 in token 2 at offset 2", pwhy: "0xC3"},
	{name: "surrogate", in: "\xed\xa0\x80", why: "0xED", pwhy: "0xED"},
	{name: "10k bytes", in: long10k, why: "10000 bytes, max 1024", pwhy: "10000 bytes"},
	{name: "one over max", in: over1k, why: "1025 bytes, max 1024", pwhy: "1025 bytes"},

	{name: "star", in: "*", pattern: true, why: "wildcard '*' in token 1 at offset 0"},
	{name: "gt", in: ">", pattern: true, why: "wildcard '>' in token 1"},
	{name: "star last", in: "a.*", pattern: true, why: "'*' in token 2 at offset 2"},
	{name: "star middle", in: "a.*.c", pattern: true, why: "'*' in token 2"},
	{name: "gt last", in: "a.>", pattern: true, why: "'>' in token 2"},
	{name: "star gt", in: "*.>", pattern: true, why: "'*' in token 1"},
	{name: "system pattern", in: "$JS.API.>", pattern: true, why: "'>' in token 3"},
	{name: "gt first", in: ">.a", why: "'>'", pwhy: "'>' is token 1 at offset 0 but not the last token"},
	{name: "gt middle", in: "a.>.b", why: "'>'", pwhy: "'>' is token 2 at offset 2"},
	{name: "gt gt", in: ">.>", why: "'>'", pwhy: "'>' is token 1"},
	{name: "star inside", in: "a*b", why: "'*' in token 1 at offset 1", pwhy: "'*' in token 1 at offset 1 is not a whole token"},
	{name: "star prefix", in: "x.*a", why: "'*'", pwhy: "'*' in token 2 at offset 2 is not a whole token"},
	{name: "star suffix", in: "a*", why: "'*'", pwhy: "'*' in token 1 at offset 1"},
	{name: "gt suffix", in: "a>", why: "'>'", pwhy: "'>' in token 1 at offset 1"},
	{name: "gt inside last", in: "a.b>c", why: "'>'", pwhy: "'>' in token 2 at offset 3"},
	{name: "double star", in: "**", why: "'*'", pwhy: "'*' in token 1 at offset 0"},
	{name: "double gt", in: ">>", why: "'>'", pwhy: "'>' in token 1 at offset 0"},
}

func TestValidateSubject(t *testing.T) {
	for _, tc := range validateCases {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidateSubject(tc.in)
			if tc.subject {
				if err != nil {
					t.Fatalf("ValidateSubject(%q) = %v, want nil", tc.in, err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidSubject) {
				t.Fatalf("ValidateSubject(%q) = %v, want ErrInvalidSubject", tc.in, err)
			}
			if !strings.Contains(err.Error(), tc.why) {
				t.Errorf("ValidateSubject(%q) = %q, want it to say %q", tc.in, err, tc.why)
			}
			if len(err.Error()) > 200 {
				t.Errorf("error is %d bytes long; hostile input must be cut short", len(err.Error()))
			}
		})
	}
}

func TestValidatePattern(t *testing.T) {
	for _, tc := range validateCases {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidatePattern(tc.in)
			if tc.pattern {
				if err != nil {
					t.Fatalf("ValidatePattern(%q) = %v, want nil", tc.in, err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidPattern) {
				t.Fatalf("ValidatePattern(%q) = %v, want ErrInvalidPattern", tc.in, err)
			}
			if !strings.Contains(err.Error(), tc.pwhy) {
				t.Errorf("ValidatePattern(%q) = %q, want it to say %q", tc.in, err, tc.pwhy)
			}
			if errors.Is(err, ErrInvalidSubject) {
				t.Errorf("pattern error %v also wraps ErrInvalidSubject", err)
			}
		})
	}
}

func TestValidateAllocs(t *testing.T) {
	for _, s := range []string{"a", "wsgate.conn.abc.send", "café.日本." + emoji, max1024} {
		if n := testing.AllocsPerRun(100, func() { _ = ValidateSubject(s) }); n != 0 {
			t.Errorf("ValidateSubject(%.20q): %v allocations, want 0", s, n)
		}
	}
	for _, s := range []string{"a", "a.*.>", "$JS.API.>", max1024} {
		if n := testing.AllocsPerRun(100, func() { _ = ValidatePattern(s) }); n != 0 {
			t.Errorf("ValidatePattern(%.20q): %v allocations, want 0", s, n)
		}
	}
}
