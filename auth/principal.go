package auth

import (
	"github.com/wsgate/wsgate/subjects"
)

// Principal is an authenticated identity.
type Principal struct {
	// ID names the principal (a user, a device, an API key). Empty for an
	// anonymous principal.
	ID string
	// Claims are the authenticator's facts about the principal (JWT claims,
	// authorizer context). Values are JSON-like: string, float64, bool,
	// []any, map[string]any.
	Claims map[string]any
	// Permissions say what the principal may do; nil allows everything
	// outside the reserved subjects (dev mode).
	Permissions *Permissions
}

// Anonymous is the principal of dev mode: no identity, every non-reserved
// subject allowed.
var Anonymous = &Principal{}

// Claim returns the string form of a top-level claim, or false when the
// claim is absent or not a scalar.
func (p *Principal) Claim(name string) (string, bool) {
	if p == nil {
		return "", false
	}
	return scalarString(p.Claims[name])
}

// Permissions are allow and deny lists of subject patterns, for publishing
// (which includes requests) and for subscribing. Deny wins over allow. An
// empty allow list allows nothing; a nil *Permissions allows everything.
type Permissions struct {
	Publish   Rules `yaml:"publish" json:"publish"`
	Subscribe Rules `yaml:"subscribe" json:"subscribe"`
}

// Rules are the allow and deny patterns for one direction.
type Rules struct {
	Allow []string `yaml:"allow" json:"allow"`
	Deny  []string `yaml:"deny" json:"deny"`
}

// CanPublish reports whether subject, a literal subject, may be published to.
func (p *Permissions) CanPublish(subject string) bool {
	if p == nil {
		return true
	}
	return p.Publish.permits(subject)
}

// CanSubscribe reports whether pattern may be subscribed to: every subject it
// can match must be allowed and none of them denied, so a wide pattern cannot
// slip past a narrow allow.
func (p *Permissions) CanSubscribe(pattern string) bool {
	if p == nil {
		return true
	}
	return p.Subscribe.permits(pattern)
}

// permits reports whether everything pattern can match is allowed and nothing
// it can match is denied.
func (r Rules) permits(pattern string) bool {
	for _, d := range r.Deny {
		if subjects.Intersects(d, pattern) {
			return false
		}
	}
	for _, a := range r.Allow {
		if subjects.Covers(a, pattern) {
			return true
		}
	}
	return false
}
