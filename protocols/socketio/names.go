package socketio

import (
	"errors"
	"fmt"
	"strings"

	"github.com/wsgate/wsgate/subjects"
)

// ErrInvalidName refuses a namespace, event or room name that has no
// subject: empty, an empty event component, too long. A name is never
// cleaned up into another subject.
var ErrInvalidName = errors.New("socketio: invalid name")

// rootToken is the subject token of the main namespace "/". The namespace
// "/_", which would map to it too, is refused.
const rootToken = "_"

// namespaceToken maps a namespace ("/", "/shop", "/shop/v2") onto one
// subject token: the name without its leading '/', escaped by
// subjects.EscapeToken ('.', '*', '>', white space, '%' and bytes that are
// not printable UTF-8 become %XX), "_" for "/".
func namespaceToken(ns string) (string, error) {
	if len(ns) == 0 || ns[0] != '/' {
		return "", fmt.Errorf("%w: namespace %s does not start with '/'", ErrInvalidName, quote(ns))
	}
	if ns == "/" {
		return rootToken, nil
	}
	if ns == "/"+rootToken {
		return "", fmt.Errorf("%w: namespace %s is the main namespace's subject token", ErrInvalidName, quote(ns))
	}
	tok, err := subjects.EscapeToken(ns[1:])
	if err != nil {
		return "", fmt.Errorf("%w: namespace %s: %w", ErrInvalidName, quote(ns), err)
	}
	return tok, nil
}

// eventSubject maps an event name of a namespace onto the subject its
// emits publish to: prefix, the namespace token, then one token per
// '.'-separated component of the name, each escaped into exactly one
// token ("order.create" in "/shop" is sio.shop.order.create; "a*b" is
// sio._.a%2Ab). An empty component ("a..b", ".a", "a.") is refused.
func eventSubject(prefix, nsTok, event string) (string, error) {
	if event == "" {
		return "", fmt.Errorf("%w: empty event name", ErrInvalidName)
	}
	var b strings.Builder
	b.Grow(len(prefix) + len(nsTok) + len(event) + 2)
	b.WriteString(prefix)
	b.WriteByte('.')
	b.WriteString(nsTok)
	for comp := range strings.SplitSeq(event, ".") {
		tok, err := subjects.EscapeToken(comp)
		if err != nil {
			return "", fmt.Errorf("%w: event %s: %w", ErrInvalidName, quote(event), err)
		}
		b.WriteByte('.')
		b.WriteString(tok)
		if b.Len() > subjects.MaxSubjectLen {
			return "", fmt.Errorf("%w: event %s: subject longer than %d bytes", ErrInvalidName, quote(event), subjects.MaxSubjectLen)
		}
	}
	s := b.String()
	if err := subjects.ValidateSubject(s); err != nil {
		return "", fmt.Errorf("%w: event %s: %w", ErrInvalidName, quote(event), err)
	}
	return s, nil
}

// roomSubject maps a room of a namespace onto its subject: the room
// prefix, the namespace token and the room name escaped into one token
// ("r1" in "/shop" is sio-room.shop.r1; "a.b" is sio-room.shop.a%2Eb).
func roomSubject(prefix, nsTok, room string) (string, error) {
	tok, err := subjects.EscapeToken(room)
	if err != nil {
		return "", fmt.Errorf("%w: room %s: %w", ErrInvalidName, quote(room), err)
	}
	s := prefix + "." + nsTok + "." + tok
	if err := subjects.ValidateSubject(s); err != nil {
		return "", fmt.Errorf("%w: room %s: %w", ErrInvalidName, quote(room), err)
	}
	return s, nil
}

// namespaceSubject is the subject of everyone connected to a namespace:
// the room prefix and the namespace token.
func namespaceSubject(prefix, nsTok string) string { return prefix + "." + nsTok }

// quote quotes a name for an error message, cut short.
func quote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return fmt.Sprintf("%q", s)
}
