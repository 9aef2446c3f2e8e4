package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"
)

// Config is the auth: block of the gateway config. Its zero value is dev
// mode (see Enabled).
//
//	auth:
//	  authenticators:          # tried in order
//	    - type: jwt
//	      jwt: {issuer: "https://id.example.com/", jwks_url: "https://id.example.com/jwks.json"}
//	    - type: api_keys
//	      api_keys: {keys: [{id: sensor-1, hash: "sha256:…"}]}
//	  default_permissions:
//	    publish:   {allow: ["devices.{principal}.>"]}
//	    subscribe: {allow: ["devices.{principal}.>", "broadcast.>"]}
//	  anonymous:
//	    subscribe: {allow: ["public.>"]}
type Config struct {
	// Authenticators are asked in order. The first that recognises the
	// credentials decides: it admits the client or refuses it. One that
	// finds nothing it understands passes, and the next is asked. If none
	// recognises anything, the client is refused, unless it presented no
	// credentials at all (no token, username, password or client
	// certificate) and Anonymous is set. Default none.
	Authenticators []AuthenticatorConfig `yaml:"authenticators"`

	// Anonymous, when set, admits clients that present no credentials as a
	// principal with an empty ID and these permissions (literal patterns
	// only: an anonymous principal has nothing to fill a template with).
	// Default nil: such clients are refused.
	Anonymous *Permissions `yaml:"anonymous"`

	// DefaultPermissions are given to every principal whose authenticator
	// gives none (a JWT without the permissions claim, an API key without
	// permissions, ...). They may use templates. Default nil: such a
	// principal may publish and subscribe to nothing.
	DefaultPermissions *Permissions `yaml:"default_permissions"`

	// OnRevoke is what a config reload does to an open connection whose
	// credentials the new config no longer admits (its API key removed or
	// replaced, anonymous access withdrawn): "close" (default) closes it
	// with a reason saying so, "keep" leaves it open with the permissions
	// it had. See Reauthorize.
	OnRevoke string `yaml:"on_revoke"`
}

// AuthenticatorConfig is one authenticator: a Type and the block of that
// type; blocks of other types must be left out.
type AuthenticatorConfig struct {
	// Type is api_keys, jwt, nats, http or mtls. Required.
	Type string `yaml:"type"`
	// APIKeys configures type api_keys. Required for it.
	APIKeys *APIKeysConfig `yaml:"api_keys"`
	// JWT configures type jwt. Required for it.
	JWT *JWTConfig `yaml:"jwt"`
	// NATS configures type nats, the authorizer asked on the bus.
	// Required for it.
	NATS *NATSAuthorizerConfig `yaml:"nats"`
	// HTTP configures type http, the authorizer asked over HTTP. Required
	// for it.
	HTTP *HTTPAuthorizerConfig `yaml:"http"`
	// MTLS configures type mtls. Default: every field's default.
	MTLS *MTLSConfig `yaml:"mtls"`
}

// Authenticator types, the values of AuthenticatorConfig.Type.
const (
	TypeAPIKeys = "api_keys"
	TypeJWT     = "jwt"
	TypeNATS    = "nats"
	TypeHTTP    = "http"
	TypeMTLS    = "mtls"
)

// Requester sends a request on NATS and returns the reply's data. It is
// how the nats authorizer talks to the bus; the gateway adapts its NATS
// connection to it, so this package does not import nats.go.
type Requester interface {
	Request(ctx context.Context, subject string, data []byte, timeout time.Duration) ([]byte, error)
}

// Deps are what New needs from the outside world. The zero value is usable
// unless a nats authorizer is configured.
type Deps struct {
	// Requester carries nats authorizer requests. Required when an
	// authenticator has type nats.
	Requester Requester
	// HTTPClient fetches JWKS and calls http authorizers. Default: a client
	// with no timeout of its own (every call here sets one).
	HTTPClient *http.Client
	// Now is the clock for token expiry and cache lifetimes. Default
	// time.Now.
	Now func() time.Time
	// Logger receives authorizer failures, JWKS refresh errors and dropped
	// permission templates. Default: discard.
	Logger *slog.Logger
}

