package subjects

import (
	"fmt"
	"strconv"
	"unicode"
	"unicode/utf8"
)

const (
	// MaxSubjectLen is the longest subject, pattern or template expansion, in
	// bytes, that this package accepts.
	MaxSubjectLen = 1024

	// MaxTokenLen is the longest token, in bytes, that EscapeToken produces
	// and the longest escaped value a template placeholder may expand to.
	MaxTokenLen = 256
)

// ValidateSubject reports whether s is a literal subject one may publish to:
// non-empty, at most MaxSubjectLen bytes, valid UTF-8, no empty token (no
// leading, trailing or double '.'), no white space or control character, and
// no '*' or '>' anywhere, not even inside a longer token. The error wraps
// ErrInvalidSubject and says which token and character are wrong.
func ValidateSubject(s string) error {
	if f := check(s, false); f.kind != faultNone {
		return f.err(ErrInvalidSubject, s)
	}
	return nil
}

// ValidatePattern reports whether s is a subscription pattern: the rules of
// ValidateSubject, except that '*' is allowed as a whole token and '>' as the
// whole last token. A '*' or '>' inside a longer token ("a*b") is refused.
// The error wraps ErrInvalidPattern and says which token and character are
// wrong. A valid subject is also a valid pattern.
func ValidatePattern(s string) error {
	if f := check(s, true); f.kind != faultNone {
		return f.err(ErrInvalidPattern, s)
	}
	return nil
}

// validPattern is ValidatePattern without building an error.
func validPattern(s string) bool { return check(s, true).kind == faultNone }

// faultKind says what check found wrong.
type faultKind uint8

const (
	faultNone         faultKind = iota
	faultEmpty                  // the whole string is empty
	faultTooLong                // longer than MaxSubjectLen
	faultEmptyToken             // leading, trailing or double '.'
	faultBadUTF8                // a byte that starts no valid UTF-8 sequence
	faultSpace                  // white space or control character
	faultWildcard               // '*' or '>' in a literal subject
	faultPartWildcard           // '*' or '>' inside a longer pattern token
	faultTailNotLast            // '>' token that is not the last token
)

// fault is the first problem check found. It is a plain value so that a
// successful check allocates nothing.
type fault struct {
	kind faultKind
	off  int  // byte offset of the problem in the checked string
	tok  int  // 1-based index of the token holding it
	r    rune // the offending character, or byte for faultBadUTF8
}

// check scans s once and returns its first problem as a subject (pattern
// false) or a pattern (pattern true). It does not allocate.
func check(s string, pattern bool) fault {
	if s == "" {
		return fault{kind: faultEmpty}
	}
	if len(s) > MaxSubjectLen {
		return fault{kind: faultTooLong, off: MaxSubjectLen}
	}
	start, tok := 0, 1
	for i := 0; ; {
		if i == len(s) || s[i] == '.' {
			switch t := s[start:i]; {
			case t == "":
				return fault{kind: faultEmptyToken, off: i, tok: tok}
			case t == ">" && i != len(s) && pattern:
				return fault{kind: faultTailNotLast, off: start, tok: tok, r: '>'}
			}
			if i == len(s) {
				return fault{}
			}
			i++
			start, tok = i, tok+1
			continue
		}
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c <= ' ' || c == 0x7f:
				return fault{kind: faultSpace, off: i, tok: tok, r: rune(c)}
			case c == '*' || c == '>':
				if !pattern {
					return fault{kind: faultWildcard, off: i, tok: tok, r: rune(c)}
				}
				if i != start || (i+1 < len(s) && s[i+1] != '.') {
					return fault{kind: faultPartWildcard, off: i, tok: tok, r: rune(c)}
				}
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			return fault{kind: faultBadUTF8, off: i, tok: tok, r: rune(c)}
		}
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return fault{kind: faultSpace, off: i, tok: tok, r: r}
		}
		i += n
	}
}

// detail describes f in words; off is where to say it is.
func (f fault) detail(off int) string {
	switch f.kind {
	case faultEmpty:
		return "empty"
	case faultEmptyToken:
		return fmt.Sprintf("empty token %d at offset %d (leading, trailing or double '.')", f.tok, off)
	case faultBadUTF8:
		return fmt.Sprintf("invalid UTF-8 byte 0x%02X in token %d at offset %d", f.r, f.tok, off)
	case faultSpace:
		return fmt.Sprintf("white space or control character %U in token %d at offset %d", f.r, f.tok, off)
	case faultWildcard:
		return fmt.Sprintf("wildcard %q in token %d at offset %d: not allowed in a subject", f.r, f.tok, off)
	case faultPartWildcard:
		return fmt.Sprintf("wildcard %q in token %d at offset %d is not a whole token", f.r, f.tok, off)
	case faultTailNotLast:
		return fmt.Sprintf("'>' is token %d at offset %d but not the last token", f.tok, off)
	}
	return "ok"
}

// err turns f, found in s, into an error wrapping sentinel.
func (f fault) err(sentinel error, s string) error {
	switch f.kind {
	case faultEmpty:
		return fmt.Errorf("%w: empty", sentinel)
	case faultTooLong:
		return fmt.Errorf("%w %s: %d bytes, max %d", sentinel, quote(s), len(s), MaxSubjectLen)
	}
	return fmt.Errorf("%w %s: %s", sentinel, quote(s), f.detail(f.off))
}

// quoteMax is how many bytes of a hostile input an error message repeats.
const quoteMax = 64

// quote quotes s for an error message, cutting a long s short so that a
// hostile input cannot flood the logs.
func quote(s string) string {
	if len(s) <= quoteMax {
		return strconv.Quote(s)
	}
	return strconv.Quote(s[:quoteMax]) + "..."
}
