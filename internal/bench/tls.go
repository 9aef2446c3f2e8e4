package bench

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"time"
)

// benchCert is the self-signed certificate of a --tls run, made in memory
// and written to a temporary directory for the servers to read. Clients
// skip verifying it (insecureClientTLS).
type benchCert struct {
	dir, certFile, keyFile string
}

// newBenchCert makes an ECDSA P-256 certificate for 127.0.0.1 and
// localhost, valid for a day.
func newBenchCert() (*benchCert, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "wsgate bench"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("bench certificate: %w", err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "wsgate-bench-tls")
	if err != nil {
		return nil, err
	}
	c := &benchCert{dir: dir, certFile: filepath.Join(dir, "cert.pem"), keyFile: filepath.Join(dir, "key.pem")}
	if err := os.WriteFile(c.certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		c.remove()
		return nil, err
	}
	if err := os.WriteFile(c.keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		c.remove()
		return nil, err
	}
	return c, nil
}

func (c *benchCert) remove() { _ = os.RemoveAll(c.dir) }

// yaml is the gateway's tls: block for the certificate.
func (c *benchCert) yaml() string {
	return fmt.Sprintf("tls:\n  cert_file: %q\n  key_file: %q\n", c.certFile, c.keyFile)
}

// insecureClientTLS is every bench client's TLS config: the servers are
// local and their certificate is the bench's own, so it is not verified.
var insecureClientTLS = &tls.Config{InsecureSkipVerify: true}

// httpClient reads a target's /readyz and /metrics, over TLS too.
var httpClient = &http.Client{
	Timeout:   10 * time.Second,
	Transport: &http.Transport{TLSClientConfig: insecureClientTLS},
}

// httpBase is the http:// or https:// origin of a WebSocket URL.
func httpBase(wsURL string) (string, error) {
	u, err := url.Parse(wsURL)
	if err != nil {
		return "", err
	}
	switch u.Scheme {
	case "ws":
		u.Scheme = "http"
	case "wss":
		u.Scheme = "https"
	default:
		return "", fmt.Errorf("%s: not a ws:// or wss:// URL", wsURL)
	}
	return u.Scheme + "://" + u.Host, nil
}
