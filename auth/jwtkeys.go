package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
)

// jwtIssuer is one trusted issuer, ready to verify its tokens.
type jwtIssuer struct {
	name   string
	algs   []string
	secret []byte             // HMAC secret, or nil
	keys   []crypto.PublicKey // from PublicKeysFile, or nil
	jwks   keyfunc.Keyfunc    // from JWKSURL, or nil
	parser *jwt.Parser
}

// minRSABits is the smallest RSA key accepted from a PEM file.
const minRSABits = 2048

// isZero reports whether no field of the inline issuer is set.
func (c JWTIssuer) isZero() bool {
	return c.Issuer == "" && len(c.Audience) == 0 && len(c.Algorithms) == 0 &&
		c.HMACSecret == "" && c.HMACSecretFile == "" && c.PublicKeysFile == "" &&
		c.JWKSURL == "" && c.JWKSRefresh == 0 && c.JWKSTimeout == 0 && !c.InsecureJWKSOverHTTP
}

// newJWTIssuer checks c, loads its keys and, if live, starts its JWKS;
// errors name their key under prefix. ctx ends the JWKS refreshes.
func newJWTIssuer(ctx context.Context, c JWTIssuer, prefix string, d Deps, live bool) (*jwtIssuer, []error) {
	var errs []error
	fail := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s.%s: "+format, append([]any{prefix, key}, args...)...))
	}
	is := &jwtIssuer{name: c.Issuer}
	if c.Issuer == "" {
		fail("issuer", "required: the exact iss of the tokens to accept")
	}
	for i, a := range c.Audience {
		if a == "" {
			fail(fmt.Sprintf("audience[%d]", i), "empty")
		}
	}

	// Exactly one key source.
	var sources []string
	if c.HMACSecret != "" && c.HMACSecretFile != "" {
		fail("hmac_secret_file", "set either hmac_secret or hmac_secret_file, not both")
	}
	if c.HMACSecret != "" || c.HMACSecretFile != "" {
		sources = append(sources, "hmac_secret")
	}
	if c.PublicKeysFile != "" {
		sources = append(sources, "public_keys_file")
	}
	if c.JWKSURL != "" {
		sources = append(sources, "jwks_url")
	}
	switch len(sources) {
	case 0:
		errs = append(errs, fmt.Errorf("%s: no key source: set one of jwks_url, public_keys_file, hmac_secret, hmac_secret_file", prefix))
	case 1:
	default:
		fail(sources[1], "set only one key source, not %s", strings.Join(sources, " and "))
	}
	hmacKeys := len(sources) == 1 && sources[0] == "hmac_secret"

	// Algorithms, by the key source.
	is.algs = c.Algorithms
	if len(is.algs) == 0 {
		is.algs = []string{"RS256", "ES256", "EdDSA"}
		if hmacKeys {
			is.algs = []string{"HS256"}
		}
	}
	for i, alg := range is.algs {
		key := fmt.Sprintf("algorithms[%d]", i)
		switch {
		case strings.EqualFold(alg, "none"):
			fail(key, `"none" (unsigned tokens) is never accepted`)
		case isHMAC(alg) && len(sources) == 1 && !hmacKeys:
			fail(key, "%s needs an HMAC secret, not %s (HMAC with a public key lets anyone who has the public key sign tokens)", alg, sources[0])
		case slices.Contains(asymAlgs, alg) && hmacKeys:
			fail(key, "%s needs public keys or a JWKS, not an HMAC secret", alg)
		case !isHMAC(alg) && !slices.Contains(asymAlgs, alg):
			fail(key, "%q is not one of %s", alg, strings.Join(append(slices.Clone(hmacAlgs), asymAlgs...), ", "))
		}
	}

	// Keys.
	switch {
	case c.HMACSecret != "":
		is.secret = []byte(c.HMACSecret)
	case c.HMACSecretFile != "":
		b, err := os.ReadFile(c.HMACSecretFile)
		if err != nil {
			fail("hmac_secret_file", "%w", err)
		} else if is.secret = []byte(strings.TrimRight(string(b), "\r\n")); len(is.secret) == 0 {
			fail("hmac_secret_file", "%s is empty", c.HMACSecretFile)
		}
	}
	if hmacKeys && len(is.secret) > 0 {
		for _, alg := range is.algs {
			if need := hmacMinLen(alg); len(is.secret) < need {
				key := "hmac_secret"
				if c.HMACSecretFile != "" {
					key = "hmac_secret_file"
				}
				fail(key, "%d bytes is too short for %s: at least %d (RFC 7518, section 3.2)", len(is.secret), alg, need)
				break
			}
		}
	}
	if c.PublicKeysFile != "" {
		keys, err := loadPublicKeys(c.PublicKeysFile)
		if err != nil {
			fail("public_keys_file", "%w", err)
		}
		is.keys = keys
	}
	if c.JWKSURL != "" {
		u, err := url.Parse(c.JWKSURL)
		switch {
		case err != nil:
			fail("jwks_url", "%w", err)
		case u.Scheme == "http" && !c.InsecureJWKSOverHTTP:
			fail("jwks_url", "http:// lets anyone on the path replace the keys: use https, or set insecure_jwks_over_http")
		case u.Scheme != "https" && u.Scheme != "http", u.Host == "":
			fail("jwks_url", "%q is not an https URL", c.JWKSURL)
		}
	}
	if c.JWKSRefresh < 0 {
		fail("jwks_refresh", "must not be negative")
	}
	if c.JWKSTimeout < 0 {
		fail("jwks_timeout", "must not be negative")
	}
	if (c.JWKSRefresh != 0 || c.JWKSTimeout != 0 || c.InsecureJWKSOverHTTP) && c.JWKSURL == "" {
		fail("jwks_url", "jwks_refresh, jwks_timeout and insecure_jwks_over_http need a jwks_url")
	}
	if len(errs) > 0 {
		return nil, errs
	}
	if live && c.JWKSURL != "" {
		kf, err := startJWKS(ctx, c, d)
		if err != nil {
			return nil, []error{fmt.Errorf("%s.jwks_url: %w", prefix, err)}
		}
		is.jwks = kf
	}
	return is, nil
}

