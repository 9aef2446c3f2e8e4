package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
)

// testNow is the fixed clock of the tests.
var testNow = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// testKeyset holds the keys the tests sign with, generated once.
type testKeyset struct {
	rsaA, rsaB *rsa.PrivateKey
	ec256      *ecdsa.PrivateKey
	ec384      *ecdsa.PrivateKey
	ed         ed25519.PrivateKey
}

var testKeys = sync.OnceValue(func() *testKeyset {
	must := func(err error) {
		if err != nil {
			panic(err)
		}
	}
	k := &testKeyset{}
	var err error
	k.rsaA, err = rsa.GenerateKey(rand.Reader, 2048)
	must(err)
	k.rsaB, err = rsa.GenerateKey(rand.Reader, 2048)
	must(err)
	k.ec256, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(err)
	k.ec384, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	must(err)
	_, k.ed, err = ed25519.GenerateKey(rand.Reader)
	must(err)
	return k
})

// sign makes a token; kid is left out when empty.
func sign(t testing.TB, m jwt.SigningMethod, key any, kid string, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return s
}

// pemOf encodes public keys as PKIX PEM.
func pemOf(t testing.TB, keys ...crypto.PublicKey) []byte {
	t.Helper()
	var out []byte
	for _, k := range keys {
		der, err := x509.MarshalPKIXPublicKey(k)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})...)
	}
	return out
}

// writeFile writes data to a new file in a test directory.
func writeFile(t testing.TB, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// jwksKey is one key a test JWKS publishes.
type jwksKey struct {
	kid string
	alg jwkset.ALG
	key crypto.PublicKey
}

// jwksServer serves JWKS at /<name> over TLS and counts the fetches of
// each. Its client trusts it.
type jwksServer struct {
	*httptest.Server
	mu   sync.Mutex
	sets map[string][]byte
	hits map[string]*atomic.Int64
}

func newJWKSServer(t testing.TB, sets map[string][]jwksKey) *jwksServer {
	t.Helper()
	s := &jwksServer{sets: map[string][]byte{}, hits: map[string]*atomic.Int64{}}
	for name, keys := range sets {
		s.set(t, name, keys)
	}
	s.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := r.URL.Path[1:]
		s.mu.Lock()
		b, ok := s.sets[name]
		h := s.hits[name]
		s.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		h.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Write(b)
	}))
	t.Cleanup(s.Close)
	return s
}

// set replaces the keys published at /<name>.
func (s *jwksServer) set(t testing.TB, name string, keys []jwksKey) {
	t.Helper()
	st := jwkset.NewMemoryStorage()
	ctx := context.Background()
	for _, k := range keys {
		j, err := jwkset.NewJWKFromKey(k.key, jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{KID: k.kid, ALG: k.alg, USE: jwkset.UseSig}})
		if err != nil {
			t.Fatal(err)
		}
		if err := st.KeyWrite(ctx, j); err != nil {
			t.Fatal(err)
		}
	}
	b, err := st.JSONPublic(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sets[name] = b
	if s.hits[name] == nil {
		s.hits[name] = &atomic.Int64{}
	}
}

// fetches returns how often /<name> was fetched.
func (s *jwksServer) fetches(name string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[name].Load()
}

// testDeps are Deps with the fixed clock and a logger that writes to t.
func testDeps(t testing.TB) Deps {
	return Deps{Now: func() time.Time { return testNow }, Logger: testLogger(t)}
}

// ed25519GenerateKey is ed25519.GenerateKey from crypto/rand.
func ed25519GenerateKey() (ed25519.PublicKey, ed25519.PrivateKey, error) {
	return ed25519.GenerateKey(rand.Reader)
}

// sha256Hex is the hex SHA-256 of s.
func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
