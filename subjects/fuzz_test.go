package subjects

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// refMatch is the obviously correct, slow Match that FuzzMatch compares with.
func refMatch(pattern, subject string) bool {
	p, s := strings.Split(pattern, "."), strings.Split(subject, ".")
	if slices.Contains(p, "") || slices.Contains(s, "") {
		return false
	}
	for i, t := range p {
		if t == ">" && i == len(p)-1 {
			return len(s) > i
		}
		if i >= len(s) || (t != "*" && t != s[i]) {
			return false
		}
	}
	return len(p) == len(s)
}

func FuzzMatch(f *testing.F) {
	for _, tc := range matchCases {
		f.Add(tc.pattern, tc.pattern, tc.subject)
	}
	for _, tc := range coversCases {
		f.Add(tc.outer, tc.inner, tc.inner)
	}
	for _, tc := range intersectsCases {
		f.Add(tc.a, tc.b, tc.a)
	}
	f.Fuzz(func(t *testing.T, a, b, s string) {
		for _, p := range []string{a, b} {
			if got, want := Match(p, s), refMatch(p, s); got != want {
				t.Fatalf("Match(%q, %q) = %v, refMatch says %v", p, s, got, want)
			}
			if validPattern(p) && !Covers(p, p) {
				t.Fatalf("Covers(%q, itself) = false", p)
			}
		}
		if Covers(a, b) {
			if Match(b, s) && !Match(a, s) {
				t.Fatalf("Covers(%q, %q) but %q matches only the inner one", a, b, s)
			}
			if !Intersects(a, b) {
				t.Fatalf("Covers(%q, %q) but they do not intersect", a, b)
			}
		}
		if Intersects(a, b) != Intersects(b, a) {
			t.Fatalf("Intersects(%q, %q) is not symmetric", a, b)
		}
		if ValidateSubject(s) == nil && Match(a, s) && Match(b, s) && !Intersects(a, b) {
			t.Fatalf("%q matches %q and %q but Intersects is false", s, a, b)
		}
		if ValidateSubject(s) == nil && validPattern(a) && Covers(a, s) != Match(a, s) {
			t.Fatalf("Covers(%q, subject %q) = %v, Match says %v", a, s, Covers(a, s), Match(a, s))
		}
	})
}

func FuzzEscapeToken(f *testing.F) {
	for _, tc := range escapeCases {
		f.Add(tc.in)
	}
	for _, tc := range unescapeCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, v string) {
		tok, err := EscapeToken(v)
		switch {
		case v == "":
			if !errors.Is(err, ErrEmptyValue) {
				t.Fatalf("EscapeToken(\"\") error = %v, want ErrEmptyValue", err)
			}
		case err != nil:
			if !errors.Is(err, ErrValueTooLong) || len(v) <= MaxTokenLen/3 {
				t.Fatalf("EscapeToken(%q) error = %v", v, err)
			}
		default:
			if err := ValidateSubject(tok); err != nil {
				t.Fatalf("EscapeToken(%q) = %q, not a subject: %v", v, tok, err)
			}
			if strings.Contains(tok, ".") || len(tok) > MaxTokenLen {
				t.Fatalf("EscapeToken(%q) = %q, not one short token", v, tok)
			}
			back, err := UnescapeToken(tok)
			if err != nil || back != v {
				t.Fatalf("UnescapeToken(EscapeToken(%q) = %q) = %q, %v", v, tok, back, err)
			}
		}
		// v as a token: whatever UnescapeToken accepts, EscapeToken gives back.
		if val, err := UnescapeToken(v); err == nil {
			if again, err := EscapeToken(val); err != nil || again != v {
				t.Fatalf("EscapeToken(UnescapeToken(%q) = %q) = %q, %v", v, val, again, err)
			}
		}
	})
}

// refExpand is a slow Expand: each placeholder replaced by EscapeToken(v).
func refExpand(src, v string) string {
	var b strings.Builder
	for {
		before, rest, ok := strings.Cut(src, "{")
		b.WriteString(before)
		if !ok {
			return b.String()
		}
		_, src, _ = strings.Cut(rest, "}")
		tok, _ := EscapeToken(v)
		b.WriteString(tok)
	}
}

// templateTokens counts the tokens of a template: dots outside braces, plus one.
func templateTokens(src string) int {
	n, depth := 1, 0
	for _, c := range []byte(src) {
		switch c {
		case '{':
			depth++
		case '}':
			depth--
		case '.':
			if depth == 0 {
				n++
			}
		}
	}
	return n
}

func FuzzTemplateExpand(f *testing.F) {
	for _, tc := range templateCases {
		f.Add(tc.src, "lobby")
	}
	for _, e := range expandCases {
		f.Add("chat.rooms.{body.room}", e.value)
		f.Add("t.{a}-{b}.{a}.>", e.value)
	}
	f.Fuzz(func(t *testing.T, src, v string) {
		tmpl, err := ParseTemplate(src)
		if err != nil {
			if !errors.Is(err, ErrInvalidTemplate) {
				t.Fatalf("ParseTemplate(%q) error %v does not wrap ErrInvalidTemplate", src, err)
			}
			return
		}
		got, err := tmpl.Expand(func(string) (string, bool) { return v, true })
		if len(tmpl.Vars()) == 0 {
			if err != nil || got != src {
				t.Fatalf("Expand of %q without placeholders = %q, %v", src, got, err)
			}
			return
		}
		if _, escErr := EscapeToken(v); escErr != nil {
			if err == nil {
				t.Fatalf("Expand(%q) with %q = %q, want the EscapeToken error %v", src, v, got, escErr)
			}
			return
		}
		want := refExpand(src, v)
		if len(want) > MaxSubjectLen {
			if !errors.Is(err, ErrValueTooLong) {
				t.Fatalf("Expand(%q) with %q (%d bytes) error = %v, want ErrValueTooLong", src, v, len(want), err)
			}
			return
		}
		if err != nil || got != want {
			t.Fatalf("Expand(%q) with %q = %q, %v; want %q", src, v, got, err, want)
		}
		if n, m := strings.Count(got, ".")+1, templateTokens(src); n != m {
			t.Fatalf("Expand(%q) with %q = %q: %d tokens, template has %d", src, v, got, n, m)
		}
		if err := ValidatePattern(got); err != nil {
			t.Fatalf("Expand(%q) with %q = %q: %v", src, v, got, err)
		}
		if isSubject := ValidateSubject(got) == nil; isSubject == tmpl.IsPattern() {
			t.Fatalf("Expand(%q) = %q: valid subject %v, IsPattern %v", src, got, isSubject, tmpl.IsPattern())
		}
	})
}
