package bridge

import (
	"errors"

	"github.com/wsgate/wsgate/auth"
	"github.com/wsgate/wsgate/subjects"
)

// ErrorKind classifies the errors of the Session API. Each protocol maps
// the few kinds onto its own error codes (a JSON error code, a STOMP ERROR
// message, an MQTT reason code, a WAMP error URI) in one switch, instead of
// testing every sentinel itself, and a new sentinel is classified here once.
type ErrorKind int

// The kinds, from KindOf.
const (
	// KindFailed is anything unclassified: an internal or transport failure.
	KindFailed ErrorKind = iota
	// KindForbidden: the principal may not (ErrForbidden), or the subject is
	// the gateway's or NATS's own (ErrReserved).
	KindForbidden
	// KindInvalidName: not a valid subject or pattern.
	KindInvalidName
	// KindLimit: a limit of the connection (ErrLimit, ErrTooManyRequests).
	KindLimit
	// KindTimeout: a request got no reply in time (ErrTimeout).
	KindTimeout
	// KindNoResponders: nobody listens on the subject (ErrNoResponders).
	KindNoResponders
	// KindClosed: the connection is ending (ErrClosed, ErrSlowConsumer).
	KindClosed
	// KindNotSubscribed: an unsubscribe of nothing (ErrNotSubscribed).
	KindNotSubscribed
	// KindUnauthenticated: credentials refused or missing.
	KindUnauthenticated
)

// KindOf classifies err; nil is KindFailed too, so check err first.
func KindOf(err error) ErrorKind {
	switch {
	case errors.Is(err, ErrForbidden), errors.Is(err, ErrReserved):
		return KindForbidden
	case errors.Is(err, subjects.ErrInvalidSubject), errors.Is(err, subjects.ErrInvalidPattern):
		return KindInvalidName
	case errors.Is(err, ErrLimit):
		return KindLimit
	case errors.Is(err, ErrTimeout):
		return KindTimeout
	case errors.Is(err, ErrNoResponders):
		return KindNoResponders
	case errors.Is(err, ErrClosed), errors.Is(err, ErrSlowConsumer):
		return KindClosed
	case errors.Is(err, ErrNotSubscribed):
		return KindNotSubscribed
	case errors.Is(err, auth.ErrDenied), errors.Is(err, auth.ErrNoCredentials):
		return KindUnauthenticated
	}
	return KindFailed
}

var kindNames = [...]string{
	KindFailed:          "failed",
	KindForbidden:       "forbidden",
	KindInvalidName:     "invalid_name",
	KindLimit:           "limit",
	KindTimeout:         "timeout",
	KindNoResponders:    "no_responders",
	KindClosed:          "closed",
	KindNotSubscribed:   "not_subscribed",
	KindUnauthenticated: "unauthenticated",
}

// String is the kind's snake_case name, fit for a metrics label.
func (k ErrorKind) String() string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "failed"
}
