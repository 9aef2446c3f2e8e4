package stomp

import (
	"fmt"
	"strings"
)

// Header value escaping [STOMP-1.2 "Value Encoding"]:
//
//	\r  carriage return (1.2 only)
//	\n  line feed
//	\c  colon
//	\\  backslash
//
// "Undefined escape sequences such as \t (octet 92 and 116) MUST be treated
// as a fatal protocol error." STOMP 1.1 has the same table without \r;
// STOMP 1.0 escapes nothing.

// unescape decodes an escaped header name or value of version v (1.1 or
// 1.2).
func unescape(b []byte, v Version) (string, error) {
	i := 0
	for i < len(b) && b[i] != '\\' {
		i++
	}
	if i == len(b) {
		return string(b), nil
	}
	var sb strings.Builder
	sb.Grow(len(b))
	sb.Write(b[:i])
	for ; i < len(b); i++ {
		c := b[i]
		if c != '\\' {
			sb.WriteByte(c)
			continue
		}
		if i+1 == len(b) {
			return "", fmt.Errorf("%w: trailing backslash", ErrBadEscape)
		}
		i++
		switch b[i] {
		case 'n':
			sb.WriteByte('\n')
		case 'c':
			sb.WriteByte(':')
		case '\\':
			sb.WriteByte('\\')
		case 'r':
			if v < V12 {
				return "", fmt.Errorf("%w \\r (STOMP %s)", ErrBadEscape, v)
			}
			sb.WriteByte('\r')
		default:
			return "", fmt.Errorf("%w \\%c", ErrBadEscape, b[i])
		}
	}
	return sb.String(), nil
}

// appendEscaped writes s escaped for version v (1.1 or 1.2). A carriage
// return has no escape in 1.1: it is written as is (a value holding one
// cannot be carried intact; senders drop such values, see headerSafe).
func appendEscaped(dst []byte, s string, v Version) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\n':
			dst = append(dst, '\\', 'n')
		case ':':
			dst = append(dst, '\\', 'c')
		case '\\':
			dst = append(dst, '\\', '\\')
		case '\r':
			if v >= V12 {
				dst = append(dst, '\\', 'r')
			} else {
				dst = append(dst, c)
			}
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// headerSafe reports whether a header name and value can be carried intact
// in a frame of version v: 1.0 cannot carry a colon in a name, nor a line
// feed or carriage return anywhere; 1.1 cannot carry a carriage return.
// No version carries a NUL in a header, which some clients stop at.
func headerSafe(name, value string, v Version) bool {
	if name == "" || strings.IndexByte(name, 0) >= 0 || strings.IndexByte(value, 0) >= 0 {
		return false
	}
	switch v {
	case V10:
		return !strings.ContainsAny(name, ":\r\n") && !strings.ContainsAny(value, "\r\n")
	case V11:
		return !strings.ContainsRune(name, '\r') && !strings.ContainsRune(value, '\r')
	}
	return true
}
