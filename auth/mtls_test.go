package auth

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"net"
	"net/url"
	"reflect"
	"testing"
	"time"
)

func TestMTLS(t *testing.T) {
	notAfter := testNow.Add(24 * time.Hour)
	u, _ := url.Parse("spiffe://example.org/dev/42")
	full := &x509.Certificate{
		Subject:        pkix.Name{CommonName: "device-42", Organization: []string{"Acme"}},
		DNSNames:       []string{"d42.example.org"},
		EmailAddresses: []string{"ops@example.org"},
		URIs:           []*url.URL{u},
		IPAddresses:    []net.IP{net.ParseIP("10.1.2.3")},
		NotAfter:       notAfter,
	}
	hostile := &x509.Certificate{Subject: pkix.Name{CommonName: "a.>", Organization: []string{"x,y"}}}
	noCN := &x509.Certificate{Subject: pkix.Name{Organization: []string{"Acme"}}}
	empty := &x509.Certificate{}
	tests := []struct {
		name string
		cfg  MTLSConfig
		cert *x509.Certificate
		id   string
		err  error
	}{
		{"cn", MTLSConfig{}, full, "device-42", nil},
		{"dn", MTLSConfig{ID: "dn"}, full, "CN=device-42,O=Acme", nil},
		{"hostile cn is just an id", MTLSConfig{}, hostile, "a.>", nil},
		{"hostile dn", MTLSConfig{ID: "dn"}, hostile, `CN=a.\>,O=x\,y`, nil},
		{"no cn", MTLSConfig{}, noCN, "", ErrDenied},
		{"no cn, dn", MTLSConfig{ID: "dn"}, noCN, "O=Acme", nil},
		{"empty subject", MTLSConfig{ID: "dn"}, empty, "", ErrDenied},
		{"no cert", MTLSConfig{}, nil, "", ErrNoCredentials},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, errs := newMTLS(tt.cfg, "mtls", Deps{})
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			p, err := a.Authenticate(context.Background(), &Credentials{ClientCert: tt.cert, Token: "ignored"})
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("err = %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.ID != tt.id {
				t.Errorf("ID = %q, want %q", p.ID, tt.id)
			}
			if !p.ExpiresAt.Equal(tt.cert.NotAfter) {
				t.Errorf("ExpiresAt = %v", p.ExpiresAt)
			}
		})
	}
	a, _ := newMTLS(MTLSConfig{}, "mtls", Deps{})
	p, _ := a.Authenticate(context.Background(), &Credentials{ClientCert: full})
	want := map[string]any{"cn": "device-42", "dn": "CN=device-42,O=Acme",
		"sans": []any{"d42.example.org", "ops@example.org", "spiffe://example.org/dev/42", "10.1.2.3"}}
	if !reflect.DeepEqual(p.Claims, want) {
		t.Errorf("claims = %#v, want %#v", p.Claims, want)
	}
}
