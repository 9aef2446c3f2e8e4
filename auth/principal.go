package auth

import (
	"strings"
	"time"
)

// Principal is an authenticated identity.
type Principal struct {
	// ID names the principal (a user, a device, an API key). Empty for an
	// anonymous principal.
	ID string
	// Claims are the authenticator's facts about the principal (JWT claims,
	// authorizer claims, certificate names). Values are JSON-like: string,
	// float64, bool, []any, map[string]any (int from YAML config). They are
	// shared and must not be modified.
	Claims map[string]any
	// Permissions say what the principal may do; nil allows everything
	// outside the reserved subjects (dev mode). Every principal a chain
	// built by New returns has non-nil, fully expanded Permissions.
	Permissions *Permissions
	// ExpiresAt is when the credentials stop being valid (a JWT's exp, a
	// client certificate's NotAfter); the gateway closes the connection
	// then. Zero means never.
	ExpiresAt time.Time
	// Context is what a custom authorizer attached to the principal; the
	// gateway passes it on like the $connect context (Wsgate-Context-<key>
	// headers). Nil for other authenticators. It must not be modified.
	Context map[string]string

	// via and raw are how a chain admitted the principal: the
	// authenticator's type ("anonymous" for an anonymous client) and its
	// answer before default permissions and templates, so that a chain
	// built from a reloaded config can give it its permissions anew
	// (Reauthorize). Both are unset on a principal a chain did not make.
	via string
	raw *Principal
	// keyHash is the hash of the API key that admitted the principal: a
	// reload that keeps the key's id but changes its hash revokes it.
	keyHash string
}

// Anonymous is the principal of dev mode: no identity, every non-reserved
// subject allowed.
var Anonymous = &Principal{}

// Claim returns the string form of a claim, or false when the claim is
// absent or not a scalar. name is a top-level claim name; if there is no
// such claim and name holds dots, it is a path into nested objects:
// "org.id" is Claims["org"]["id"].
func (p *Principal) Claim(name string) (string, bool) {
	if p == nil {
		return "", false
	}
	if v, ok := p.Claims[name]; ok {
		return scalarString(v)
	}
	if !strings.Contains(name, ".") {
		return "", false
	}
	var cur any = p.Claims
	for seg := range strings.SplitSeq(name, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return "", false
		}
		if cur, ok = m[seg]; !ok {
			return "", false
		}
	}
	return scalarString(cur)
}

// clone returns a shallow copy of p: the maps are shared, since nobody
// modifies them.
func (p *Principal) clone() *Principal {
	c := *p
	return &c
}
