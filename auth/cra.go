package auth

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
)

// WAMPCRA lets a WAMP client prove it holds an API key without sending it:
// WAMP-CRA, the challenge-response authentication of the WAMP spec's
// advanced profile, with a salted key. The router sends a challenge; the
// client derives a key from its secret (PBKDF2-HMAC-SHA256 with Salt,
// Iterations and KeyLen, in base64: Autobahn's auth_cra.derive_key) and
// answers with the challenge's HMAC-SHA256 under that key (in base64:
// auth_cra.sign). The config holds the derived key, which `wsgate
// hash-key --wampcra` prints with a fresh salt; like the key's hash, it
// does not give the key away, but unlike it, it is enough to pass WAMP-CRA:
// keep it as secret as the config.
type WAMPCRA struct {
	// Salt is mixed into the derivation. Required.
	Salt string `yaml:"salt"`
	// Iterations of PBKDF2. Default 1000 (Autobahn's); at most 1,000,000.
	Iterations int `yaml:"iterations"`
	// KeyLen is the derived key's length in bytes. Default 32.
	KeyLen int `yaml:"keylen"`
	// Key is DeriveCRAKey of the API key with these parameters. Required.
	Key string `yaml:"key"`
}

// CRAParams are what a WAMP-CRA client needs besides its secret to derive
// its key: they travel in the CHALLENGE.
type CRAParams struct {
	Salt       string
	Iterations int
	KeyLen     int
}

// CRAProof is a WAMP client's answer to a WAMP-CRA challenge, as
// Credentials carry it (with the authid as Username).
type CRAProof struct {
	Challenge string // the challenge the router sent, as sent
	Signature string // the client's HMAC of it, base64
}

// DeriveCRAKey is the salted WAMP-CRA key of secret: PBKDF2-HMAC-SHA256,
// base64, as Autobahn's auth_cra.derive_key computes it.
func DeriveCRAKey(secret, salt string, iterations, keyLen int) (string, error) {
	k, err := pbkdf2.Key(sha256.New, secret, []byte(salt), iterations, keyLen)
	if err != nil {
		return "", fmt.Errorf("wampcra key: %w", err)
	}
	return base64.StdEncoding.EncodeToString(k), nil
}

// SignCRA is the WAMP-CRA signature of challenge under key (the derived
// key's base64 text, used as it is), base64: Autobahn's auth_cra.sign.
func SignCRA(key, challenge string) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(challenge))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func (c *WAMPCRA) withDefaults() WAMPCRA {
	out := *c
	if out.Iterations == 0 {
		out.Iterations = 1000
	}
	if out.KeyLen == 0 {
		out.KeyLen = 32
	}
	return out
}

func (c *WAMPCRA) validate(key string) []error {
	var errs []error
	d := c.withDefaults()
	if c.Salt == "" {
		errs = append(errs, fmt.Errorf("%s.salt: required", key))
	}
	if d.Iterations < 1 || d.Iterations > 1_000_000 {
		errs = append(errs, fmt.Errorf("%s.iterations: %d is not 1 to 1000000", key, d.Iterations))
	}
	if d.KeyLen < 16 || d.KeyLen > 64 {
		errs = append(errs, fmt.Errorf("%s.keylen: %d is not 16 to 64", key, d.KeyLen))
	}
	if k, err := base64.StdEncoding.DecodeString(c.Key); err != nil || len(k) != d.KeyLen {
		errs = append(errs, fmt.Errorf("%s.key: must be the base64 of a %d-byte derived key (wsgate hash-key --wampcra)", key, d.KeyLen))
	}
	return errs
}

// CRAKeyring is implemented by authenticators that hold WAMP-CRA keys.
type CRAKeyring interface {
	// CRAParams returns the parameters of authid's key, if it has one.
	CRAParams(authid string) (CRAParams, bool)
}

// LookupCRA returns the WAMP-CRA parameters of authid from a, or from the
// first authenticator of a chain that has them.
func LookupCRA(a Authenticator, authid string) (CRAParams, bool) {
	if k, ok := a.(CRAKeyring); ok {
		return k.CRAParams(authid)
	}
	return CRAParams{}, false
}

// CRAParams implements CRAKeyring for a chain.
func (c *chain) CRAParams(authid string) (CRAParams, bool) {
	for _, l := range c.links {
		if p, ok := LookupCRA(l.a, authid); ok {
			return p, true
		}
	}
	return CRAParams{}, false
}

// CRAParams implements CRAKeyring: the keys with a wampcra block.
func (a *apiKeys) CRAParams(authid string) (CRAParams, bool) {
	i, ok := a.byID[authid]
	if !ok || a.keys[i].cra == nil {
		return CRAParams{}, false
	}
	c := a.keys[i].cra
	return CRAParams{Salt: c.Salt, Iterations: c.Iterations, KeyLen: c.KeyLen}, true
}

// checkCRA verifies a WAMP-CRA proof for key k.
func (k *apiKey) checkCRA(p *CRAProof) bool {
	if k.cra == nil || p.Challenge == "" {
		return false
	}
	want := SignCRA(k.cra.Key, p.Challenge)
	return hmac.Equal([]byte(want), []byte(p.Signature))
}
