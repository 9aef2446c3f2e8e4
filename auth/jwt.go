package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// JWTConfig configures type jwt: bearer tokens (RFC 7519) signed by an
// identity provider, verified with github.com/golang-jwt/jwt/v5.
//
// One issuer, its keys from a JWKS:
//
//   - type: jwt
//     jwt:
//     issuer: "https://id.example.com/"
//     audience: ["wsgate"]
//     jwks_url: "https://id.example.com/.well-known/jwks.json"
//
// Several issuers, each bound to its own keys (a token's iss picks the
// keys, so one issuer's key can never vouch for another issuer's tokens):
//
//   - type: jwt
//     jwt:
//     leeway: 10s
//     permissions_claim: wsgate
//     issuers:
//   - {issuer: "https://id.example.com/", jwks_url: "https://id.example.com/jwks.json"}
//   - {issuer: "partner", algorithms: [ES256], public_keys_file: /etc/wsgate/partner.pem}
//   - {issuer: "internal", hmac_secret_file: /run/secrets/jwt-hmac}
//
// A token is taken from Credentials.Token, or from the password when the
// username is empty or "jwt" (MQTT and STOMP clients). A value that is not
// shaped like a signed JWT (three dot-separated parts) is not recognised
// and the next authenticator is asked; anything shaped like one is decided
// here.
type JWTConfig struct {
	// JWTIssuer, inline, is the one trusted issuer: issuer, audience,
	// algorithms and one key source. Leave it out when Issuers is set.
	JWTIssuer `yaml:",inline"`
	// Issuers are several trusted issuers, each with its own keys. Their
	// principal IDs share one space: if two issuers can hand out the same
	// sub, put {claims.iss} in the permission templates. Default none: the
	// inline issuer alone.
	Issuers []JWTIssuer `yaml:"issuers"`
	// Leeway is the clock skew allowed when checking exp, nbf and iat.
	// Default 30s; negative means none.
	Leeway time.Duration `yaml:"leeway"`
	// RequireExp refuses tokens without an exp claim. Default true.
	RequireExp *bool `yaml:"require_exp"`
	// PrincipalClaim is the claim whose value is the principal ID; a token
	// without it is refused. Default "sub".
	PrincipalClaim string `yaml:"principal_claim"`
	// PermissionsClaim is the claim holding the principal's permissions,
	// an object shaped like Permissions ({"publish": {"allow": [...]}}). A
	// token without it gets auth.default_permissions; one with a malformed
	// value is refused. Default "wsgate".
	PermissionsClaim string `yaml:"permissions_claim"`
}

// JWTIssuer is one trusted issuer and the keys its tokens are signed with.
// Exactly one key source is set: an HMAC secret, a PEM file or a JWKS URL.
type JWTIssuer struct {
	// Issuer is the exact iss claim its tokens carry. Required.
	Issuer string `yaml:"issuer"`
	// Audience, when set, requires the token's aud to hold one of these
	// values. Default: aud is not checked.
	Audience []string `yaml:"audience"`
	// Algorithms are the accepted signing algorithms: HS256, HS384, HS512
	// (with an HMAC secret only), RS256, RS384, RS512, PS256, PS384, PS512,
	// ES256, ES384, ES512, EdDSA (with public keys or a JWKS only).
	// "none" is never accepted. Default [RS256, ES256, EdDSA], or [HS256]
	// with an HMAC secret.
	Algorithms []string `yaml:"algorithms"`
	// HMACSecret is the shared secret of HS* tokens: at least 32, 48 or 64
	// bytes for HS256, HS384 or HS512 (RFC 7518, section 3.2). Prefer
	// HMACSecretFile. Default none.
	HMACSecret string `yaml:"hmac_secret"`
	// HMACSecretFile is a file holding the HMAC secret; trailing newlines
	// are ignored. Default none.
	HMACSecretFile string `yaml:"hmac_secret_file"`
	// PublicKeysFile is a PEM file of one or more public keys (PUBLIC KEY,
	// RSA PUBLIC KEY) or certificates: RSA (2048 bits or more), ECDSA
	// P-256/P-384/P-521 or Ed25519. A token is checked against every key of
	// its algorithm's type. Default none.
	PublicKeysFile string `yaml:"public_keys_file"`
	// JWKSURL is an https URL of the issuer's JSON Web Key Set, fetched and
	// refreshed by github.com/MicahParks/keyfunc/v3; a token naming an
	// unknown kid makes it fetch again (at most once every 5 minutes).
	// Default none.
	JWKSURL string `yaml:"jwks_url"`
	// JWKSRefresh is how often the JWKS is fetched. Default 1h.
	JWKSRefresh time.Duration `yaml:"jwks_refresh"`
	// JWKSTimeout bounds one JWKS fetch. Default 10s.
	JWKSTimeout time.Duration `yaml:"jwks_timeout"`
	// InsecureJWKSOverHTTP allows an http:// JWKSURL, whose keys anyone on
	// the network path could replace. Default false.
	InsecureJWKSOverHTTP bool `yaml:"insecure_jwks_over_http"`
}

// maxTokenLen bounds the JWTs parsed. Real tokens are a few kilobytes.
const maxTokenLen = 16 << 10

// jwtAuth is the jwt authenticator.
type jwtAuth struct {
	issuers   map[string]*jwtIssuer
	idClaim   string
	permClaim string
	stop      context.CancelFunc // stops the JWKS refreshes
}

var _ Authenticator = (*jwtAuth)(nil)

func (c JWTConfig) withDefaults() JWTConfig {
	switch {
	case c.Leeway == 0:
		c.Leeway = 30 * time.Second
	case c.Leeway < 0:
		c.Leeway = 0
	}
	if c.RequireExp == nil {
		t := true
		c.RequireExp = &t
	}
	if c.PrincipalClaim == "" {
		c.PrincipalClaim = "sub"
	}
	if c.PermissionsClaim == "" {
		c.PermissionsClaim = "wsgate"
	}
	return c
}

