package jsonws

import (
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// The scanner reads a client message in one pass without decoding it: it
// validates the whole document exactly as json.Valid does (RFC 8259, at
// most maxDepth levels of nesting) and records where each top-level member's
// key and value are. Nothing is unescaped, copied or allocated for a message
// of up to len(body.fixed) members nested up to 64 levels; deeper paths are
// found later by walking the recorded value's bytes (walk.go), which are
// known to be valid by then.
//
// It is hand-written rather than taken from a library. github.com/tidwall/gjson
// and github.com/buger/jsonparser find a path without validating the
// document (gjson.Valid is a second pass), return the first of duplicate
// keys where encoding/json keeps the last, and do not decode strings as
// encoding/json does (gjson keeps bytes that are not UTF-8 as they are, and
// reads "\ud800\u0041" as one U+FFFD, not U+FFFD then "A"); the route
// key, the subject and the forwarded payload depend on all three, and
// wrapping either to fix them would cost the passes the scanner saves.
// FuzzBodyDifferential holds the scanner to encoding/json's answers.

// member is one top-level member of a message, as offsets into its bytes:
// the key's contents between its quotes (escaped as sent) and the value
// (without the white space around it).
type member struct {
	k0, k1 int
	v0, v1 int
	ascii  bool // the key is ASCII without escapes, so its own text
}

// kinds records, for each open container, whether it is an object: one bit
// per level, in a word for the first 64 levels and in a slice made only for
// a message nested deeper.
type kinds struct {
	lo uint64
	hi []uint64
}

func (k *kinds) set(depth int, object bool) {
	d := depth - 1
	if d < 64 {
		k.lo = k.lo&^(1<<d) | b2u(object)<<d
		return
	}
	d -= 64
	if k.hi == nil {
		k.hi = make([]uint64, (maxDepth-64)/64+1)
	}
	k.hi[d/64] = k.hi[d/64]&^(1<<(d%64)) | b2u(object)<<(d%64)
}

func (k *kinds) object(depth int) bool {
	d := depth - 1
	if d < 64 {
		return k.lo>>d&1 == 1
	}
	d -= 64
	return k.hi[d/64]>>(d%64)&1 == 1
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// scanTop validates d as one JSON object, which opens at d[i], followed by
// nothing but white space, and appends each of its members to top in order
// (duplicates included). ok is false for anything json.Valid refuses.
func scanTop(d []byte, i int, top []member) (_ []member, ok bool) {
	var k kinds
	var m member
	depth := 0
	for {
		// A value starts at d[i].
		if depth == 1 {
			m.v0 = i
		}
		if i >= len(d) {
			return top, false
		}
		switch c := d[i]; c {
		case '{', '[':
			if depth++; depth > maxDepth {
				return top, false
			}
			k.set(depth, c == '{')
			if i = skipWS(d, i+1); i < len(d) && d[i] == c+2 { // '}' or ']'
				i++
				depth--
				break
			}
			if c == '{' {
				if i, ok = scanKey(d, i, depth == 1, &m); !ok {
					return top, false
				}
			}
			continue
		case '"':
			if i, ok = skipString(d, i+1); !ok {
				return top, false
			}
		case 't':
			if i, ok = skipLiteral(d, i, "true"); !ok {
				return top, false
			}
		case 'f':
			if i, ok = skipLiteral(d, i, "false"); !ok {
				return top, false
			}
		case 'n':
			if i, ok = skipLiteral(d, i, "null"); !ok {
				return top, false
			}
		default:
			if i, ok = skipNumber(d, i); !ok {
				return top, false
			}
		}
		// A value ended at d[i]: close what it closes and find where the
		// next value starts.
	next:
		for {
			switch depth {
			case 0:
				return top, skipWS(d, i) == len(d)
			case 1:
				m.v1 = i
				top = append(top, m)
			}
			if i = skipWS(d, i); i >= len(d) {
				return top, false
			}
			object := k.object(depth)
			switch c := d[i]; {
			case c == ',':
				i = skipWS(d, i+1)
				if object {
					if i, ok = scanKey(d, i, depth == 1, &m); !ok {
						return top, false
					}
				}
				break next
			case object && c == '}', !object && c == ']':
				i++
				depth--
			default:
				return top, false
			}
		}
	}
}

// scanKey reads `"key" :` at d[i] and the white space after it; the key's
// place goes into m when record is set.
func scanKey(d []byte, i int, record bool, m *member) (int, bool) {
	if i >= len(d) || d[i] != '"' {
		return i, false
	}
	end, ok := skipString(d, i+1)
	if !ok {
		return end, false
	}
	if record {
		m.k0, m.k1 = i+1, end-1
		m.ascii = asciiText(d[m.k0:m.k1])
	}
	if i = skipWS(d, end); i >= len(d) || d[i] != ':' {
		return i, false
	}
	return skipWS(d, i+1), true
}

// skipWS returns the index of the first byte at or after i that is not JSON
// white space (space, tab, CR, LF: not form feed, not a byte order mark).
func skipWS(d []byte, i int) int {
	for i < len(d) && (d[i] == ' ' || d[i] == '\n' || d[i] == '\r' || d[i] == '\t') {
		i++
	}
	return i
}

// plainByte holds the bytes that stand for themselves in a JSON string:
// not a quote, not a backslash, not a control character.
var plainByte = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// skipString validates the rest of a string whose opening quote is at
// d[i-1] and returns the index after its closing quote. Bytes that are not
// UTF-8 are allowed, as encoding/json allows them (and decodes them to
// U+FFFD).
func skipString(d []byte, i int) (int, bool) {
	for {
		for i < len(d) && plainByte[d[i]] {
			i++
		}
		if i >= len(d) {
			return i, false
		}
		switch d[i] {
		case '"':
			return i + 1, true
		case '\\':
			if i+1 >= len(d) {
				return i, false
			}
			switch d[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(d) || hex4(d[i+2:i+6]) < 0 {
					return i, false
				}
				i += 6
			default:
				return i, false
			}
		default:
			return i, false // a control character
		}
	}
}

// hex4 is the value of four hex digits, or -1.
func hex4(h []byte) rune {
	var r rune
	for _, c := range h[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
}

func skipLiteral(d []byte, i int, lit string) (int, bool) {
	if len(d)-i < len(lit) || string(d[i:i+len(lit)]) != lit {
		return i, false
	}
	return i + len(lit), true
}

// skipNumber validates a number at d[i]: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func skipNumber(d []byte, i int) (int, bool) {
	if i < len(d) && d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case i < len(d) && '1' <= d[i] && d[i] <= '9':
		i = skipDigits(d, i+1)
	default:
		return i, false
	}
	if i < len(d) && d[i] == '.' {
		j := skipDigits(d, i+1)
		if j == i+1 {
			return j, false
		}
		i = j
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		j := skipDigits(d, i)
		if j == i {
			return j, false
		}
		i = j
	}
	return i, true
}

func skipDigits(d []byte, i int) int {
	for i < len(d) && '0' <= d[i] && d[i] <= '9' {
		i++
	}
	return i
}

// asciiText reports whether the contents of a valid JSON string are ASCII
// without escapes, and so their own text.
func asciiText(s []byte) bool {
	for _, c := range s {
		if c == '\\' || c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// plain reports whether the contents of a valid JSON string are their own
// text: no escapes and nothing that is not UTF-8, so that encoding/json would
// decode them to the same bytes.
func plain(s []byte) bool {
	for i := 0; i < len(s); {
		c := s[i]
		if c == '\\' {
			return false
		}
		if c < utf8.RuneSelf {
			i++
			continue
		}
		r, n := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && n == 1 {
			return false
		}
		i += n
	}
	return true
}

// appendUnquote appends the text of the contents of a valid JSON string to
// dst, decoded exactly as encoding/json decodes it: escapes resolved, a
// surrogate pair joined, and a lone surrogate and every byte that is not
// UTF-8 replaced by U+FFFD.
func appendUnquote(dst, s []byte) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\':
			switch e := s[i+1]; e {
			case 'b':
				dst = append(dst, '\b')
			case 'f':
				dst = append(dst, '\f')
			case 'n':
				dst = append(dst, '\n')
			case 'r':
				dst = append(dst, '\r')
			case 't':
				dst = append(dst, '\t')
			case 'u':
				r := hex4(s[i+2 : i+6])
				i += 6
				if utf16.IsSurrogate(r) {
					r2 := rune(-1)
					if i+6 <= len(s) && s[i] == '\\' && s[i+1] == 'u' {
						r2 = hex4(s[i+2 : i+6])
					}
					if dec := utf16.DecodeRune(r, r2); dec != unicode.ReplacementChar {
						dst = utf8.AppendRune(dst, dec)
						i += 6
						continue
					}
					r = unicode.ReplacementChar
				}
				dst = utf8.AppendRune(dst, r)
				continue
			default: // '"', '\\', '/'
				dst = append(dst, e)
			}
			i += 2
		case c < utf8.RuneSelf:
			j := i + 1
			for j < len(s) && s[j] < utf8.RuneSelf && s[j] != '\\' {
				j++
			}
			dst = append(dst, s[i:j]...)
			i = j
		default:
			r, n := utf8.DecodeRune(s[i:])
			dst = utf8.AppendRune(dst, r)
			i += n
		}
	}
	return dst
}
