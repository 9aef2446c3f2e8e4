// Package auth turns the credentials a client presents into a Principal: an
// identity, its claims and the subject patterns it may publish and subscribe
// to.
//
// Authenticators are small values behind one interface; the bridge asks the
// configured chain (New) once per connection, whatever the client protocol,
// and checks every publish, request and subscribe against the Principal's
// Permissions. The chain tries its authenticators in order; each answers
// with a principal, a refusal (ErrDenied) or "not mine" (ErrNoCredentials).
//
// Authenticators:
//
//   - api_keys: random secrets stored as SHA-256 hashes (APIKeysConfig).
//   - jwt: JSON Web Tokens, RFC 7519, signed per RFC 7515 with the
//     algorithms of RFC 7518 and RFC 8037 (EdDSA); keys from an HMAC
//     secret, PEM files or a JWKS (RFC 7517), bound to their issuer
//     (JWTConfig).
//   - nats and http: a custom authorizer asked on the bus or over HTTP,
//     answers cached per identity (AuthorizerRequest, AuthorizerReply).
//   - mtls: the verified TLS client certificate (MTLSConfig).
//
// Permissions may hold templates ("devices.{claims.sub}.>") filled in once,
// at authentication, with every value escaped into a single subject token
// by package subjects, so that no claim can widen a pattern.
//
// The types here are pure. Network I/O happens only in the jwt
// authenticator (fetching a JWKS) and the http and nats authorizers; the
// nats authorizer reaches NATS through the Requester interface, so this
// package does not import nats.go.
package auth
