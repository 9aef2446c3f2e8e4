package auth

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
)

const (
	issA    = "https://a.example/"
	issB    = "https://b.example/"
	issPEM  = "pem-issuer"
	issHMAC = "hmac-issuer"
)

var hmacSecret = strings.Repeat("s3cret-", 8) // 56 bytes

// jwtFixture is a jwt authenticator trusting four issuers: A and B with
// their own JWKS, one with PEM keys and one with an HMAC secret.
type jwtFixture struct {
	a    *jwtAuth
	jwks *jwksServer
	pem  []byte // the PEM file's bytes
}

func newJWTFixture(t *testing.T, tweak func(*JWTConfig)) *jwtFixture {
	t.Helper()
	k := testKeys()
	srv := newJWKSServer(t, map[string][]jwksKey{
		"a": {{"a-rsa", jwkset.AlgRS256, &k.rsaA.PublicKey}, {"a-ec", jwkset.AlgES256, &k.ec256.PublicKey}},
		"b": {{"b-rsa", jwkset.AlgRS256, &k.rsaB.PublicKey}},
	})
	pemBytes := pemOf(t, &k.rsaA.PublicKey, k.ed.Public(), &k.ec384.PublicKey)
	c := JWTConfig{Issuers: []JWTIssuer{
		{Issuer: issA, Audience: []string{"wsgate", "other-app"}, JWKSURL: srv.URL + "/a"},
		{Issuer: issB, JWKSURL: srv.URL + "/b"},
		{Issuer: issPEM, Algorithms: []string{"RS256", "PS256", "EdDSA", "ES384"}, PublicKeysFile: writeFile(t, "keys.pem", pemBytes)},
		{Issuer: issHMAC, HMACSecret: hmacSecret},
	}}
	if tweak != nil {
		tweak(&c)
	}
	d := testDeps(t)
	d.HTTPClient = srv.Client()
	a, errs := newJWT(c, "jwt", d.withDefaults(), true)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	t.Cleanup(func() { a.Close() })
	return &jwtFixture{a: a, jwks: srv, pem: pemBytes}
}

// claims returns valid claims for iss, changed by kv pairs (a nil value
// deletes the claim).
func claims(iss string, kv ...any) jwt.MapClaims {
	c := jwt.MapClaims{
		"iss": iss, "sub": "user-1", "aud": "wsgate",
		"iat": testNow.Add(-time.Minute).Unix(),
		"exp": testNow.Add(time.Hour).Unix(),
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(c, kv[i].(string))
		} else {
			c[kv[i].(string)] = kv[i+1]
		}
	}
	return c
}

func TestJWTAccepts(t *testing.T) {
	f := newJWTFixture(t, nil)
	k := testKeys()
	tests := []struct {
		name string
		tok  string
	}{
		{"RS256 from JWKS", sign(t, jwt.SigningMethodRS256, k.rsaA, "a-rsa", claims(issA))},
		{"RS256 from JWKS, no kid", sign(t, jwt.SigningMethodRS256, k.rsaA, "", claims(issA))},
		{"ES256 from JWKS", sign(t, jwt.SigningMethodES256, k.ec256, "a-ec", claims(issA))},
		{"RS256 other issuer", sign(t, jwt.SigningMethodRS256, k.rsaB, "b-rsa", claims(issB))},
		{"RS256 from PEM", sign(t, jwt.SigningMethodRS256, k.rsaA, "", claims(issPEM))},
		{"PS256 from PEM", sign(t, jwt.SigningMethodPS256, k.rsaA, "", claims(issPEM))},
		{"EdDSA from PEM", sign(t, jwt.SigningMethodEdDSA, k.ed, "", claims(issPEM))},
		{"ES384 from PEM", sign(t, jwt.SigningMethodES384, k.ec384, "", claims(issPEM))},
		{"HS256", sign(t, jwt.SigningMethodHS256, []byte(hmacSecret), "", claims(issHMAC))},
		{"audience list", sign(t, jwt.SigningMethodRS256, k.rsaA, "a-rsa", claims(issA, "aud", []string{"x", "other-app"}))},
		{"expired within leeway", sign(t, jwt.SigningMethodRS256, k.rsaA, "a-rsa", claims(issA, "exp", testNow.Add(-20*time.Second).Unix()))},
		{"nbf within leeway", sign(t, jwt.SigningMethodRS256, k.rsaA, "a-rsa", claims(issA, "nbf", testNow.Add(20*time.Second).Unix()))},
		{"iat within leeway", sign(t, jwt.SigningMethodRS256, k.rsaA, "a-rsa", claims(issA, "iat", testNow.Add(20*time.Second).Unix()))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := f.a.Authenticate(context.Background(), &Credentials{Token: tt.tok})
			if err != nil {
				t.Fatal(err)
			}
			if p.ID != "user-1" || p.Claims["sub"] != "user-1" {
				t.Errorf("principal %+v", p)
			}
			if p.ExpiresAt.IsZero() {
				t.Error("no ExpiresAt")
			}
			if p.Permissions != nil {
				t.Errorf("permissions %+v, want nil (defaults)", p.Permissions)
			}
		})
	}
}

