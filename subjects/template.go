package subjects

import (
	"fmt"
	"strings"
)

// Template is a subject with placeholders in braces, such as
// "chat.rooms.{body.room}", "users.{connectionId}.inbox" or
// "t.{claims.tenant}-{body.x}" (a placeholder may share a token with literal
// text). Its literal parts may hold '*' and '>' tokens, so a template can
// also be a subscription pattern such as "chat.{body.room}.>".
//
// A Template is immutable and safe for concurrent use. Create one with
// ParseTemplate.
type Template struct {
	src     string
	parts   []part
	vars    []string // distinct placeholder names, in order of appearance
	uses    []int    // how often each of vars appears
	litLen  int      // bytes of literal text
	pattern bool
}

// part is a run of literal text (v < 0) or a placeholder (vars[v]).
type part struct {
	lit string
	v   int
}

// ParseTemplate parses s. A placeholder name is one or more segments
// matching [A-Za-z_][A-Za-z0-9_]* joined by '.', such as "connectionId",
// "body.a.b" or "claims.sub". With every placeholder replaced by a plain
// token character, s must be a valid pattern of at most MaxSubjectLen bytes;
// a '*' or '>' must therefore be a whole token of its own, never next to a
// placeholder. Errors wrap ErrInvalidTemplate and give the byte offset in s.
func ParseTemplate(s string) (*Template, error) {
	if s == "" {
		return nil, fmt.Errorf("%w: empty", ErrInvalidTemplate)
	}
	if len(s) > MaxSubjectLen {
		return nil, fmt.Errorf("%w %s: %d bytes, max %d", ErrInvalidTemplate, quote(s), len(s), MaxSubjectLen)
	}
	t := &Template{src: s}
	// skel is s with each placeholder as "x"; starts maps its parts back to s.
	var skel strings.Builder
	skel.Grow(len(s))
	type start struct{ skel, src int }
	var starts []start
	addLit := func(from, to int) {
		if from < to {
			starts = append(starts, start{skel.Len(), from})
			t.parts = append(t.parts, part{lit: s[from:to], v: -1})
			t.litLen += to - from
			skel.WriteString(s[from:to])
		}
	}
	lit := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '}':
			return nil, fmt.Errorf("%w %s: '}' at offset %d has no '{'", ErrInvalidTemplate, quote(s), i)
		case '{':
			end := strings.IndexAny(s[i+1:], "{}")
			if end < 0 || s[i+1+end] == '{' {
				return nil, fmt.Errorf("%w %s: '{' at offset %d is not closed", ErrInvalidTemplate, quote(s), i)
			}
			name := s[i+1 : i+1+end]
			if why := checkName(name); why != "" {
				return nil, fmt.Errorf("%w %s: placeholder at offset %d: %s", ErrInvalidTemplate, quote(s), i, why)
			}
			addLit(lit, i)
			starts = append(starts, start{skel.Len(), i})
			t.parts = append(t.parts, part{v: t.varIndex(name)})
			skel.WriteByte('x')
			i += 1 + end
			lit = i + 1
		}
	}
	addLit(lit, len(s))

	sk := skel.String()
	if f := check(sk, true); f.kind != faultNone {
		// Map the offset in sk back to s.
		off := len(s)
		if f.off < len(sk) {
			for j := len(starts) - 1; j >= 0; j-- {
				if starts[j].skel <= f.off {
					off = starts[j].src
					if t.parts[j].v < 0 {
						off += f.off - starts[j].skel
					}
					break
				}
			}
		}
		return nil, fmt.Errorf("%w %s: %s", ErrInvalidTemplate, quote(s), f.detail(off))
	}
	t.pattern = strings.ContainsAny(sk, "*>")
	return t, nil
}

// varIndex returns the index of name in t.vars, adding it if new.
func (t *Template) varIndex(name string) int {
	for i, v := range t.vars {
		if v == name {
			t.uses[i]++
			return i
		}
	}
	t.vars = append(t.vars, name)
	t.uses = append(t.uses, 1)
	return len(t.vars) - 1
}

// checkName says what is wrong with a placeholder name, or "" if nothing.
func checkName(name string) string {
	if name == "" {
		return "empty name"
	}
	for seg := range strings.SplitSeq(name, ".") {
		if seg == "" {
			return fmt.Sprintf("name %s has an empty segment", quote(name))
		}
		for i := 0; i < len(seg); i++ {
			c := seg[i]
			if c == '_' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || i > 0 && '0' <= c && c <= '9' {
				continue
			}
			return fmt.Sprintf("name %s: segment %s must match [A-Za-z_][A-Za-z0-9_]*", quote(name), quote(seg))
		}
	}
	return ""
}

// String returns the template's source, as given to ParseTemplate.
func (t *Template) String() string { return t.src }

// IsPattern reports whether the template's literal parts hold a '*' or '>'
// wildcard, so that its expansions are subscription patterns rather than
// literal subjects.
func (t *Template) IsPattern() bool { return t.pattern }

// Vars returns the distinct placeholder names in order of first appearance.
// The slice is a copy the caller may keep.
func (t *Template) Vars() []string {
	return append([]string(nil), t.vars...)
}

// Expand fills in the placeholders. lookup is called once for each name in
// Vars, in that order; each value is passed through the escaping of
// EscapeToken, so a value holding '.', '*', '>', white space, NUL or invalid
// UTF-8 never changes the shape of the subject: the result has exactly as
// many tokens as the template.
//
// A name lookup does not know yields an error wrapping ErrMissingValue, an
// empty value one wrapping ErrEmptyValue, and a value escaping to more than
// MaxTokenLen bytes, or a result longer than MaxSubjectLen bytes, one
// wrapping ErrValueTooLong; each names the placeholder. The result is
// validated with ValidatePattern if IsPattern, else with ValidateSubject.
//
// Expand does not check the reserved space: a template whose first token is
// a placeholder can expand into it (a value of "$SYS" or the gateway's
// prefix), so callers check the result with IsReserved.
//
// A template without placeholders returns its source without allocating;
// otherwise the result is the only allocation (for up to 8 distinct names).
func (t *Template) Expand(lookup func(name string) (string, bool)) (string, error) {
	if len(t.vars) == 0 {
		return t.src, nil
	}
	var buf [8]string
	vals := buf[:0]
	n := t.litLen
	for i, name := range t.vars {
		v, ok := lookup(name)
		if !ok {
			return "", fmt.Errorf("expand {%s}: %w", name, ErrMissingValue)
		}
		m, err := checkValue(v)
		if err != nil {
			return "", fmt.Errorf("expand {%s}: %w", name, err)
		}
		n += m * t.uses[i]
		if n > MaxSubjectLen {
			return "", fmt.Errorf("expand {%s}: %w: result exceeds %d bytes", name, ErrValueTooLong, MaxSubjectLen)
		}
		vals = append(vals, v)
	}
	var b strings.Builder
	b.Grow(n)
	for _, p := range t.parts {
		if p.v < 0 {
			b.WriteString(p.lit)
		} else {
			writeEscaped(&b, vals[p.v])
		}
	}
	out := b.String()
	// By construction this cannot fail; it is the last line of defence.
	if f := check(out, t.pattern); f.kind != faultNone {
		sentinel := ErrInvalidSubject
		if t.pattern {
			sentinel = ErrInvalidPattern
		}
		return "", fmt.Errorf("expand %s: %w", quote(t.src), f.err(sentinel, out))
	}
	return out, nil
}
