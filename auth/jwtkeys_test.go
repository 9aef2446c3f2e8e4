package auth

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"
)

func TestLoadPublicKeys(t *testing.T) {
	k := testKeys()
	block := func(typ string, der []byte) []byte { return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}) }
	certDER, err := x509.CreateCertificate(rand.Reader,
		&x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "idp"}, NotAfter: testNow.Add(time.Hour)},
		&x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "idp"}},
		&k.ec256.PublicKey, k.ec256)
	if err != nil {
		t.Fatal(err)
	}
	p224, err := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p224DER, _ := x509.MarshalPKIXPublicKey(&p224.PublicKey)
	tests := []struct {
		name string
		pem  []byte
		n    int    // keys loaded
		err  string // substring of the error
	}{
		{"PKIX keys", pemOf(t, &k.rsaA.PublicKey, &k.ec256.PublicKey, k.ed.Public()), 3, ""},
		{"PKCS1 RSA", block("RSA PUBLIC KEY", x509.MarshalPKCS1PublicKey(&k.rsaB.PublicKey)), 1, ""},
		{"certificate", block("CERTIFICATE", certDER), 1, ""},
		{"text around blocks", append([]byte("# comment\n"), pemOf(t, k.ed.Public())...), 1, ""},
		{"P-224", block("PUBLIC KEY", p224DER), 0, "unsupported curve"},
		{"EC parameters", block("EC PARAMETERS", []byte{1}), 0, "not a PUBLIC KEY"},
		{"RSA private key", block("RSA PRIVATE KEY", []byte{1}), 0, "a private key"},
		{"garbage DER", block("PUBLIC KEY", []byte("garbage")), 0, "PEM block 1"},
		{"second block bad", append(pemOf(t, k.ed.Public()), block("PUBLIC KEY", []byte("x"))...), 0, "PEM block 2"},
		{"empty", nil, 0, "no PEM public key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keys, err := loadPublicKeys(writeFile(t, "k.pem", tt.pem))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(keys) != tt.n {
				t.Errorf("%d keys, want %d", len(keys), tt.n)
			}
		})
	}
}

func TestKeyFits(t *testing.T) {
	k := testKeys()
	tests := []struct {
		alg  string
		key  any
		want bool
	}{
		{"RS256", &k.rsaA.PublicKey, true}, {"PS512", &k.rsaA.PublicKey, true}, {"ES256", &k.rsaA.PublicKey, false},
		{"ES256", &k.ec256.PublicKey, true}, {"ES384", &k.ec256.PublicKey, false}, {"ES384", &k.ec384.PublicKey, true},
		{"ES512", &k.ec384.PublicKey, false}, {"RS256", &k.ec256.PublicKey, false},
		{"EdDSA", k.ed.Public(), true}, {"ES256", k.ed.Public(), false}, {"EdDSA", ed25519.PublicKey(nil), true},
		{"RS256", "not a key", false}, {"RS256", (*rsa.PublicKey)(nil), true},
	}
	for _, tt := range tests {
		if got := keyFits(tt.alg, tt.key); got != tt.want {
			t.Errorf("keyFits(%s, %T) = %v, want %v", tt.alg, tt.key, got, tt.want)
		}
	}
}
