package auth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
)

// chain is the Authenticator New builds: the configured authenticators in
// order, the anonymous rule, and the one place where default permissions
// are applied and permission templates are filled in.
type chain struct {
	links     []link
	anonymous *Permissions // nil: no anonymous clients
	defaults  *Permissions // nil: nothing allowed
	log       *slog.Logger
}

// link is one authenticator of a chain.
type link struct {
	typ string // its config type, for errors and logs
	a   Authenticator
}

var (
	_ Authenticator = (*chain)(nil)
	_ io.Closer     = (*chain)(nil)
)

// Authenticate asks each authenticator in turn. The first one that does not
// answer ErrNoCredentials decides. If all do, a client that presented no
// credentials of its own is admitted as anonymous when the config allows it;
// any other client is refused.
//
// The principal returned always has non-nil Permissions with every template
// filled in; a deny template that cannot be filled in refuses the client.
func (c *chain) Authenticate(ctx context.Context, cr *Credentials) (*Principal, error) {
	if cr == nil {
		cr = &Credentials{}
	}
	for _, l := range c.links {
		if _, holds := l.a.(CRAKeyring); cr.CRA != nil && !holds {
			continue // a WAMP-CRA answer is only for those holding its key
		}
		p, err := l.a.Authenticate(ctx, cr)
		switch {
		case errors.Is(err, ErrNoCredentials):
			continue
		case err != nil:
			return nil, fmt.Errorf("%s: %w", l.typ, err)
		case p == nil:
			return nil, fmt.Errorf("%s: %w: no principal", l.typ, ErrDenied)
		}
		return c.finish(l.typ, p)
	}
	if cr.presented() {
		return nil, fmt.Errorf("%w: no authenticator recognised the credentials", ErrDenied)
	}
	if c.anonymous == nil {
		return nil, fmt.Errorf("%w: and anonymous clients are not allowed", ErrNoCredentials)
	}
	return c.finish("anonymous", &Principal{Permissions: c.anonymous})
}

// finish gives p its final permissions: its own or the defaults, with every
// template filled in for p. p itself is not modified.
func (c *chain) finish(typ string, p *Principal) (*Principal, error) {
	out := p.clone()
	out.via, out.raw = typ, p
	perms := p.Permissions
	if perms == nil {
		perms = c.defaults
	}
	if perms == nil {
		out.Permissions = &Permissions{}
		return out, nil
	}
	x, dropped, err := perms.expand(p)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: principal %q: permissions.%w", typ, ErrDenied, p.ID, err)
	}
	if len(dropped) > 0 {
		c.log.Debug("permission templates dropped", "authenticator", typ, "principal", p.ID, "patterns", dropped)
	}
	out.Permissions = x
	return out, nil
}

// Close releases what the authenticators hold (JWKS refreshes). It is safe
// to call more than once.
func (c *chain) Close() error {
	var errs []error
	for _, l := range c.links {
		if cl, ok := l.a.(io.Closer); ok {
			errs = append(errs, cl.Close())
		}
	}
	return errors.Join(errs...)
}
