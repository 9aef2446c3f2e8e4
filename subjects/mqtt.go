package subjects

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// MQTT topic mapping errors. Each also wraps ErrInvalidSubject (topics) or
// ErrInvalidPattern (filters).
var (
	// ErrMQTTWildcard reports '+' or '#' in a topic name [MQTT-3.3.2-2], or
	// a wildcard that is not a whole level in a filter [MQTT-4.7.1-2/3].
	ErrMQTTWildcard = errors.New("subjects: misplaced MQTT wildcard")
	// ErrMQTTCharacter reports a character that cannot be mapped: NUL,
	// space, \t \n \r \f, DEL (as nats-server), and '*' or '>' which would
	// become NATS wildcards.
	ErrMQTTCharacter = errors.New("subjects: unsupported character in MQTT topic")
)

// MQTTTopicToSubject maps an MQTT topic name to the NATS subject nats-server
// uses for it (docs.nats.io, "MQTT: topics and subjects", PR #4243):
//
//	'/' between levels  → '.'
//	leading '/'         → "/."
//	trailing '/'        → "./"
//	empty level         → "/"  ("a//b" → "a./.b")
//	literal '.'         → "//"
//
// A topic holding '+' or '#', NUL, space or another control character,
// '*' or '>', or invalid UTF-8 is refused, as is one whose subject would be
// longer than MaxSubjectLen. The result is a valid subject.
func MQTTTopicToSubject(topic string) (string, error) {
	s, err := mqttMap(topic, false)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrInvalidSubject, err)
	}
	if err := ValidateSubject(s); err != nil {
		return "", err
	}
	return s, nil
}

// MQTTFilterToPatterns maps an MQTT topic filter to the NATS patterns that
// together match the same topics: '+' → '*', '#' → '>'. A filter ending in
// "/#" also matches its parent level [MQTT-4.7.1-2], so "a/#" returns
// "a.>" and "a"; every other filter returns one pattern. '+' and '#' must be
// whole levels and '#' the last one; the rest is as MQTTTopicToSubject.
func MQTTFilterToPatterns(filter string) ([]string, error) {
	p, err := mqttMap(filter, true)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidPattern, err)
	}
	if err := ValidatePattern(p); err != nil {
		return nil, err
	}
	if parent, ok := strings.CutSuffix(p, ".>"); ok {
		return []string{p, parent}, nil
	}
	return []string{p}, nil
}

// MQTTSubjectToTopic maps a NATS subject back to an MQTT topic name: '.' →
// '/', a "/" token → an empty level, "//" → '.'. It inverts
// MQTTTopicToSubject. A subject it did not make (a NATS publisher's
// "a/b.c") maps to the topic nats-server would show ("a/b/c").
func MQTTSubjectToTopic(subject string) string {
	if !strings.ContainsRune(subject, '/') {
		return strings.ReplaceAll(subject, ".", "/")
	}
	var b strings.Builder
	b.Grow(len(subject))
	for i, tok := range strings.Split(subject, ".") {
		if i > 0 {
			b.WriteByte('/')
		}
		if tok == "/" {
			continue
		}
		b.WriteString(strings.ReplaceAll(tok, "//", "."))
	}
	return b.String()
}

// mqttMap converts topic (filter true: a filter) level by level.
func mqttMap(topic string, filter bool) (string, error) {
	if topic == "" {
		return "", errors.New("empty topic") // [MQTT-4.7.3-1]
	}
	if !utf8.ValidString(topic) {
		return "", errors.New("invalid UTF-8") // [MQTT-1.5.3-1]
	}
	var b strings.Builder
	b.Grow(len(topic) + 8)
	for i, rest, more := 0, topic, true; more; i++ {
		var l string
		l, rest, more = strings.Cut(rest, "/")
		if i > 0 {
			b.WriteByte('.')
		}
		switch {
		case l == "":
			b.WriteByte('/')
			continue
		case filter && l == "+":
			b.WriteByte('*')
			continue
		case filter && l == "#":
			if more {
				return "", fmt.Errorf("%w: '#' is not the last level", ErrMQTTWildcard)
			}
			b.WriteByte('>')
			continue
		}
		for j := 0; j < len(l); j++ {
			switch c := l[j]; c {
			case '+', '#':
				if filter {
					return "", fmt.Errorf("%w: %q is not a whole level", ErrMQTTWildcard, c)
				}
				return "", fmt.Errorf("%w: %q in a topic name", ErrMQTTWildcard, c)
			case 0, ' ', '\t', '\n', '\r', '\f', '\v', 0x7f, '*', '>':
				return "", fmt.Errorf("%w: %q", ErrMQTTCharacter, c)
			case '.':
				b.WriteString("//")
			default:
				b.WriteByte(c)
			}
		}
	}
	return b.String(), nil
}