func (d Deps) withDefaults() Deps {
	if d.HTTPClient == nil {
		d.HTTPClient = &http.Client{}
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	return d
}

// Enabled reports whether c asks for authentication at all. False is dev
// mode: no authenticators and no anonymous permissions, so New returns
// None and every client may do everything outside the reserved subjects.
func (c Config) Enabled() bool {
	return len(c.Authenticators) > 0 || c.Anonymous != nil
}

// Validate reports every problem of c, each naming its key
// ("auth.authenticators[1].jwt.issuer: required"). It reads the key files
// the config names but makes no network request.
func (c Config) Validate() error {
	ch, err := build(c, Deps{}.withDefaults(), false)
	if ch != nil {
		ch.Close()
	}
	return err
}

// New validates c and builds its chain of authenticators. When c is not
// Enabled it returns None (dev mode; the caller should say so loudly).
//
// New fetches each configured JWKS once (a JWKS that cannot be fetched is
// logged, not fatal: it is fetched again when a token names an unknown key
// and on every refresh). The returned Authenticator also implements
// io.Closer: Close stops the JWKS refreshes.
func New(c Config, deps Deps) (Authenticator, error) {
	ch, err := build(c, deps.withDefaults(), true)
	if err != nil {
		return nil, err
	}
	if !c.Enabled() {
		ch.Close()
		return None{}, nil
	}
	return ch, nil
}

// build validates c and, if live, makes the authenticators ready to use
// (JWKS fetched, Requester present). On error the chain is closed and nil.
func build(c Config, d Deps, live bool) (*chain, error) {
	var errs []error
	if c.DefaultPermissions != nil && len(c.Authenticators) == 0 {
		errs = append(errs, errors.New("auth.default_permissions: set, but no authenticator is configured to apply it to"))
	}
	errs = append(errs, c.DefaultPermissions.validate("auth.default_permissions", principalPlaceholders)...)
	errs = append(errs, c.Anonymous.validate("auth.anonymous", noPlaceholders)...)
	switch c.OnRevoke {
	case "", "close", "keep":
	default:
		errs = append(errs, fmt.Errorf("auth.on_revoke: %q is not close or keep", c.OnRevoke))
	}
	ch := &chain{
		anonymous: c.Anonymous.clone(),
		defaults:  c.DefaultPermissions.clone(),
		log:       d.Logger,
	}
	for i, ac := range c.Authenticators {
		key := fmt.Sprintf("auth.authenticators[%d]", i)
		a, aerrs := ac.build(key, d, live)
		errs = append(errs, aerrs...)
		if a != nil {
			ch.links = append(ch.links, link{typ: ac.Type, a: a})
		}
	}
	if err := errors.Join(errs...); err != nil {
		ch.Close()
		return nil, err
	}
	return ch, nil
}

// build checks one authenticator's config and builds it; key is its
// position ("auth.authenticators[0]").
func (ac AuthenticatorConfig) build(key string, d Deps, live bool) (Authenticator, []error) {
	var errs []error
	blocks := []struct {
		typ string
		set bool
	}{
		{TypeAPIKeys, ac.APIKeys != nil}, {TypeJWT, ac.JWT != nil}, {TypeNATS, ac.NATS != nil},
		{TypeHTTP, ac.HTTP != nil}, {TypeMTLS, ac.MTLS != nil},
	}
	for _, b := range blocks {
		if b.set && b.typ != ac.Type {
			errs = append(errs, fmt.Errorf("%s.%s: set, but type is %q", key, b.typ, ac.Type))
		}
	}
	missing := func(typ string) []error {
		return append(errs, fmt.Errorf("%s.%s: missing: type %s needs its block", key, typ, typ))
	}
	var (
		a     Authenticator
		aerrs []error
	)
	switch ac.Type {
	case TypeAPIKeys:
		if ac.APIKeys == nil {
			return nil, missing(TypeAPIKeys)
		}
		a, aerrs = some(newAPIKeys(*ac.APIKeys, key+".api_keys"))
	case TypeJWT:
		if ac.JWT == nil {
			return nil, missing(TypeJWT)
		}
		a, aerrs = some(newJWT(*ac.JWT, key+".jwt", d, live))
	case TypeNATS:
		if ac.NATS == nil {
			return nil, missing(TypeNATS)
		}
		a, aerrs = some(newNATSAuthorizer(*ac.NATS, key+".nats", d, live))
	case TypeHTTP:
		if ac.HTTP == nil {
			return nil, missing(TypeHTTP)
		}
		a, aerrs = some(newHTTPAuthorizer(*ac.HTTP, key+".http", d))
	case TypeMTLS:
		var mc MTLSConfig
		if ac.MTLS != nil {
			mc = *ac.MTLS
		}
		a, aerrs = some(newMTLS(mc, key+".mtls", d))
	case "":
		return nil, append(errs, fmt.Errorf("%s.type: required: one of api_keys, jwt, nats, http, mtls", key))
	default:
		return nil, append(errs, fmt.Errorf("%s.type: %q is not one of api_keys, jwt, nats, http, mtls", key, ac.Type))
	}
	return a, append(errs, aerrs...)
}

// some turns a builder's result into an Authenticator that is nil when the
// builder's pointer is: a nil *jwtAuth must not become a non-nil interface.
func some[T interface {
	comparable
	Authenticator
}](a T, errs []error) (Authenticator, []error) {
	var zero T
	if a == zero {
		return nil, errs
	}
	return a, errs
}