// hmacMinLen is the shortest secret RFC 7518 section 3.2 allows for alg:
// as long as the hash output.
func hmacMinLen(alg string) int {
	switch alg {
	case "HS384":
		return 48
	case "HS512":
		return 64
	}
	return 32
}

// startJWKS fetches the JWKS of c and keeps it fresh until ctx ends.
func startJWKS(ctx context.Context, c JWTIssuer, d Deps) (keyfunc.Keyfunc, error) {
	timeout := c.JWKSTimeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	log := d.Logger.With("issuer", c.Issuer, "jwks_url", c.JWKSURL)
	return keyfunc.NewDefaultOverrideCtx(ctx, []string{c.JWKSURL}, keyfunc.Override{
		Client:          d.HTTPClient,
		HTTPTimeout:     timeout,
		RefreshInterval: c.JWKSRefresh, // 0: keyfunc's default, 1h
		// The wait for the unknown-kid rate limiter and the fetch after it
		// share this bound; it keeps a connection from waiting a minute.
		RateLimitWaitMax: timeout,
		RefreshErrorHandlerFunc: func(string) func(context.Context, error) {
			return func(_ context.Context, err error) {
				log.Warn("JWKS fetch failed", "err", err)
			}
		},
	})
}

// keyfunc returns the key(s) a token of this issuer may be verified with:
// the HMAC secret for an HS* token, otherwise the public keys of the
// token's algorithm family. A public key is never returned for HS*, so the
// classic HMAC-with-public-key confusion cannot happen even if the
// algorithm list were wrong.
func (is *jwtIssuer) keyfunc(ctx context.Context) jwt.Keyfunc {
	return func(t *jwt.Token) (any, error) {
		alg := t.Method.Alg()
		if isHMAC(alg) {
			if is.secret == nil {
				return nil, fmt.Errorf("issuer %q has no HMAC secret", is.name)
			}
			return is.secret, nil
		}
		if is.jwks != nil {
			return is.jwks.KeyfuncCtx(ctx)(t)
		}
		var set jwt.VerificationKeySet
		for _, k := range is.keys {
			if keyFits(alg, k) {
				set.Keys = append(set.Keys, k)
			}
		}
		if len(set.Keys) == 0 {
			return nil, fmt.Errorf("issuer %q has no %s key", is.name, alg)
		}
		return set, nil
	}
}

// keyFits reports whether public key k can verify alg.
func keyFits(alg string, k crypto.PublicKey) bool {
	switch k := k.(type) {
	case *rsa.PublicKey:
		return strings.HasPrefix(alg, "RS") || strings.HasPrefix(alg, "PS")
	case *ecdsa.PublicKey:
		switch alg {
		case "ES256":
			return k.Curve == elliptic.P256()
		case "ES384":
			return k.Curve == elliptic.P384()
		case "ES512":
			return k.Curve == elliptic.P521()
		}
	case ed25519.PublicKey:
		return alg == "EdDSA"
	}
	return false
}

// loadPublicKeys reads every public key of a PEM file.
func loadPublicKeys(path string) ([]crypto.PublicKey, error) {
	rest, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var keys []crypto.PublicKey
	for n := 1; ; n++ {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		k, err := parsePublicKey(b)
		if err != nil {
			return nil, fmt.Errorf("%s: PEM block %d (%s): %w", path, n, b.Type, err)
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%s: no PEM public key or certificate", path)
	}
	return keys, nil
}

// parsePublicKey decodes one PEM block into a supported public key.
func parsePublicKey(b *pem.Block) (crypto.PublicKey, error) {
	var (
		k   any
		err error
	)
	switch b.Type {
	case "PUBLIC KEY":
		k, err = x509.ParsePKIXPublicKey(b.Bytes)
	case "RSA PUBLIC KEY":
		k, err = x509.ParsePKCS1PublicKey(b.Bytes)
	case "CERTIFICATE":
		var c *x509.Certificate
		if c, err = x509.ParseCertificate(b.Bytes); err == nil {
			k = c.PublicKey
		}
	default:
		if strings.Contains(b.Type, "PRIVATE") {
			return nil, errors.New("a private key: give only the public key, and keep the private key off the gateway")
		}
		return nil, errors.New("not a PUBLIC KEY, RSA PUBLIC KEY or CERTIFICATE")
	}
	if err != nil {
		return nil, err
	}
	switch k := k.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < minRSABits {
			return nil, fmt.Errorf("RSA key of %d bits: at least %d", k.N.BitLen(), minRSABits)
		}
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256(), elliptic.P384(), elliptic.P521():
		default:
			return nil, errors.New("ECDSA key on an unsupported curve")
		}
	case ed25519.PublicKey:
	default:
		return nil, fmt.Errorf("unsupported key type %T", k)
	}
	return k, nil
}