func TestJWTPrincipal(t *testing.T) {
	f := newJWTFixture(t, nil)
	k := testKeys()
	tok := sign(t, jwt.SigningMethodRS256, k.rsaA, "a-rsa", claims(issA, "tenant", "acme",
		"wsgate", map[string]any{"publish": map[string]any{"allow": []string{"devices.{claims.sub}.>"}}}))
	p, err := f.a.Authenticate(context.Background(), &Credentials{Token: tok})
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Unix(testNow.Add(time.Hour).Unix(), 0); !p.ExpiresAt.Equal(want) {
		t.Errorf("ExpiresAt = %v, want %v", p.ExpiresAt, want)
	}
	if c, _ := p.Claim("tenant"); c != "acme" {
		t.Errorf("tenant claim = %q", c)
	}
	if p.Permissions == nil || len(p.Permissions.Publish.Allow) != 1 || p.Permissions.Publish.Allow[0] != "devices.{claims.sub}.>" {
		t.Errorf("permissions = %+v", p.Permissions)
	}
}

func TestJWTTokenSources(t *testing.T) {
	f := newJWTFixture(t, nil)
	tok := sign(t, jwt.SigningMethodHS256, []byte(hmacSecret), "", claims(issHMAC))
	tests := []struct {
		name string
		c    Credentials
		want error // nil: accepted
	}{
		{"token", Credentials{Token: tok}, nil},
		{"password, no username", Credentials{Password: tok}, nil},
		{"password, username jwt", Credentials{Username: "jwt", Password: tok}, nil},
		{"password, other username", Credentials{Username: "bob", Password: tok}, ErrNoCredentials},
		{"api key shaped token", Credentials{Token: "wsk_0123456789abcdef0123456789abcdef"}, ErrNoCredentials},
		{"nothing", Credentials{}, ErrNoCredentials},
		{"JWE shaped", Credentials{Token: "a.b.c.d.e"}, ErrNoCredentials},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.a.Authenticate(context.Background(), &tt.c)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

// TestJWTDenies runs every way a token must be refused.
func TestJWTDenies(t *testing.T) {
	f := newJWTFixture(t, nil)
	k := testKeys()
	rsa := func(c jwt.MapClaims) string { return sign(t, jwt.SigningMethodRS256, k.rsaA, "a-rsa", c) }
	b64 := base64.RawURLEncoding.EncodeToString
	good := rsa(claims(issA))
	parts := strings.Split(good, ".")

	// The public key, as an attacker would use it for HS256.
	pubDER, _ := x509.MarshalPKIXPublicKey(&k.rsaA.PublicKey)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})

	tests := []struct {
		name string
		tok  string
		is   error // a jwt error the refusal must wrap, if any
	}{
		{"expired beyond leeway", rsa(claims(issA, "exp", testNow.Add(-31*time.Second).Unix())), jwt.ErrTokenExpired},
		{"expired long ago", rsa(claims(issA, "exp", testNow.Add(-24*time.Hour).Unix())), jwt.ErrTokenExpired},
		{"nbf in the future", rsa(claims(issA, "nbf", testNow.Add(time.Minute).Unix())), jwt.ErrTokenNotValidYet},
		{"iat in the future", rsa(claims(issA, "iat", testNow.Add(time.Minute).Unix())), jwt.ErrTokenUsedBeforeIssued},
		{"no exp", rsa(claims(issA, "exp", nil)), jwt.ErrTokenRequiredClaimMissing},
		{"exp not a number", rsa(claims(issA, "exp", "tomorrow")), nil},
		{"untrusted iss", rsa(claims("https://evil.example/")), nil},
		{"no iss", rsa(claims(issA, "iss", nil)), nil},
		{"iss not a string", rsa(claims(issA, "iss", 42)), nil},
		{"iss differs in case", rsa(claims(strings.ToUpper(issA))), nil},
		{"wrong aud", rsa(claims(issA, "aud", "other")), jwt.ErrTokenInvalidAudience},
		{"no aud", rsa(claims(issA, "aud", nil)), jwt.ErrTokenRequiredClaimMissing},
		{"no sub", rsa(claims(issA, "sub", nil)), nil},
		{"empty sub", rsa(claims(issA, "sub", "")), nil},
		{"object sub", rsa(claims(issA, "sub", map[string]any{"a": 1})), nil},
		{"permissions misspelt", rsa(claims(issA, "wsgate", map[string]any{"publish": map[string]any{"dney": []string{"x"}}})), nil},
		{"permissions not an object", rsa(claims(issA, "wsgate", "all")), nil},
		{"permissions null", rsa(claims(issA, "wsgate", []any{})), nil},
		{"alg none", sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "", claims(issA)), jwt.ErrTokenSignatureInvalid},
		{"alg none, empty", b64([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + ".", jwt.ErrTokenSignatureInvalid},
		{"alg NONE", b64([]byte(`{"alg":"NONE"}`)) + "." + parts[1] + ".", nil},
		{"HS256 with the public key, JWKS issuer", sign(t, jwt.SigningMethodHS256, pubPEM, "a-rsa", claims(issA)), jwt.ErrTokenSignatureInvalid},
		{"HS256 with the public key, PEM issuer", sign(t, jwt.SigningMethodHS256, pubPEM, "", claims(issPEM)), jwt.ErrTokenSignatureInvalid},
		{"HS256 with the public key DER", sign(t, jwt.SigningMethodHS256, pubDER, "", claims(issPEM)), jwt.ErrTokenSignatureInvalid},
		{"HS512 not allowed", sign(t, jwt.SigningMethodHS512, []byte(hmacSecret+hmacSecret), "", claims(issHMAC)), jwt.ErrTokenSignatureInvalid},
		{"HS256 wrong secret", sign(t, jwt.SigningMethodHS256, []byte(strings.Repeat("x", 64)), "", claims(issHMAC)), jwt.ErrTokenSignatureInvalid},
		{"RS256 to HMAC issuer", sign(t, jwt.SigningMethodRS256, k.rsaA, "", claims(issHMAC)), jwt.ErrTokenSignatureInvalid},
		{"RS384 not allowed", sign(t, jwt.SigningMethodRS384, k.rsaA, "a-rsa", claims(issA)), jwt.ErrTokenSignatureInvalid},
		{"EdDSA by a stranger", sign(t, jwt.SigningMethodEdDSA, testKeysOther(t), "", claims(issPEM)), jwt.ErrTokenSignatureInvalid},
		{"unknown kid", sign(t, jwt.SigningMethodRS256, k.rsaA, "nope", claims(issA)), jwt.ErrTokenUnverifiable},
		{"kid not a string", signKid(t, k.rsaA, 42, claims(issA)), jwt.ErrTokenUnverifiable},
		{"issuer-key binding: B's key claims A", sign(t, jwt.SigningMethodRS256, k.rsaB, "b-rsa", claims(issA)), jwt.ErrTokenUnverifiable},
		{"issuer-key binding: B's key, no kid, claims A", sign(t, jwt.SigningMethodRS256, k.rsaB, "", claims(issA)), jwt.ErrTokenSignatureInvalid},
		{"issuer-key binding: A's kid, B's key", sign(t, jwt.SigningMethodRS256, k.rsaB, "a-rsa", claims(issA)), jwt.ErrTokenSignatureInvalid},
		{"tampered payload", parts[0] + "." + b64([]byte(`{"iss":"`+issA+`","sub":"admin","aud":"wsgate","exp":9999999999}`)) + "." + parts[2], jwt.ErrTokenSignatureInvalid},
		{"tampered signature", parts[0] + "." + parts[1] + "." + b64([]byte("garbage")), jwt.ErrTokenSignatureInvalid},
		{"empty parts", "..", jwt.ErrTokenMalformed},
		{"garbage parts", "a.b.c", jwt.ErrTokenMalformed},
		{"header not JSON", b64([]byte("hello")) + "." + parts[1] + "." + parts[2], jwt.ErrTokenMalformed},
		{"payload not JSON", parts[0] + "." + b64([]byte("[1,2")) + "." + parts[2], jwt.ErrTokenMalformed},
		{"bad base64", parts[0] + ".!!!." + parts[2], jwt.ErrTokenMalformed},
		{"too long", parts[0] + "." + strings.Repeat("A", maxTokenLen) + "." + parts[2], nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := f.a.Authenticate(context.Background(), &Credentials{Token: tt.tok})
			if err == nil {
				t.Fatalf("accepted: %+v", p)
			}
			if !errors.Is(err, ErrDenied) {
				t.Fatalf("err = %v, want ErrDenied", err)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("err = %v, want it to wrap %v", err, tt.is)
			}
		})
	}
	// Control: the binding test's token is good for its own issuer.
	if _, err := f.a.Authenticate(context.Background(), &Credentials{Token: sign(t, jwt.SigningMethodRS256, k.rsaB, "b-rsa", claims(issB))}); err != nil {
		t.Fatalf("B's own token: %v", err)
	}
}

