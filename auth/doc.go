// Package auth turns the credentials a client presents into a Principal: an
// identity, its claims and the subject patterns it may publish and subscribe
// to.
//
// Authenticators are small values behind one interface; the bridge asks the
// configured chain once per connection, whatever the client protocol, and
// checks every publish, request and subscribe against the Principal's
// Permissions. Types here are pure: no network I/O happens in this package
// unless an authenticator documents that it does.
package auth
