package bench

import (
	"crypto/tls"
	"crypto/x509"
	"testing"
)

// TestBenchCert checks that --tls's certificate loads as the servers load
// it and is valid for 127.0.0.1, and that it is gone once removed.
func TestBenchCert(t *testing.T) {
	c, err := newBenchCert()
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := leaf.VerifyHostname("127.0.0.1"); err != nil {
		t.Error(err)
	}
	c.remove()
	if _, err := tls.LoadX509KeyPair(c.certFile, c.keyFile); err == nil {
		t.Error("the certificate files are still there after remove")
	}
}

func TestHTTPBase(t *testing.T) {
	for in, want := range map[string]string{
		"ws://127.0.0.1:8080/":                           "http://127.0.0.1:8080",
		"wss://127.0.0.1:8443/mqtt":                      "https://127.0.0.1:8443",
		"wss://h:1/socket.io/?EIO=4&transport=websocket": "https://h:1",
	} {
		if got, err := httpBase(in); err != nil || got != want {
			t.Errorf("httpBase(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := httpBase("http://x/"); err == nil {
		t.Error("httpBase took an http:// URL")
	}
}
