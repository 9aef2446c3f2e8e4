package auth

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// decodeYAML decodes an auth: block strictly, as cmd/wsgate does.
func decodeYAML(t *testing.T, src string) Config {
	t.Helper()
	var doc struct {
		Auth Config `yaml:"auth"`
	}
	dec := yaml.NewDecoder(strings.NewReader(src))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("yaml: %v", err)
	}
	return doc.Auth
}

// TestConfigYAML decodes an example of every authenticator and checks that
// it validates and builds.
func TestConfigYAML(t *testing.T) {
	k := testKeys()
	pemFile := writeFile(t, "keys.pem", pemOf(t, &k.rsaA.PublicKey))
	secretFile := writeFile(t, "secret", []byte(hmacSecret+"\n"))
	srv := newJWKSServer(t, map[string][]jwksKey{"a": {{"a-rsa", "RS256", &k.rsaA.PublicKey}}})
	src := `
auth:
  authenticators:
    - type: jwt
      jwt:
        leeway: 10s
        require_exp: true
        principal_claim: sub
        permissions_claim: wsgate
        issuers:
          - issuer: "https://id.example.com/"
            audience: [wsgate]
            jwks_url: "` + srv.URL + `/a"
            jwks_refresh: 15m
            jwks_timeout: 5s
          - issuer: partner
            algorithms: [RS256, PS256]
            public_keys_file: ` + pemFile + `
          - issuer: internal
            hmac_secret_file: ` + secretFile + `
    - type: jwt
      jwt:
        issuer: single
        hmac_secret: "` + hmacSecret + `"
        algorithms: [HS256, HS384]
    - type: api_keys
      api_keys:
        keys:
          - id: sensor-42
            hash: "` + HashKey("k") + `"
            claims: {tenant: acme, floor: 3}
            permissions:
              publish:   {allow: ["devices.{principal}.>"]}
              subscribe: {allow: ["devices.{principal}.cmd.>"], deny: ["devices.{principal}.cmd.admin"]}
    - type: nats
      nats:
        subject: auth.authorize
        timeout: 1s
        identity_sources: ["header:Authorization", "query:token", "cookie:session", token]
        max_ttl: 1m
        cache_size: 100
    - type: http
      http:
        url: "https://authz.internal/wsgate"
        headers: {X-Api-Key: secret}
        timeout: 2s
    - type: mtls
      mtls:
        id: dn
        permissions:
          publish: {allow: ["certs.{claims.cn}.>"]}
    - type: mtls
  default_permissions:
    publish:   {allow: ["users.{principal}.>"]}
    subscribe: {allow: ["users.{principal}.>", "broadcast.>"], deny: ["broadcast.internal.>"]}
  anonymous:
    subscribe: {allow: ["public.>"]}
`
	c := decodeYAML(t, src)
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if !c.Enabled() {
		t.Error("not Enabled")
	}
	if got := c.Authenticators[0].JWT.Issuers[0].JWKSRefresh; got != 15*time.Minute {
		t.Errorf("jwks_refresh = %v", got)
	}
	if got := c.Authenticators[3].NATS.Timeout; got != time.Second {
		t.Errorf("nats timeout = %v", got)
	}
	d := testDeps(t)
	d.HTTPClient = srv.Client()
	d.Requester = requesterFunc(func(context.Context, string, []byte, time.Duration) ([]byte, error) {
		return nil, errors.New("unused")
	})
	a, err := New(c, d)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	defer a.(interface{ Close() error }).Close()
	p, err := a.Authenticate(context.Background(), &Credentials{Token: "k"})
	if err != nil {
		t.Fatal(err)
	}
	if p.ID != "sensor-42" || !p.Permissions.CanPublish("devices.sensor-42.t") || p.Permissions.CanSubscribe("devices.sensor-42.cmd.admin") {
		t.Errorf("api key principal %+v %+v", p, p.Permissions)
	}
	if v, _ := p.Claim("floor"); v != "3" {
		t.Errorf("floor claim %q", v)
	}
}

