package wamp

import (
	"errors"
	"fmt"
	"strings"

	"github.com/wsgate/wsgate/subjects"
)

// errInvalidURI is a URI that cannot be a subject: answered with
// wamp.error.invalid_uri, never escaped into another subject.
var errInvalidURI = errors.New("wamp: invalid URI")

// Match policies of SUBSCRIBE and REGISTER [WAMP "Pattern-based
// Subscription"].
const (
	matchExact    = "exact"
	matchPrefix   = "prefix"
	matchWildcard = "wildcard"
)

// A URI is a subject: its components are the subject's tokens [WAMP
// "URIs"]. On top of WAMP's loose rules (no empty component, no white
// space, no '#'), every component must be a valid subject token (valid
// UTF-8, no '*' or '>', no control character): a URI that is not is
// refused, so that a URI can never name more than one subject. A realm may
// put a subject prefix of its own in front.

// checkURI reports whether uri is a valid concrete URI (no empty
// component), as a subject.
func checkURI(uri string) error {
	if strings.ContainsRune(uri, '#') {
		return fmt.Errorf("%w %.64q: '#' is not allowed", errInvalidURI, uri)
	}
	if err := subjects.ValidateSubject(uri); err != nil {
		return fmt.Errorf("%w: %w", errInvalidURI, err)
	}
	return nil
}

// withPrefix puts a realm's subject prefix in front of s.
func withPrefix(prefix, s string) string {
	if prefix == "" {
		return s
	}
	return prefix + "." + s
}

// uriSubject is the subject of a concrete URI (PUBLISH, CALL, REGISTER)
// in a realm with the given subject prefix.
func uriSubject(prefix, uri string) (string, error) {
	if err := checkURI(uri); err != nil {
		return "", err
	}
	s := withPrefix(prefix, uri)
	if err := subjects.ValidateSubject(s); err != nil {
		return "", fmt.Errorf("%w: %w", errInvalidURI, err)
	}
	return s, nil
}

// topicPatterns are the subject patterns a SUBSCRIBE with a match policy
// needs: exact a.b is a.b; prefix a.b is a.b and a.b.> (component-wise:
// a.bc does not match, unlike WAMP's character-wise prefix); wildcard a..c
// is a.*.c, each empty component a '*'.
func topicPatterns(prefix, uri, match string) ([]string, error) {
	switch match {
	case "", matchExact:
		s, err := uriSubject(prefix, uri)
		if err != nil {
			return nil, err
		}
		return []string{s}, nil
	case matchPrefix:
		s, err := uriSubject(prefix, uri)
		if err != nil {
			return nil, err
		}
		return []string{s, s + ".>"}, nil
	case matchWildcard:
		if uri == "" {
			return nil, fmt.Errorf("%w: empty", errInvalidURI)
		}
		parts := strings.Split(uri, ".")
		for i, p := range parts {
			if p == "" {
				parts[i] = "*"
				continue
			}
			if err := checkURI(p); err != nil {
				return nil, err
			}
		}
		s := withPrefix(prefix, strings.Join(parts, "."))
		if err := subjects.ValidatePattern(s); err != nil {
			return nil, fmt.Errorf("%w: %w", errInvalidURI, err)
		}
		return []string{s}, nil
	}
	return nil, fmt.Errorf("%w: match policy %.32q", errInvalidArgument, match)
}

// errInvalidArgument is an option the router does not understand:
// answered with wamp.error.invalid_argument.
var errInvalidArgument = errors.New("wamp: invalid argument")

// subjectURI is the URI of a subject delivered in a realm with the given
// prefix (the prefix and its dot removed).
func subjectURI(prefix, subject string) string {
	if prefix == "" {
		return subject
	}
	return strings.TrimPrefix(subject, prefix+".")
}

// checkRealm reports whether a HELLO's realm is a valid URI.
func checkRealm(realm string) error {
	return checkURI(realm)
}