// newJWT checks c and builds the authenticator; errors name their key under
// prefix. If live, JWKS are fetched and refreshed until Close.
func newJWT(c JWTConfig, prefix string, d Deps, live bool) (*jwtAuth, []error) {
	c = c.withDefaults()
	var errs []error
	issuers := c.Issuers
	switch {
	case len(issuers) == 0:
		issuers = []JWTIssuer{c.JWTIssuer}
	case !c.JWTIssuer.isZero():
		errs = append(errs, fmt.Errorf("%s: set either issuer and its keys, or issuers, not both", prefix))
	}
	ctx, stop := context.WithCancel(context.Background())
	a := &jwtAuth{
		issuers:   make(map[string]*jwtIssuer, len(issuers)),
		idClaim:   c.PrincipalClaim,
		permClaim: c.PermissionsClaim,
		stop:      stop,
	}
	for i, ic := range issuers {
		key := prefix
		if len(c.Issuers) > 0 {
			key = fmt.Sprintf("%s.issuers[%d]", prefix, i)
		}
		is, ierrs := newJWTIssuer(ctx, ic, key, d, live)
		errs = append(errs, ierrs...)
		if is == nil {
			continue
		}
		if _, dup := a.issuers[ic.Issuer]; dup {
			errs = append(errs, fmt.Errorf("%s.issuer: %q is listed twice", key, ic.Issuer))
			continue
		}
		opts := []jwt.ParserOption{
			jwt.WithValidMethods(is.algs),
			jwt.WithIssuer(ic.Issuer),
			jwt.WithLeeway(c.Leeway),
			jwt.WithIssuedAt(),
			jwt.WithTimeFunc(d.Now),
		}
		if len(ic.Audience) > 0 {
			opts = append(opts, jwt.WithAudience(ic.Audience...))
		}
		if *c.RequireExp {
			opts = append(opts, jwt.WithExpirationRequired())
		}
		is.parser = jwt.NewParser(opts...)
		a.issuers[ic.Issuer] = is
	}
	if len(errs) > 0 {
		stop()
		return nil, errs
	}
	return a, nil
}

// Close stops the JWKS refreshes.
func (a *jwtAuth) Close() error {
	a.stop()
	return nil
}

// Authenticate verifies the token with the keys of the issuer it names.
func (a *jwtAuth) Authenticate(ctx context.Context, c *Credentials) (*Principal, error) {
	tok := ""
	switch {
	case looksLikeJWT(c.Token):
		tok = c.Token
	case (c.Username == "" || c.Username == "jwt") && looksLikeJWT(c.Password):
		tok = c.Password
	default:
		return nil, ErrNoCredentials
	}
	if len(tok) > maxTokenLen {
		return nil, denied("jwt: token of %d bytes, max %d", len(tok), maxTokenLen)
	}
	// The issuer named in the token picks the keys; the parser then checks
	// that the verified token names the same issuer.
	iss, err := unverifiedIssuer(tok)
	if err != nil {
		return nil, denied("jwt: %w", err)
	}
	is := a.issuers[iss]
	if is == nil {
		return nil, denied("jwt: issuer %q is not trusted", truncate(iss, 64))
	}
	claims := jwt.MapClaims{}
	if _, err := is.parser.ParseWithClaims(tok, claims, is.keyfunc(ctx)); err != nil {
		return nil, denied("jwt: %w", err)
	}
	return a.principal(claims)
}

// principal turns verified claims into a principal.
func (a *jwtAuth) principal(claims jwt.MapClaims) (*Principal, error) {
	p := &Principal{Claims: map[string]any(claims)}
	id, ok := p.Claim(a.idClaim)
	if !ok || id == "" {
		return nil, denied("jwt: no %q claim for the principal id", a.idClaim)
	}
	p.ID = id
	if exp, err := claims.GetExpirationTime(); err == nil && exp != nil {
		p.ExpiresAt = exp.Time
	}
	if raw, ok := claims[a.permClaim]; ok {
		perms, err := permissionsFromClaim(raw)
		if err != nil {
			return nil, denied("jwt: principal %q: claim %q: %w", id, a.permClaim, err)
		}
		p.Permissions = perms
	}
	return p, nil
}

// permissionsFromClaim decodes a permissions claim strictly.
func permissionsFromClaim(raw any) (*Permissions, error) {
	if _, ok := raw.(map[string]any); !ok {
		return nil, fmt.Errorf("not an object but %T", raw)
	}
	b, err := json.Marshal(raw)
	if err != nil {
		return nil, err
	}
	var p Permissions
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// looksLikeJWT reports whether s is shaped like a JWS compact
// serialisation: three parts separated by dots (RFC 7515, section 7.1).
func looksLikeJWT(s string) bool {
	return s != "" && strings.Count(s, ".") == 2
}

// unverifiedIssuer reads the iss claim of a token without verifying it, to
// pick the keys to verify it with.
func unverifiedIssuer(tok string) (string, error) {
	var claims jwt.RegisteredClaims
	if _, _, err := jwt.NewParser().ParseUnverified(tok, &claims); err != nil {
		return "", err
	}
	if claims.Issuer == "" {
		return "", errors.New("token has no iss claim")
	}
	return claims.Issuer, nil
}

// truncate cuts a hostile string short for an error message.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// Signing algorithms by family.
var (
	hmacAlgs = []string{"HS256", "HS384", "HS512"}
	asymAlgs = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)

// isHMAC reports whether alg is an HMAC algorithm.
func isHMAC(alg string) bool { return slices.Contains(hmacAlgs, alg) }