func TestConfigYAMLUnknownKey(t *testing.T) {
	var doc struct {
		Auth Config `yaml:"auth"`
	}
	dec := yaml.NewDecoder(strings.NewReader("auth:\n  authenticators:\n    - type: jwt\n      jwt: {issuer: x, jwks: y}\n"))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err == nil || !strings.Contains(err.Error(), "jwks") {
		t.Fatalf("unknown key: %v", err)
	}
}

func TestConfigEnabledAndDevMode(t *testing.T) {
	if (Config{}).Enabled() {
		t.Error("zero config Enabled")
	}
	a, err := New(Config{}, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := a.(None); !ok {
		t.Errorf("New(zero) = %T, want None", a)
	}
	if !(Config{Anonymous: &Permissions{}}).Enabled() {
		t.Error("anonymous-only config not Enabled")
	}
	err = Config{DefaultPermissions: &Permissions{}}.Validate()
	if err == nil || !strings.Contains(err.Error(), "auth.default_permissions: set, but no authenticator") {
		t.Errorf("default_permissions without authenticators: %v", err)
	}
	err = Config{Anonymous: &Permissions{}, OnRevoke: "drop"}.Validate()
	if err == nil || !strings.Contains(err.Error(), `auth.on_revoke: "drop" is not close or keep`) {
		t.Errorf("on_revoke drop: %v", err)
	}
}

// TestConfigValidate checks that every bad key is reported, by name.
func TestConfigValidate(t *testing.T) {
	k := testKeys()
	rsaSmall, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	smallDER, _ := x509.MarshalPKIXPublicKey(&rsaSmall.PublicKey)
	smallPEM := writeFile(t, "small.pem", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: smallDER}))
	privDER, _ := x509.MarshalPKCS8PrivateKey(k.ed)
	privPEM := writeFile(t, "priv.pem", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: privDER}))
	goodPEM := writeFile(t, "good.pem", pemOf(t, &k.rsaA.PublicKey))
	junk := writeFile(t, "junk.pem", []byte("not pem"))
	emptySecret := writeFile(t, "empty", []byte("\n"))

	jwtc := func(c JWTConfig) Config {
		return Config{Authenticators: []AuthenticatorConfig{{Type: TypeAPIKeys, APIKeys: &APIKeysConfig{Keys: []APIKey{{ID: "k", Hash: HashKey("k")}}}}, {Type: TypeJWT, JWT: &c}}}
	}
	one := func(ac AuthenticatorConfig) Config { return Config{Authenticators: []AuthenticatorConfig{ac}} }
	tests := []struct {
		name string
		c    Config
		want []string // substrings that must appear; one per error starts with "auth."
	}{
		{"no type", one(AuthenticatorConfig{}), []string{"auth.authenticators[0].type: required"}},
		{"unknown type", one(AuthenticatorConfig{Type: "ldap"}), []string{`auth.authenticators[0].type: "ldap" is not one of`}},
		{"missing block", one(AuthenticatorConfig{Type: TypeJWT}), []string{"auth.authenticators[0].jwt: missing"}},
		{"other block", one(AuthenticatorConfig{Type: TypeMTLS, JWT: &JWTConfig{}}), []string{`auth.authenticators[0].jwt: set, but type is "mtls"`}},
		{"bad default permissions", Config{
			Authenticators:     []AuthenticatorConfig{{Type: TypeMTLS}},
			DefaultPermissions: &Permissions{Publish: Rules{Allow: []string{"a.>.b"}}},
		}, []string{"auth.default_permissions.publish.allow[0]: subjects: invalid pattern"}},
		{"anonymous template", Config{Anonymous: &Permissions{Subscribe: Rules{Allow: []string{"u.{principal}"}}}},
			[]string{"auth.anonymous.subscribe.allow[0]: placeholder {principal}"}},

		{"jwt: nothing", jwtc(JWTConfig{}), []string{
			"auth.authenticators[1].jwt.issuer: required",
			"auth.authenticators[1].jwt: no key source"}},
		{"jwt: both inline and issuers", jwtc(JWTConfig{JWTIssuer: JWTIssuer{Issuer: "x"}, Issuers: []JWTIssuer{{Issuer: "y", PublicKeysFile: goodPEM}}}),
			[]string{"auth.authenticators[1].jwt: set either issuer and its keys, or issuers, not both"}},
		{"jwt: two sources", jwtc(JWTConfig{JWTIssuer: JWTIssuer{Issuer: "x", PublicKeysFile: goodPEM, JWKSURL: "https://x/j"}}),
			[]string{"auth.authenticators[1].jwt.jwks_url: set only one key source"}},
		{"jwt: secret and file", jwtc(JWTConfig{JWTIssuer: JWTIssuer{Issuer: "x", HMACSecret: hmacSecret, HMACSecretFile: emptySecret}}),
			[]string{"auth.authenticators[1].jwt.hmac_secret_file: set either"}},
		{"jwt: none", jwtc(JWTConfig{JWTIssuer: JWTIssuer{Issuer: "x", PublicKeysFile: goodPEM, Algorithms: []string{"RS256", "none"}}}),
			[]string{`auth.authenticators[1].jwt.algorithms[1]: "none" (unsigned tokens) is never accepted`}},
		{"jwt: HMAC with public key", jwtc(JWTConfig{JWTIssuer: JWTIssuer{Issuer: "x", PublicKeysFile: goodPEM, Algorithms: []string{"HS256"}}}),
			[]string{"auth.authenticators[1].jwt.algorithms[0]: HS256 needs an HMAC secret"}},
		{"jwt: HMAC with JWKS", jwtc(JWTConfig{JWTIssuer: JWTIssuer{Issuer: "x", JWKSURL: "https://x/j", Algorithms: []string{"RS256", "HS512"}}}),
			[]string{"auth.authenticators[1].jwt.algorithms[1]: HS512 needs an HMAC secret"}},
		{"jwt: RSA with secret", jwtc(JWTConfig{JWTIssuer: JWTIssuer{Issuer: "x", HMACSecret: hmacSecret, Algorithms: []string{"RS256"}}}),
			[]string{"auth.authenticators[1].jwt.algorithms[0]: RS256 needs public keys"}},
		{"jwt: unknown alg", jwtc(JWTConfig{JWTIssuer: JWTIssuer{Issuer: "x", JWKSURL: "https://x/j", Algorithms: []string{"rs256"}}}),
			[]string{`auth.authenticators[1].jwt.algorithms[0]: "rs256" is not one of`}},
		{"jwt: short secret", jwtc(JWTConfig{JWTIssuer: JWTIssuer{Issuer: "x", HMACSecret: "short"}}),
			[]string{"auth.authenticators[1].jwt.hmac_secret: 5 bytes is too short for HS256: at least 32"}},
		{"jwt: secret short for HS512", jwtc(JWTConfig{JWTIssuer: JWTIssuer{Issuer: "x", HMACSecret: hmacSecret, Algorithms: []string{"HS256", "HS512"}}}),
			[]string{"auth.authenticators[1].jwt.hmac_secret: 56 bytes is too short for HS512: at least 64"}},
		{"jwt: empty secret file", jwtc(JWTConfig{JWTIssuer: JWTIssuer{Issuer: "x", HMACSecretFile: emptySecret}}),
			[]string{"auth.authenticators[1].jwt.hmac_secret_file:", "is empty"}},
		{"jwt: missing secret file", jwtc(JWTConfig{JWTIssuer: JWTIssuer{Issuer: "x", HMACSecretFile: "/nonexistent/secret"}}),
			[]string{"auth.authenticators[1].jwt.hmac_secret_file: open /nonexistent/secret"}},
		{"jwt: http JWKS", jwtc(JWTConfig{JWTIssuer: JWTIssuer{Issuer: "x", JWKSURL: "http://x/j"}}),
			[]string{"auth.authenticators[1].jwt.jwks_url: http:// lets anyone"}},
		{"jwt: not a URL", jwtc(JWTConfig{JWTIssuer: JWTIssuer{Issuer: "x", JWKSURL: "file:///etc/jwks"}}),
			[]string{"auth.authenticators[1].jwt.jwks_url:", "is not an https URL"}},
		{"jwt: refresh without JWKS", jwtc(JWTConfig{JWTIssuer: JWTIssuer{Issuer: "x", PublicKeysFile: goodPEM, JWKSRefresh: time.Minute}}),
			[]string{"auth.authenticators[1].jwt.jwks_url: jwks_refresh, jwks_timeout and insecure_jwks_over_http need a jwks_url"}},
		{"jwt: negative refresh", jwtc(JWTConfig{JWTIssuer: JWTIssuer{Issuer: "x", JWKSURL: "https://x/j", JWKSRefresh: -1}}),
			[]string{"auth.authenticators[1].jwt.jwks_refresh: must not be negative"}},
		{"jwt: small RSA key", jwtc(JWTConfig{JWTIssuer: JWTIssuer{Issuer: "x", PublicKeysFile: smallPEM}}),
			[]string{"auth.authenticators[1].jwt.public_keys_file:", "RSA key of 1024 bits: at least 2048"}},
		{"jwt: private key", jwtc(JWTConfig{JWTIssuer: JWTIssuer{Issuer: "x", PublicKeysFile: privPEM}}),
			[]string{"auth.authenticators[1].jwt.public_keys_file:", "a private key"}},
		{"jwt: not PEM", jwtc(JWTConfig{JWTIssuer: JWTIssuer{Issuer: "x", PublicKeysFile: junk}}),
			[]string{"auth.authenticators[1].jwt.public_keys_file:", "no PEM public key"}},
		{"jwt: issuers, errors by index", jwtc(JWTConfig{Issuers: []JWTIssuer{
			{Issuer: "a", PublicKeysFile: goodPEM},
			{Issuer: "a", PublicKeysFile: goodPEM},
			{PublicKeysFile: goodPEM},
			{Issuer: "d", PublicKeysFile: goodPEM, Audience: []string{""}},
		}}), []string{
			`auth.authenticators[1].jwt.issuers[1].issuer: "a" is listed twice`,
			"auth.authenticators[1].jwt.issuers[2].issuer: required",
			"auth.authenticators[1].jwt.issuers[3].audience[0]: empty"}},

		{"api_keys: none", one(AuthenticatorConfig{Type: TypeAPIKeys, APIKeys: &APIKeysConfig{}}),
			[]string{"auth.authenticators[0].api_keys.keys: required"}},
		{"api_keys: bad keys", one(AuthenticatorConfig{Type: TypeAPIKeys, APIKeys: &APIKeysConfig{Keys: []APIKey{
			{ID: "a", Hash: HashKey("1")},
			{ID: "a", Hash: HashKey("2")},
			{ID: "", Hash: HashKey("3")},
			{ID: "d", Hash: HashKey("1")},
			{ID: "e", Hash: "md5:abc"},
			{ID: "f", Hash: strings.ToUpper(HashKey("6"))},
			{ID: "g", Hash: "sha256:" + strings.ToUpper(HashKey("7")[7:])},
			{ID: "h"},
			{ID: "i", Hash: "sha256:zz" + HashKey("9")[9:]},
			{ID: "j", Hash: HashKey("10"), Permissions: &Permissions{Publish: Rules{Allow: []string{"{body.x}"}}}},
		}}}), []string{
			`auth.authenticators[0].api_keys.keys[1].id: "a" is used by another key`,
			"auth.authenticators[0].api_keys.keys[2].id: required",
			`auth.authenticators[0].api_keys.keys[3].hash: the same key as "a"`,
			`auth.authenticators[0].api_keys.keys[4].hash: must start with "sha256:"`,
			`auth.authenticators[0].api_keys.keys[5].hash: must start with "sha256:"`,
			"auth.authenticators[0].api_keys.keys[6].hash: must be",
			"auth.authenticators[0].api_keys.keys[7].hash: required",
			"auth.authenticators[0].api_keys.keys[8].hash: must be",
			"auth.authenticators[0].api_keys.keys[9].permissions.publish.allow[0]: placeholder {body.x}"}},

		{"nats: nothing", one(AuthenticatorConfig{Type: TypeNATS, NATS: &NATSAuthorizerConfig{}}),
			[]string{"auth.authenticators[0].nats.subject: required"}},
		{"nats: bad subject and options", one(AuthenticatorConfig{Type: TypeNATS, NATS: &NATSAuthorizerConfig{
			Subject:           "auth.*",
			AuthorizerOptions: AuthorizerOptions{Timeout: -1, CacheSize: -1, IdentitySources: []string{"token", "header:", "body:x", "token:x"}},
		}}), []string{
			"auth.authenticators[0].nats.subject: subjects: invalid subject",
			"auth.authenticators[0].nats.timeout: must not be negative",
			"auth.authenticators[0].nats.cache_size: must not be negative",
			`auth.authenticators[0].nats.identity_sources[1]: "header:": header needs a name`,
			`auth.authenticators[0].nats.identity_sources[2]: "body:x" is not`,
			`auth.authenticators[0].nats.identity_sources[3]: "token:x": token takes no name`}},
		{"http: nothing", one(AuthenticatorConfig{Type: TypeHTTP, HTTP: &HTTPAuthorizerConfig{}}),
			[]string{"auth.authenticators[0].http.url: required"}},
		{"http: bad", one(AuthenticatorConfig{Type: TypeHTTP, HTTP: &HTTPAuthorizerConfig{URL: "ftp://x/", Headers: map[string]string{"Bad Header": "v"}}}),
			[]string{`auth.authenticators[0].http.url: "ftp://x/" is not an http or https URL`, `auth.authenticators[0].http.headers: "Bad Header"`}},
		{"mtls: bad id", one(AuthenticatorConfig{Type: TypeMTLS, MTLS: &MTLSConfig{ID: "email", Permissions: &Permissions{Subscribe: Rules{Deny: []string{"x y"}}}}}),
			[]string{`auth.authenticators[0].mtls.id: "email" is not cn or dn`, "auth.authenticators[0].mtls.permissions.subscribe.deny[0]:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.c.Validate()
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not contain %q:\n%v", w, err)
				}
			}
			// Each error starts with its key; other substrings continue
			// the error before them.
			want := 0
			for _, w := range tt.want {
				if strings.HasPrefix(w, "auth.") {
					want++
				}
			}
			if n := strings.Count(err.Error(), "\n") + 1; n != want {
				t.Errorf("%d errors, want %d:\n%v", n, want, err)
			}
		})
	}
}