// signKid signs an RS256 token with any kid header value.
func signKid(t *testing.T, key any, kid any, c jwt.MapClaims) string {
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, c)
	tok.Header["kid"] = kid
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// testKeysOther returns an Ed25519 key nobody trusts.
func testKeysOther(t *testing.T) any {
	_, k, err := ed25519GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestJWTUnknownKidRefetches(t *testing.T) {
	f := newJWTFixture(t, nil)
	k := testKeys()
	before := f.jwks.fetches("a")
	// A key rotated in at the issuer after the gateway fetched the JWKS.
	f.jwks.set(t, "a", []jwksKey{{"a-rsa", jwkset.AlgRS256, &k.rsaA.PublicKey}, {"a-new", jwkset.AlgRS256, &k.rsaB.PublicKey}})
	tok := sign(t, jwt.SigningMethodRS256, k.rsaB, "a-new", claims(issA))
	if _, err := f.a.Authenticate(context.Background(), &Credentials{Token: tok}); err != nil {
		t.Fatalf("rotated key: %v", err)
	}
	if got := f.jwks.fetches("a"); got != before+1 {
		t.Errorf("JWKS fetched %d times, want %d", got, before+1)
	}
	// The refetch is rate limited: an unknown kid does not fetch again.
	bad := sign(t, jwt.SigningMethodRS256, k.rsaA, "unknown", claims(issA))
	if _, err := f.a.Authenticate(context.Background(), &Credentials{Token: bad}); !errors.Is(err, ErrDenied) {
		t.Fatalf("unknown kid: %v", err)
	}
	if got := f.jwks.fetches("a"); got != before+1 {
		t.Errorf("JWKS fetched %d times after a second unknown kid, want %d", got, before+1)
	}
}

func TestJWTOptions(t *testing.T) {
	k := testKeys()
	no := false
	tests := []struct {
		name   string
		tweak  func(*JWTConfig)
		claims jwt.MapClaims
		ok     bool
		id     string
	}{
		{"require_exp false", func(c *JWTConfig) { c.RequireExp = &no }, claims(issPEM, "exp", nil), true, "user-1"},
		{"no leeway", func(c *JWTConfig) { c.Leeway = -1 }, claims(issPEM, "exp", testNow.Add(-time.Second).Unix()), false, ""},
		{"long leeway", func(c *JWTConfig) { c.Leeway = time.Hour }, claims(issPEM, "exp", testNow.Add(-59*time.Minute).Unix()), true, "user-1"},
		{"principal_claim", func(c *JWTConfig) { c.PrincipalClaim = "email" }, claims(issPEM, "email", "a@b.c"), true, "a@b.c"},
		{"principal_claim nested", func(c *JWTConfig) { c.PrincipalClaim = "user.id" }, claims(issPEM, "user", map[string]any{"id": 7}), true, "7"},
		{"principal_claim missing", func(c *JWTConfig) { c.PrincipalClaim = "email" }, claims(issPEM), false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newJWTFixture(t, tt.tweak)
			p, err := f.a.Authenticate(context.Background(), &Credentials{Token: sign(t, jwt.SigningMethodRS256, k.rsaA, "", tt.claims)})
			if (err == nil) != tt.ok {
				t.Fatalf("err = %v, want ok %v", err, tt.ok)
			}
			if tt.ok && p.ID != tt.id {
				t.Errorf("ID = %q, want %q", p.ID, tt.id)
			}
		})
	}
}

func TestJWTPermissionsClaim(t *testing.T) {
	f := newJWTFixture(t, func(c *JWTConfig) { c.PermissionsClaim = "perms" })
	k := testKeys()
	tok := sign(t, jwt.SigningMethodRS256, k.rsaA, "", claims(issPEM,
		"perms", map[string]any{"subscribe": map[string]any{"allow": []string{"a.>"}}},
		"wsgate", "ignored"))
	p, err := f.a.Authenticate(context.Background(), &Credentials{Token: tok})
	if err != nil {
		t.Fatal(err)
	}
	if !p.Permissions.CanSubscribe("a.b") || p.Permissions.CanSubscribe("b") {
		t.Errorf("permissions %+v", p.Permissions)
	}
}
