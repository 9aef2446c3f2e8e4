package auth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/wsgate/wsgate/subjects"
)

// Permissions are allow and deny lists of subject patterns, for publishing
// (which includes requests) and for subscribing. Deny wins over allow. An
// empty allow list allows nothing; a nil *Permissions allows everything.
//
// An entry may be a template holding placeholders from the principal:
// "devices.{claims.sub}.>", "users.{principal}.inbox",
// "tenants.{context.tenant}.>". A chain fills them in once, when the
// principal is authenticated, each value escaped into exactly one token
// (subjects.Template.Expand), so a claim of "42.>" yields "devices.42%2E%3E.>"
// and never widens the pattern. An allow entry that cannot be filled in
// for a principal (a missing, empty or non-scalar claim) is dropped; a deny
// entry that cannot is a reason to refuse the principal: deny fails closed.
//
// Placeholders: {principal} is Principal.ID; {claims.<name>} is
// Principal.Claim(name); {context.<key>} is the authorizer's
// Principal.Context[key]. Braces always start a placeholder, so a literal
// '{' or '}' cannot appear in a permission subject.
type Permissions struct {
	Publish   Rules `yaml:"publish" json:"publish"`
	Subscribe Rules `yaml:"subscribe" json:"subscribe"`
}

// Rules are the allow and deny patterns for one direction.
type Rules struct {
	Allow []string `yaml:"allow" json:"allow"`
	Deny  []string `yaml:"deny" json:"deny"`
}

// MaxRules is the most entries one allow or deny list may hold. Every
// publish and subscribe is checked against the lists, so a token or an
// authorizer answer with more is refused rather than slowing its session.
const MaxRules = 1000

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

// UnmarshalJSON decodes permissions strictly: an unknown key (a misspelt
// "deny" would silently deny nothing) and trailing data are errors, and so
// is a list longer than MaxRules. Tokens and authorizer answers carry
// permissions as JSON.
func (p *Permissions) UnmarshalJSON(b []byte) error {
	type plain Permissions // no methods: no recursion
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var v plain
	if err := dec.Decode(&v); err != nil {
		return fmt.Errorf("permissions: %w", err)
	}
	if dec.More() {
		return errors.New("permissions: trailing data")
	}
	for _, l := range []struct {
		name string
		n    int
	}{
		{"publish.allow", len(v.Publish.Allow)}, {"publish.deny", len(v.Publish.Deny)},
		{"subscribe.allow", len(v.Subscribe.Allow)}, {"subscribe.deny", len(v.Subscribe.Deny)},
	} {
		if l.n > MaxRules {
			return fmt.Errorf("permissions: %s has %d entries, max %d", l.name, l.n, MaxRules)
		}
	}
	*p = Permissions(v)
	return nil
}

// clone returns a deep copy of p; nil stays nil.
func (p *Permissions) clone() *Permissions {
	if p == nil {
		return nil
	}
	cp := func(r Rules) Rules {
		return Rules{Allow: append([]string(nil), r.Allow...), Deny: append([]string(nil), r.Deny...)}
	}
	return &Permissions{Publish: cp(p.Publish), Subscribe: cp(p.Subscribe)}
}

// placeholders say which template names a permission entry may use.
type placeholders uint8

const (
	// noPlaceholders: literal patterns only (the anonymous principal has
	// no ID, claims or context).
	noPlaceholders placeholders = iota
	// principalPlaceholders: principal, claims.<name>, context.<key>.
	principalPlaceholders
)

// validate reports every entry of p that is not a valid pattern or pattern
// template, each error naming its key under prefix (such as
// "auth.default_permissions").
func (p *Permissions) validate(prefix string, ph placeholders) []error {
	if p == nil {
		return nil
	}
	var errs []error
	for _, l := range []struct {
		key  string
		list []string
	}{
		{"publish.allow", p.Publish.Allow}, {"publish.deny", p.Publish.Deny},
		{"subscribe.allow", p.Subscribe.Allow}, {"subscribe.deny", p.Subscribe.Deny},
	} {
		if len(l.list) > MaxRules {
			errs = append(errs, fmt.Errorf("%s.%s: %d entries, max %d", prefix, l.key, len(l.list), MaxRules))
			continue
		}
		for i, s := range l.list {
			if err := validateRule(s, ph); err != nil {
				errs = append(errs, fmt.Errorf("%s.%s[%d]: %w", prefix, l.key, i, err))
			}
		}
	}
	return errs
}

