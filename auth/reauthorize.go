package auth

import (
	"errors"
	"fmt"
)

// ErrRevoked is returned (wrapped) by Reauthorize when the config no longer
// admits a principal at all: its API key is gone, or anonymous clients are
// no longer allowed.
var ErrRevoked = errors.New("auth: credentials revoked")

// Reauthorize gives p, a principal an earlier chain admitted, the
// permissions a reloaded chain a gives it, without asking the client for
// its credentials again:
//
//   - an API key's principal gets the key's new permissions and claims, or
//     ErrRevoked if no key has its id any more or the key with its id has
//     another hash;
//   - an anonymous principal gets the new anonymous permissions, or
//     ErrRevoked if anonymous clients are no longer admitted;
//   - any other principal (JWT, authorizer, client certificate) keeps what
//     its authenticator said and gets the new default permissions if it
//     had none of its own.
//
// A principal that no chain made (dev mode, or a connection still to
// authenticate in band), or an a that is no chain, is returned as it is.
func Reauthorize(a Authenticator, p *Principal) (*Principal, error) {
	c, ok := a.(*chain)
	if !ok || p == nil || p.raw == nil {
		return p, nil
	}
	switch p.via {
	case "anonymous":
		if c.anonymous == nil {
			return nil, fmt.Errorf("%w: anonymous clients are no longer allowed", ErrRevoked)
		}
		return c.finish("anonymous", &Principal{Permissions: c.anonymous})
	case TypeAPIKeys:
		for _, l := range c.links {
			if ak, ok := l.a.(*apiKeys); ok {
				i, ok := ak.byID[p.ID]
				switch {
				case !ok:
					continue
				case ak.keys[i].p.keyHash != p.keyHash:
					return nil, fmt.Errorf("%w: api key %q was replaced by another key", ErrRevoked, p.ID)
				}
				return c.finish(TypeAPIKeys, ak.keys[i].p)
			}
		}
		return nil, fmt.Errorf("%w: api key %q is no longer configured", ErrRevoked, p.ID)
	}
	return c.finish(p.via, p.raw)
}
