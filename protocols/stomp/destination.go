package stomp

import (
	"errors"
	"fmt"
	"strings"

	"github.com/wsgate/wsgate/subjects"
)

// Destination prefixes.
const (
	prefixTopic     = "/topic/"
	prefixQueue     = "/queue/"
	prefixTempQueue = "/temp-queue/"
	prefixUser      = "/user/"
)

// destKind says what a destination is.
type destKind uint8

const (
	destBare  destKind = iota + 1 // a.b: publish-subscribe on a.b
	destTopic                     // /topic/a.b: the same
	destQueue                     // /queue/a.b: a.b in the queue group a.b
	destTemp                      // /temp-queue/x: a private reply destination
	destUser                      // /user/x: where workers' pushes to this connection arrive
)

// destination is a parsed STOMP destination.
type destination struct {
	kind    destKind
	subject string // the NATS subject or pattern; the name for destTemp and destUser
}

// errDestination wraps every destination refusal.
var errDestination = errors.New("stomp: invalid destination")

// parseDestination maps a STOMP destination onto NATS. pattern allows the
// wildcards * and > (SUBSCRIBE to /topic/ and bare destinations). A name
// that is not a valid subject is refused, never cleaned up.
func parseDestination(d string, pattern bool) (destination, error) {
	var dst destination
	var name string
	switch {
	case strings.HasPrefix(d, prefixTopic):
		dst.kind, name = destTopic, d[len(prefixTopic):]
	case strings.HasPrefix(d, prefixQueue):
		// A queue's name is also its queue group, which NATS wants literal.
		dst.kind, name, pattern = destQueue, d[len(prefixQueue):], false
	case strings.HasPrefix(d, prefixTempQueue):
		dst.kind, name, pattern = destTemp, d[len(prefixTempQueue):], false
	case strings.HasPrefix(d, prefixUser):
		dst.kind, name, pattern = destUser, d[len(prefixUser):], false
	case strings.HasPrefix(d, "/"):
		return dst, fmt.Errorf("%w %q: use /topic/, /queue/, /temp-queue/, /user/ or a bare subject", errDestination, short(d))
	default:
		dst.kind, name = destBare, d
	}
	var err error
	if pattern {
		err = subjects.ValidatePattern(name)
	} else {
		err = subjects.ValidateSubject(name)
	}
	if err != nil {
		return dst, fmt.Errorf("%w %q: %w", errDestination, short(d), err)
	}
	dst.subject = name
	return dst, nil
}

// name is the destination a MESSAGE carries for a message on subject that
// reached a subscription to dst.
func (dst destination) name(subject string) string {
	switch dst.kind {
	case destTopic:
		return prefixTopic + subject
	case destQueue:
		return prefixQueue + subject
	case destTemp:
		return prefixTempQueue + dst.subject
	case destUser:
		return prefixUser + dst.subject
	}
	return subject
}

// short cuts a client's name for an error message.
func short(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