// validateRule checks one permission entry.
func validateRule(s string, ph placeholders) error {
	t, err := parseRule(s)
	if err != nil || t == nil {
		return err
	}
	for _, name := range t.Vars() {
		if ph == noPlaceholders {
			return fmt.Errorf("placeholder {%s}: an anonymous principal has no id, claims or context", name)
		}
		if !knownPlaceholder(name) {
			return fmt.Errorf("placeholder {%s}: not one of {principal}, {claims.<name>}, {context.<key>}", name)
		}
	}
	return nil
}

// knownPlaceholder reports whether a permission template may use name.
func knownPlaceholder(name string) bool {
	return name == "principal" ||
		strings.HasPrefix(name, "claims.") ||
		strings.HasPrefix(name, "context.")
}

// parseRule parses a permission entry: a template if it holds a brace,
// else a plain pattern (returned as a nil template).
func parseRule(s string) (*subjects.Template, error) {
	if !strings.ContainsAny(s, "{}") {
		return nil, subjects.ValidatePattern(s)
	}
	return subjects.ParseTemplate(s)
}

// lookup returns the value of a permission placeholder for p.
func (p *Principal) lookup(name string) (string, bool) {
	switch {
	case name == "principal":
		return p.ID, p.ID != ""
	case strings.HasPrefix(name, "claims."):
		return p.Claim(name[len("claims."):])
	case strings.HasPrefix(name, "context."):
		v, ok := p.Context[name[len("context."):]]
		return v, ok
	}
	return "", false
}

// expand returns the permissions of p for principal pr: every template
// filled in and every entry validated. An allow entry that cannot be
// filled in or is invalid is dropped and returned in dropped; a deny entry
// that cannot is an error, and the principal must be refused.
func (p *Permissions) expand(pr *Principal) (out *Permissions, dropped []string, err error) {
	out = &Permissions{}
	var d1, d2 []string
	if out.Publish, d1, err = p.Publish.expand(pr); err != nil {
		return nil, nil, fmt.Errorf("publish.%w", err)
	}
	if out.Subscribe, d2, err = p.Subscribe.expand(pr); err != nil {
		return nil, nil, fmt.Errorf("subscribe.%w", err)
	}
	return out, append(d1, d2...), nil
}

// expand is Permissions.expand for one direction.
func (r Rules) expand(pr *Principal) (out Rules, dropped []string, err error) {
	if len(r.Allow) > MaxRules || len(r.Deny) > MaxRules {
		return Rules{}, nil, fmt.Errorf("allow/deny: more than %d entries", MaxRules)
	}
	for i, s := range r.Deny {
		x, err := expandRule(s, pr)
		if err != nil {
			return Rules{}, nil, fmt.Errorf("deny[%d]: %w", i, err)
		}
		out.Deny = append(out.Deny, x)
	}
	for _, s := range r.Allow {
		x, err := expandRule(s, pr)
		if err != nil {
			dropped = append(dropped, s)
			continue
		}
		out.Allow = append(out.Allow, x)
	}
	return out, dropped, nil
}

// expandRule fills in one entry and checks that the result is a valid
// pattern.
func expandRule(s string, pr *Principal) (string, error) {
	t, err := parseRule(s)
	if err != nil {
		return "", err
	}
	if t == nil {
		return s, nil
	}
	for _, name := range t.Vars() {
		if !knownPlaceholder(name) {
			return "", fmt.Errorf("placeholder {%s}: unknown", name)
		}
	}
	x, err := t.Expand(pr.lookup)
	if err != nil {
		return "", err
	}
	// Expand validates its result; this is the last line of defence.
	if err := subjects.ValidatePattern(x); err != nil {
		return "", err
	}
	return x, nil
}
