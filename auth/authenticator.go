package auth

import (
	"context"
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
	// Headers, Query and Cookies are the upgrade request's, for authorizers.
	Headers map[string][]string
	Query   map[string][]string
	Cookies map[string]string
	// SourceIP and UserAgent describe the client.
	SourceIP  string
	UserAgent string
}

// Authenticator turns credentials into a principal.
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
	case fmt.Stringer:
		return x.String(), true
	}
	return "", false
}
