package auth

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"strconv"
)

// ErrDenied is returned (wrapped) by an authenticator that recognised the
// credentials and refused them.
var ErrDenied = errors.New("auth: denied")

// ErrNoCredentials is returned by an authenticator that found nothing it
// understands among the credentials; a chain then asks the next one.
var ErrNoCredentials = errors.New("auth: no credentials")

// Credentials are everything a client presented, gathered by the bridge
// (HTTP upgrade) and the protocol adapter (CONNECT/HELLO).
type Credentials struct {
	// Protocol is the client protocol name ("json", "mqtt", ...).
	Protocol string
	// Token is a bearer token from the Authorization header, the query
	// string, a cookie or the Sec-WebSocket-Protocol list.
	Token string
	// Username and Password come from protocol CONNECT frames.
	Username string
	Password string
	// CRA is a WAMP-CRA answer (with the authid as Username): only
	// api_keys with a wampcra block check it.
	CRA *CRAProof
	// Headers, Query and Cookies are the upgrade request's, for authorizers.
	Headers map[string][]string
	Query   map[string][]string
	Cookies map[string]string
	// SourceIP and UserAgent describe the client.
	SourceIP  string
	UserAgent string
	// ClientCert is the client's TLS certificate, the leaf of a chain the
	// TLS server has VERIFIED (tls.ConnectionState.VerifiedChains[0][0]).
	// It must stay nil when the server only requested a certificate
	// without verifying it: the mtls authenticator trusts whatever is here.
	ClientCert *x509.Certificate
}

// presented reports whether the client offered any credential of its own:
// a token, a username or password, or a client certificate. Headers, query
// parameters and cookies do not count, since every request has some.
func (c *Credentials) presented() bool {
	return c.Token != "" || c.Username != "" || c.Password != "" || c.ClientCert != nil
}

// Authenticator turns credentials into a principal. It returns an error
// wrapping ErrNoCredentials when it finds nothing it understands, and one
// wrapping ErrDenied when it recognises the credentials and refuses them.
// Implementations are safe for concurrent use.
type Authenticator interface {
	Authenticate(ctx context.Context, c *Credentials) (*Principal, error)
}

// None admits everyone as Anonymous. It is the authenticator of dev mode;
// the gateway logs loudly when it is in use.
type None struct{}

// Authenticate implements Authenticator.
func (None) Authenticate(context.Context, *Credentials) (*Principal, error) {
	return Anonymous, nil
}

// denied returns an error wrapping ErrDenied with a reason. The reason may
// reach logs, never the client.
func denied(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrDenied}, args...)...)
}

// scalarString formats a JSON-like scalar; objects, arrays and nil are not
// scalars.
func scalarString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case bool:
		return strconv.FormatBool(x), true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case int:
		return strconv.Itoa(x), true
	case int64:
		return strconv.FormatInt(x, 10), true
	case uint64:
		return strconv.FormatUint(x, 10), true
	case fmt.Stringer:
		return x.String(), true
	}
	return "", false
}