func TestNewNeedsRequester(t *testing.T) {
	c := Config{Authenticators: []AuthenticatorConfig{{Type: TypeNATS, NATS: &NATSAuthorizerConfig{Subject: "auth.check"}}}}
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	_, err := New(c, Deps{})
	if err == nil || !strings.Contains(err.Error(), "auth.authenticators[0].nats: no NATS connection") {
		t.Fatalf("New without Requester: %v", err)
	}
}

// TestNewJWKSDown checks that an unreachable JWKS does not stop the
// gateway from starting, and is logged.
func TestNewJWKSDown(t *testing.T) {
	var logs logBuffer
	srv := newJWKSServer(t, nil)
	c := Config{Authenticators: []AuthenticatorConfig{{Type: TypeJWT, JWT: &JWTConfig{JWTIssuer: JWTIssuer{Issuer: "x", JWKSURL: srv.URL + "/missing"}}}}}
	a, err := New(c, Deps{HTTPClient: srv.Client(), Logger: logs.logger()})
	if err != nil {
		t.Fatal(err)
	}
	defer a.(interface{ Close() error }).Close()
	if !strings.Contains(logs.String(), "JWKS fetch failed") {
		t.Errorf("log = %q", logs.String())
	}
	if !bytes.Contains([]byte(logs.String()), []byte("issuer=x")) {
		t.Errorf("log lacks issuer: %q", logs.String())
	}
}
