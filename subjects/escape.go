package subjects

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// EscapeToken turns an arbitrary value into exactly one valid subject token,
// injectively and readably. It keeps printable ASCII (0x21 to 0x7e) except
// '.', '*', '>' and '%', and keeps every valid multi-byte UTF-8 character
// that is neither white space nor a control character. Every other byte is
// written as '%' and two upper-case hex digits: '.' becomes "%2E", '*' "%2A",
// '>' "%3E", '%' "%25", a space "%20", NUL "%00", and each byte of invalid
// UTF-8 its own "%XX". A value that needs no escaping is returned as is,
// without allocating.
//
// The result always passes ValidateSubject as a one-token subject, so a
// value can never add a token, a wildcard or white space to a subject.
// UnescapeToken is the exact inverse.
//
// An empty value is refused with an error wrapping ErrEmptyValue, and a
// value whose escaped form is longer than MaxTokenLen bytes with one
// wrapping ErrValueTooLong.
func EscapeToken(v string) (string, error) {
	n, err := checkValue(v)
	if err != nil {
		return "", fmt.Errorf("escape token: %w", err)
	}
	if n == len(v) {
		return v, nil // every escape adds bytes, so nothing was escaped
	}
	var b strings.Builder
	b.Grow(n)
	writeEscaped(&b, v)
	return b.String(), nil
}

// UnescapeToken is the exact inverse of EscapeToken: for every value v that
// EscapeToken accepts, UnescapeToken(EscapeToken(v)) is v. It refuses, with
// an error wrapping ErrInvalidEscape, every token EscapeToken cannot
// produce: a '%' not followed by two upper-case hex digits, a character that
// should have been escaped, or an escape of a character that should not have
// been. An empty token wraps ErrEmptyValue and one longer than MaxTokenLen
// wraps ErrValueTooLong.
func UnescapeToken(tok string) (string, error) {
	if tok == "" {
		return "", fmt.Errorf("unescape token: %w", ErrEmptyValue)
	}
	if len(tok) > MaxTokenLen {
		return "", fmt.Errorf("unescape token: %w: %d bytes, max %d", ErrValueTooLong, len(tok), MaxTokenLen)
	}
	out := tok
	if strings.IndexByte(tok, '%') >= 0 {
		b := make([]byte, 0, len(tok))
		for i := 0; i < len(tok); i++ {
			if tok[i] != '%' {
				b = append(b, tok[i])
				continue
			}
			if i+2 >= len(tok) {
				return "", fmt.Errorf("unescape token: %w %s: '%%' at offset %d needs two hex digits", ErrInvalidEscape, quote(tok), i)
			}
			hi, lo := unhex(tok[i+1]), unhex(tok[i+2])
			if hi < 0 || lo < 0 {
				return "", fmt.Errorf("unescape token: %w %s: '%%' at offset %d needs two upper-case hex digits", ErrInvalidEscape, quote(tok), i)
			}
			b = append(b, byte(hi<<4|lo))
			i += 2
		}
		out = string(b)
	}
	// Exactness: the token must be the one EscapeToken gives for the value.
	if again, err := EscapeToken(out); err != nil || again != tok {
		return "", fmt.Errorf("unescape token: %w %s: not the canonical escape of its value", ErrInvalidEscape, quote(tok))
	}
	return out, nil
}

// checkValue returns the escaped length of v, or an error wrapping
// ErrEmptyValue or ErrValueTooLong. It does not allocate on success.
func checkValue(v string) (int, error) {
	if v == "" {
		return 0, ErrEmptyValue
	}
	if len(v) > MaxTokenLen {
		return 0, fmt.Errorf("%w: %d bytes, max %d", ErrValueTooLong, len(v), MaxTokenLen)
	}
	n := escapedLen(v)
	if n > MaxTokenLen {
		return 0, fmt.Errorf("%w: %d bytes escaped, max %d", ErrValueTooLong, n, MaxTokenLen)
	}
	return n, nil
}

// keepByte reports whether the ASCII byte c is kept as is.
func keepByte(c byte) bool {
	return c > ' ' && c < 0x7f && c != '.' && c != '*' && c != '>' && c != '%'
}

// keepRune reports whether a decoded multi-byte sequence is kept as is.
func keepRune(r rune, size int) bool {
	if r == utf8.RuneError && size == 1 {
		return false // an invalid byte, not a real U+FFFD
	}
	return !unicode.IsSpace(r) && !unicode.IsControl(r)
}

// escapedLen returns the length of EscapeToken's result for v.
func escapedLen(v string) int {
	n := 0
	for i := 0; i < len(v); {
		if c := v[i]; c < utf8.RuneSelf {
			if keepByte(c) {
				n++
			} else {
				n += 3
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(v[i:])
		if keepRune(r, size) {
			n += size
		} else {
			n += 3 * size
		}
		i += size
	}
	return n
}

const upperHex = "0123456789ABCDEF"

// writeEscaped writes v escaped as EscapeToken does, copying runs of kept
// bytes whole.
func writeEscaped(b *strings.Builder, v string) {
	run := 0 // start of the pending run of kept bytes
	for i := 0; i < len(v); {
		if c := v[i]; c < utf8.RuneSelf {
			if !keepByte(c) {
				b.WriteString(v[run:i])
				writePercent(b, c)
				run = i + 1
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(v[i:])
		if !keepRune(r, size) {
			b.WriteString(v[run:i])
			for j := i; j < i+size; j++ {
				writePercent(b, v[j])
			}
			run = i + size
		}
		i += size
	}
	b.WriteString(v[run:])
}

// writePercent writes c as '%' and two upper-case hex digits.
func writePercent(b *strings.Builder, c byte) {
	b.WriteByte('%')
	b.WriteByte(upperHex[c>>4])
	b.WriteByte(upperHex[c&0xf])
}

// unhex returns the value of an upper-case hex digit, or -1.
func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'A' <= c && c <= 'F':
		return int(c - 'A' + 10)
	}
	return -1
}
