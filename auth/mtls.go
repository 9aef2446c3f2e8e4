package auth

import (
	"context"
	"fmt"
)

// MTLSConfig configures type mtls: the client is who its TLS client
// certificate says, the certificate having been verified by the TLS server
// against its client CAs before the gateway sees it.
//
//   - type: mtls
//     mtls:
//     id: cn
//     permissions:
//     publish:   {allow: ["devices.{principal}.>"]}
//     subscribe: {allow: ["devices.{principal}.cmd.>"]}
//
// The principal's claims are "cn" (the subject CommonName), "dn" (the whole
// subject distinguished name, RFC 2253 style) and "sans" (the DNS, email,
// URI and IP subject alternative names, as strings). Its ExpiresAt is the
// certificate's NotAfter. A client without a certificate is not recognised.
type MTLSConfig struct {
	// ID says which name is the principal ID: "cn", the subject
	// CommonName (a certificate without one is refused), or "dn", the
	// subject distinguished name. Default "cn".
	ID string `yaml:"id"`
	// Permissions of every certificate principal; templates such as
	// "devices.{principal}.>" make them per certificate. Default:
	// auth.default_permissions.
	Permissions *Permissions `yaml:"permissions"`
}

// mtlsAuth is the mtls authenticator.
type mtlsAuth struct {
	useDN bool
	perms *Permissions
}

var _ Authenticator = (*mtlsAuth)(nil)

// newMTLS checks c and builds the authenticator; errors name their key
// under prefix.
func newMTLS(c MTLSConfig, prefix string, _ Deps) (*mtlsAuth, []error) {
	var errs []error
	a := &mtlsAuth{perms: c.Permissions.clone()}
	switch c.ID {
	case "", "cn":
	case "dn":
		a.useDN = true
	default:
		errs = append(errs, fmt.Errorf("%s.id: %q is not cn or dn", prefix, c.ID))
	}
	errs = append(errs, c.Permissions.validate(prefix+".permissions", principalPlaceholders)...)
	if len(errs) > 0 {
		return nil, errs
	}
	return a, nil
}

// Authenticate names the principal after the client certificate.
func (a *mtlsAuth) Authenticate(_ context.Context, c *Credentials) (*Principal, error) {
	cert := c.ClientCert
	if cert == nil {
		return nil, ErrNoCredentials
	}
	cn, dn := cert.Subject.CommonName, cert.Subject.String()
	sans := []any{}
	for _, n := range cert.DNSNames {
		sans = append(sans, n)
	}
	for _, n := range cert.EmailAddresses {
		sans = append(sans, n)
	}
	for _, u := range cert.URIs {
		sans = append(sans, u.String())
	}
	for _, ip := range cert.IPAddresses {
		sans = append(sans, ip.String())
	}
	id := cn
	if a.useDN {
		id = dn
	}
	if id == "" {
		what := "CommonName"
		if a.useDN {
			what = "subject"
		}
		return nil, denied("mtls: client certificate has no %s", what)
	}
	return &Principal{
		ID:          id,
		Claims:      map[string]any{"cn": cn, "dn": dn, "sans": sans},
		Permissions: a.perms,
		ExpiresAt:   cert.NotAfter,
	}, nil
}
