package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
)

func (t tlsConfig) enabled() bool { return t.CertFile != "" || t.KeyFile != "" }

func (t tlsConfig) validate() []error {
	var errs []error
	if (t.CertFile == "") != (t.KeyFile == "") {
		errs = append(errs, errors.New("tls: cert_file and key_file go together"))
	}
	if t.enabled() {
		if _, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile); err != nil {
			errs = append(errs, fmt.Errorf("tls.cert_file: %w", err))
		}
	}
	switch t.ClientAuth {
	case "", "none":
	case "request", "require":
		if t.ClientCAFile == "" {
			errs = append(errs, fmt.Errorf("tls.client_ca_file: needed for client_auth %s", t.ClientAuth))
		}
	default:
		errs = append(errs, fmt.Errorf("tls.client_auth: %q is not none, request or require", t.ClientAuth))
	}
	if t.ClientCAFile != "" {
		if _, err := loadPool(t.ClientCAFile); err != nil {
			errs = append(errs, fmt.Errorf("tls.client_ca_file: %w", err))
		}
		if !t.enabled() {
			errs = append(errs, errors.New("tls.client_ca_file: needs cert_file and key_file"))
		}
	}
	return errs
}

func loadPool(file string) (*x509.CertPool, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, errors.New("no PEM certificates in " + file)
	}
	return pool, nil
}

// certReloader serves the certificate read last; reload reads the files
// again (on SIGHUP) and keeps the old certificate if they are broken.
type certReloader struct {
	certFile, keyFile string
	cert              atomic.Pointer[tls.Certificate]
}

func (r *certReloader) reload() error {
	c, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return err
	}
	r.cert.Store(&c)
	return nil
}

// serverTLS builds the TLS config of the main port.
func (t tlsConfig) serverTLS(log *slog.Logger) (*tls.Config, *certReloader, error) {
	r := &certReloader{certFile: t.CertFile, keyFile: t.KeyFile}
	if err := r.reload(); err != nil {
		return nil, nil, fmt.Errorf("tls: %w", err)
	}
	cfg := &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return r.cert.Load(), nil
		},
		// WebSocket upgrades are HTTP/1.1.
		NextProtos: []string{"http/1.1"},
	}
	if t.ClientCAFile != "" {
		pool, err := loadPool(t.ClientCAFile)
		if err != nil {
			return nil, nil, fmt.Errorf("tls.client_ca_file: %w", err)
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
		if t.ClientAuth == "require" {
			cfg.ClientAuth = tls.RequireAndVerifyClientCert
		}
	}
	log.Info("TLS on", "cert", t.CertFile, "client_auth", t.ClientAuth)
	return cfg, r, nil
}
