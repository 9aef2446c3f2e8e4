package subjects

import "strings"

// The reserved subject space is where clients may never publish or
// subscribe: the gateway's own subjects under its prefix, the NATS system
// and JetStream subjects ("$SYS", "$JS", "$KV", "$O", "$MQTT", every first
// token starting with '$') and reply inboxes ("_INBOX").

// IsReserved reports whether subjectOrPattern lies entirely within the
// reserved space: a literal subject in it, or a pattern all of whose subjects
// are in it ("wsgate.>", "$JS.API.>", "_INBOX.*"). The gateway uses it to
// refuse a publish or subscribe.
//
// prefix is the gateway's first token, such as "wsgate". A trailing '.' is
// ignored and a prefix of several tokens ("acme.wsgate") is honoured; an
// empty prefix reserves only the '$' and "_INBOX" subjects.
//
// An invalid subject or pattern is reported as reserved, so a caller that
// forgot to validate still refuses it.
func IsReserved(subjectOrPattern, prefix string) bool {
	s := subjectOrPattern
	if !validPattern(s) {
		return true
	}
	if first, _, _ := strings.Cut(s, "."); isSystemToken(first) {
		return true
	}
	prefix = strings.TrimSuffix(prefix, ".")
	if prefix == "" {
		return false
	}
	for {
		pt, prest, pmore := strings.Cut(prefix, ".")
		st, srest, smore := strings.Cut(s, ".")
		switch {
		case st != pt:
			return false // a wildcard here reaches outside the prefix
		case !pmore:
			return true
		case !smore:
			return false
		}
		prefix, s = prest, srest
	}
}

// TouchesReserved reports whether pattern could match any reserved subject:
// ">", "*.conn.>", "*" (which matches the one-token subject "_INBOX"),
// "wsgate.>" or "$JS.>" do; "chat.>" does not. The gateway uses it to decide
// that a wide subscription must have reserved subjects filtered out of each
// delivery. prefix is as for IsReserved.
//
// An invalid pattern is reported as touching, so the caller filters.
func TouchesReserved(pattern, prefix string) bool {
	if !validPattern(pattern) {
		return true
	}
	if first, _, _ := strings.Cut(pattern, "."); first == "*" || first == ">" || isSystemToken(first) {
		return true
	}
	prefix = strings.TrimSuffix(prefix, ".")
	if prefix == "" {
		return false
	}
	for {
		pt, prest, pmore := strings.Cut(prefix, ".")
		st, srest, smore := strings.Cut(pattern, ".")
		switch {
		case st == ">":
			return true
		case st != "*" && st != pt:
			return false
		case !pmore:
			return true
		case !smore:
			return false
		}
		prefix, pattern = prest, srest
	}
}

// isSystemToken reports whether a literal first token is reserved whatever
// the gateway's prefix.
func isSystemToken(first string) bool {
	return first == "_INBOX" || strings.HasPrefix(first, "$")
}
