package wamp

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/wsgate/wsgate/bridge"
)

// Subscriber black- and whitelisting [WAMP "Subscriber Black- and
// Whitelisting"]: a PUBLISH may name the sessions that receive its event
// (eligible, eligible_authid, eligible_authrole) and those that do not
// (exclude, exclude_authid, exclude_authrole). The lists travel with the
// NATS message as headers, one value per entry, so that every gateway
// honours them for its own WAMP subscribers, and a worker may set them on
// what it publishes. A subscriber receives the event only when it is in
// every eligible list given and in no exclude list. The lists name WAMP
// sessions: NATS workers and the other protocols' subscribers receive
// every publication.
const (
	HeaderEligible         = "Wamp-Eligible"
	HeaderEligibleAuthid   = "Wamp-Eligible-Authid"
	HeaderEligibleAuthrole = "Wamp-Eligible-Authrole"
	HeaderExclude          = "Wamp-Exclude"
	HeaderExcludeAuthid    = "Wamp-Exclude-Authid"
	HeaderExcludeAuthrole  = "Wamp-Exclude-Authrole"
)

// maxFilterEntries bounds each list of a PUBLISH: more is
// wamp.error.invalid_argument.
const maxFilterEntries = 1024

// filterOptions maps a PUBLISH option to its header and whether its
// entries are session ids (else strings).
var filterOptions = []struct {
	option, header string
	ids            bool
}{
	{"eligible", HeaderEligible, true},
	{"eligible_authid", HeaderEligibleAuthid, false},
	{"eligible_authrole", HeaderEligibleAuthrole, false},
	{"exclude", HeaderExclude, true},
	{"exclude_authid", HeaderExcludeAuthid, false},
	{"exclude_authrole", HeaderExcludeAuthrole, false},
}

// noSession is a session id no session has: an eligible list that is
// given but empty becomes it, since NATS cannot carry a header without a
// value, and nobody is eligible.
const noSession = "0"

// addFilter puts the black- and whitelists of a PUBLISH's options in hdr,
// or fails with errInvalidArgument when one is not a list of the right
// type or is too long.
func addFilter(hdr bridge.Header, options Dict) error {
	for _, f := range filterOptions {
		v, ok := options[f.option]
		if !ok || v == nil {
			continue
		}
		l, ok := v.([]any)
		if !ok {
			return fmt.Errorf("%w: %s is not a list", errInvalidArgument, f.option)
		}
		if len(l) > maxFilterEntries {
			return fmt.Errorf("%w: %s has more than %d entries", errInvalidArgument, f.option, maxFilterEntries)
		}
		values := make([]string, 0, len(l))
		for _, e := range l {
			if f.ids {
				id, ok := asID(e)
				if !ok {
					return fmt.Errorf("%w: %s holds something that is not a session id", errInvalidArgument, f.option)
				}
				values = append(values, strconv.FormatUint(id, 10))
				continue
			}
			s, ok := e.(string)
			if !ok || !validHeaderValue(s) {
				return fmt.Errorf("%w: %s holds something that is not a name", errInvalidArgument, f.option)
			}
			values = append(values, s)
		}
		if len(values) == 0 {
			if strings.HasPrefix(f.option, "eligible") {
				hdr[HeaderEligible] = []string{noSession}
			}
			continue // an empty exclude list excludes nobody
		}
		hdr[f.header] = append(hdr[f.header], values...)
	}
	return nil
}

// validHeaderValue reports whether s can travel as a NATS header value:
// not empty, no CR, LF or NUL, and no leading or trailing space, which
// header parsing would drop.
func validHeaderValue(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\r', '\n', 0:
			return false
		}
	}
	return s[0] != ' ' && s[0] != '\t' && s[len(s)-1] != ' ' && s[len(s)-1] != '\t'
}

// admits reports whether an event with headers h may go to this session:
// it is in every eligible list and in no exclude list. It runs on a hub
// dispatcher for every delivery, so it looks the headers up directly.
func (c *conn) admits(h bridge.Header) bool {
	if l := h[HeaderEligible]; l != nil && !slices.Contains(l, c.sessionText) {
		return false
	}
	if l := h[HeaderEligibleAuthid]; l != nil && !slices.Contains(l, c.authid) {
		return false
	}
	if l := h[HeaderEligibleAuthrole]; l != nil && !slices.Contains(l, c.authrole) {
		return false
	}
	if l := h[HeaderExclude]; l != nil && slices.Contains(l, c.sessionText) {
		return false
	}
	if l := h[HeaderExcludeAuthid]; l != nil && slices.Contains(l, c.authid) {
		return false
	}
	if l := h[HeaderExcludeAuthrole]; l != nil && slices.Contains(l, c.authrole) {
		return false
	}
	return true
}

// filterMemo is the Delivery cache key under which whether a message has
// any black- or whitelist is kept (withFilter or withoutFilter, markers
// that are never sent): the headers are looked at once per message, not
// once per subscriber.
var (
	filterMemo    = new(byte)
	withFilter    = new(bridge.Frame)
	withoutFilter = new(bridge.Frame)
)

// filtered reports whether d's message has a black- or whitelist.
func filtered(d *bridge.Delivery) bool {
	f, ok := d.Cached(filterMemo)
	if !ok {
		f = withoutFilter
		for _, o := range filterOptions {
			if d.Msg.Header[o.header] != nil {
				f = withFilter
				break
			}
		}
		d.Keep(filterMemo, f)
	}
	return f == withFilter
}
