package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"strings"
)

// APIKeysConfig configures type api_keys: long-lived secrets handed to
// devices and services, stored in the config only as hashes.
//
//   - type: api_keys
//     api_keys:
//     keys:
//   - id: sensor-42
//     hash: "sha256:2569e4880224a577bb23e74733b2729f5900a4bbd8a42a0d8f66caebf9fc24aa"
//     claims: {tenant: acme}
//     permissions:
//     publish:   {allow: ["devices.{principal}.>"]}
//     subscribe: {allow: ["devices.{principal}.cmd.>"]}
//
// A key arrives as the bearer token (Credentials.Token), or as the password
// of an MQTT CONNECT or STOMP login with the key's id, or nothing, as the
// username.
//
// Keys are hashed with a single SHA-256, not bcrypt or argon2. Those are
// for passwords people choose, which are short enough to guess, so every
// guess must be made slow. An API key is a long random secret: nobody can
// guess it, slow or fast, and a slow hash would only make every connection
// slow (and let a flood of bogus keys eat the gateway's CPU). Keys MUST
// therefore be random and at least 32 characters long, for instance
// 32 bytes from crypto/rand in hex or base64url; a key a person made up is
// not safe here.
type APIKeysConfig struct {
	// Keys are the accepted keys. Required: at least one.
	Keys []APIKey `yaml:"keys"`
}

// APIKey is one accepted key.
type APIKey struct {
	// ID names the key. It becomes the principal's ID, and MQTT and STOMP
	// clients may send it as their username. Required; unique.
	ID string `yaml:"id"`
	// Hash is HashKey of the key: "sha256:" and 64 lower-case hex digits.
	// Required; unique.
	Hash string `yaml:"hash"`
	// Claims become the principal's claims (for {claims.<name>} templates
	// and the principal headers). Default none.
	Claims map[string]any `yaml:"claims"`
	// Permissions are this key's. Default: auth.default_permissions.
	Permissions *Permissions `yaml:"permissions"`
	// WAMPCRA, when set, lets a WAMP client with this key's id as its
	// authid prove it holds the key by WAMP-CRA (see WAMPCRA).
	WAMPCRA *WAMPCRA `yaml:"wampcra"`
}

// hashPrefix starts every key hash; it names the algorithm so that another
// can be added later.
const hashPrefix = "sha256:"

// HashKey returns the form of key stored in an api_keys config:
// "sha256:" and the lower-case hex SHA-256 of key. key must be a random
// secret of at least 32 characters (see APIKeysConfig); HashKey does not
// check.
func HashKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hashPrefix + hex.EncodeToString(sum[:])
}

// apiKeys is the api_keys authenticator.
type apiKeys struct {
	keys []apiKey
	byID map[string]int
}

// apiKey is one key, ready to compare.
type apiKey struct {
	sum [sha256.Size]byte
	p   *Principal
	cra *WAMPCRA // with defaults; nil without one
}

var _ Authenticator = (*apiKeys)(nil)

// newAPIKeys checks c and builds the authenticator; errors name their key
// under prefix.
func newAPIKeys(c APIKeysConfig, prefix string) (*apiKeys, []error) {
	var errs []error
	if len(c.Keys) == 0 {
		errs = append(errs, fmt.Errorf("%s.keys: required: at least one key", prefix))
	}
	a := &apiKeys{byID: make(map[string]int, len(c.Keys))}
	byHash := make(map[[sha256.Size]byte]string, len(c.Keys))
	for i, k := range c.Keys {
		key := fmt.Sprintf("%s.keys[%d]", prefix, i)
		switch _, dup := a.byID[k.ID]; {
		case k.ID == "":
			errs = append(errs, fmt.Errorf("%s.id: required", key))
		case dup:
			errs = append(errs, fmt.Errorf("%s.id: %q is used by another key", key, k.ID))
		}
		sum, err := parseKeyHash(k.Hash)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s.hash: %w", key, err))
		} else if other, dup := byHash[sum]; dup {
			errs = append(errs, fmt.Errorf("%s.hash: the same key as %q", key, other))
		} else {
			byHash[sum] = k.ID
		}
		errs = append(errs, k.Permissions.validate(key+".permissions", principalPlaceholders)...)
		var cra *WAMPCRA
		if k.WAMPCRA != nil {
			errs = append(errs, k.WAMPCRA.validate(key+".wampcra")...)
			d := k.WAMPCRA.withDefaults()
			cra = &d
		}
		a.byID[k.ID] = len(a.keys)
		a.keys = append(a.keys, apiKey{sum: sum, cra: cra, p: &Principal{
			ID:          k.ID,
			Claims:      k.Claims,
			Permissions: k.Permissions.clone(),
			keyHash:     k.Hash,
		}})
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return a, nil
}

// ValidateKeyHash checks that h has the form HashKey produces.
func ValidateKeyHash(h string) error {
	_, err := parseKeyHash(h)
	return err
}

// parseKeyHash decodes a HashKey result.
func parseKeyHash(h string) ([sha256.Size]byte, error) {
	var sum [sha256.Size]byte
	hexPart, ok := strings.CutPrefix(h, hashPrefix)
	switch {
	case h == "":
		return sum, fmt.Errorf("required: %s and the key's SHA-256 in hex (wsgate hash-key)", hashPrefix)
	case !ok:
		return sum, fmt.Errorf("must start with %q", hashPrefix)
	case len(hexPart) != 2*sha256.Size || strings.ToLower(hexPart) != hexPart:
		return sum, fmt.Errorf("must be %q and %d lower-case hex digits", hashPrefix, 2*sha256.Size)
	}
	if _, err := hex.Decode(sum[:], []byte(hexPart)); err != nil {
		return sum, fmt.Errorf("must be %q and %d lower-case hex digits: %w", hashPrefix, 2*sha256.Size, err)
	}
	return sum, nil
}

// Authenticate recognises a key in the token, or in the password when the
// username is a key id or empty. A username that is a key id with the
// wrong password is refused; a key that matches nothing is not recognised
// (it may be another authenticator's token).
func (a *apiKeys) Authenticate(_ context.Context, c *Credentials) (*Principal, error) {
	if c.Token != "" {
		if k := a.find(c.Token); k != nil {
			return k.p.clone(), nil
		}
	}
	if c.CRA != nil {
		i, ok := a.byID[c.Username]
		if !ok {
			return nil, ErrNoCredentials
		}
		if !a.keys[i].checkCRA(c.CRA) {
			return nil, denied("api key %q: wrong WAMP-CRA signature", c.Username)
		}
		return a.keys[i].p.clone(), nil
	}
	if c.Password == "" && c.Username == "" {
		return nil, ErrNoCredentials
	}
	if c.Username == "" {
		if k := a.find(c.Password); k != nil {
			return k.p.clone(), nil
		}
		return nil, ErrNoCredentials
	}
	i, ok := a.byID[c.Username]
	if !ok {
		return nil, ErrNoCredentials
	}
	k := &a.keys[i]
	sum := sha256.Sum256([]byte(c.Password))
	if subtle.ConstantTimeCompare(sum[:], k.sum[:]) != 1 {
		return nil, denied("api key %q: wrong key", c.Username)
	}
	return k.p.clone(), nil
}

// find returns the key whose hash is the hash of secret, comparing with
// every key in constant time.
func (a *apiKeys) find(secret string) *apiKey {
	sum := sha256.Sum256([]byte(secret))
	found := -1
	for i := range a.keys {
		if subtle.ConstantTimeCompare(sum[:], a.keys[i].sum[:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return nil
	}
	return &a.keys[found]
}
