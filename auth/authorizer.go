package auth

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/wsgate/wsgate/subjects"
)

// A custom authorizer is a service the gateway asks about each connecting
// client, like a managed API gateway's REQUEST authorizer: it is sent an
// AuthorizerRequest as JSON and answers an AuthorizerReply. Type nats asks
// it on the bus (a NATS request, answered by any worker subscribed to the
// subject, usually in a queue group); type http POSTs to it.
//
// A timeout, a transport error or an answer that does not parse refuses the
// client and logs one line with the cause. Answers are cached per identity
// (see AuthorizerOptions.IdentitySources) for the answer's TTL, allow and
// deny alike; concurrent clients with the same identity share one request.

// AuthorizerOptions are the settings both authorizer types share.
type AuthorizerOptions struct {
	// Timeout bounds one request to the authorizer. Default 2s.
	Timeout time.Duration `yaml:"timeout"`
	// IdentitySources say what identifies a client for the cache: "token",
	// "username", "password", "source_ip", "client_cert",
	// "header:<Name>", "query:<name>", "cookie:<name>". A client for whom
	// all are empty is not recognised (the authorizer is not asked), and
	// two clients with the same values share a cached answer even if
	// other request fields differ. Default [token, username, password].
	IdentitySources []string `yaml:"identity_sources"`
	// MaxTTL caps how long an answer is cached, whatever TTL it asks for.
	// Default 5m; negative disables the cache.
	MaxTTL time.Duration `yaml:"max_ttl"`
	// CacheSize is the most answers cached; when full, the oldest goes.
	// Default 10000.
	CacheSize int `yaml:"cache_size"`
}

// NATSAuthorizerConfig configures type nats.
//
//   - type: nats
//     nats:
//     subject: auth.authorize
//     timeout: 1s
//     identity_sources: ["header:Authorization", "cookie:session"]
type NATSAuthorizerConfig struct {
	// Subject the request is sent to. Required.
	Subject string `yaml:"subject"`
	// AuthorizerOptions, inline: timeout, identity_sources, max_ttl,
	// cache_size.
	AuthorizerOptions `yaml:",inline"`
}

// authorizer is the shared half of the nats and http authorizers: identity,
// cache, request and answer. call carries the request.
type authorizer struct {
	kind    string // "nats" or "http", for errors and logs
	target  string // the subject or URL, for logs
	call    func(ctx context.Context, req []byte) ([]byte, error)
	sources []identitySource
	timeout time.Duration
	maxTTL  time.Duration
	cache   *replyCache // nil: no caching
	flight  singleflight.Group
	now     func() time.Time
	log     *slog.Logger
}

var _ Authenticator = (*authorizer)(nil)

// authResult is a decision: a principal, or a refusal with its reason.
type authResult struct {
	p      *Principal // nil: refused
	reason string
}

// refusal is a transport's clean "no" (an HTTP 401 or 403): the client is
// refused, nothing is logged as a failure and nothing is cached.
type refusal struct{ reason string }

func (r *refusal) Error() string { return r.reason }

// newAuthorizer checks the shared options and builds the shared half;
// errors name their key under prefix.
func newAuthorizer(kind, target string, o AuthorizerOptions, prefix string, d Deps) (*authorizer, []error) {
	var errs []error
	a := &authorizer{kind: kind, target: target, timeout: o.Timeout, maxTTL: o.MaxTTL, now: d.Now, log: d.Logger}
	switch {
	case o.Timeout < 0:
		errs = append(errs, fmt.Errorf("%s.timeout: must not be negative", prefix))
	case o.Timeout == 0:
		a.timeout = 2 * time.Second
	}
	if o.MaxTTL == 0 {
		a.maxTTL = 5 * time.Minute
	}
	size := o.CacheSize
	switch {
	case size < 0:
		errs = append(errs, fmt.Errorf("%s.cache_size: must not be negative", prefix))
	case size == 0:
		size = 10000
	}
	if a.maxTTL > 0 && size > 0 {
		a.cache = newReplyCache(size)
	}
	srcs := o.IdentitySources
	if len(srcs) == 0 {
		srcs = []string{"token", "username", "password"}
	}
	for i, s := range srcs {
		src, err := parseIdentitySource(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s.identity_sources[%d]: %w", prefix, i, err))
		}
		a.sources = append(a.sources, src)
	}
	return a, errs
}

// Authenticate asks the authorizer about c, or answers from the cache.
func (a *authorizer) Authenticate(ctx context.Context, c *Credentials) (*Principal, error) {
	key, ok := a.identity(c)
	if !ok {
		return nil, ErrNoCredentials
	}
	var (
		res    *authResult
		cached bool
	)
	if a.cache != nil {
		res, cached = a.cache.get(key, a.now())
	}
	if !cached {
		v, err, _ := a.flight.Do(string(key[:]), func() (any, error) {
			return a.ask(ctx, c, key)
		})
		if err != nil {
			return nil, err
		}
		res = v.(*authResult)
	}
	if res.p == nil {
		return nil, denied("%s authorizer: %s", a.kind, res.reason)
	}
	return res.p.clone(), nil
}

// ask sends the request and reads the answer, caching it for its TTL. The
// request is not cancelled with ctx, since other clients may share it.
func (a *authorizer) ask(ctx context.Context, c *Credentials, key [sha256.Size]byte) (*authResult, error) {
	body, err := json.Marshal(requestFrom(c))
	if err != nil {
		return nil, a.fail(fmt.Errorf("encode request: %w", err))
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.timeout)
	defer cancel()
	data, err := a.call(ctx, body)
	if ref := (*refusal)(nil); errors.As(err, &ref) {
		return &authResult{reason: ref.reason}, nil
	}
	if err != nil {
		return nil, a.fail(err)
	}
	if len(data) > maxReplyBytes {
		return nil, a.fail(fmt.Errorf("answer of %d bytes, max %d", len(data), maxReplyBytes))
	}
	var r AuthorizerReply
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, a.fail(fmt.Errorf("malformed answer: %w", err))
	}
	res := &authResult{reason: r.Reason}
	if r.Allow {
		res.p = &Principal{ID: r.Principal, Claims: r.Claims, Permissions: r.Permissions, Context: r.Context}
	} else if res.reason == "" {
		res.reason = "no reason given"
	}
	res.reason = truncate(res.reason, 200)
	if ttl := min(r.TTL, a.maxTTL); ttl > 0 && a.cache != nil {
		now := a.now()
		a.cache.put(key, res, now.Add(ttl), now)
	}
	return res, nil
}

// fail logs why the authorizer could not decide and returns the refusal.
func (a *authorizer) fail(err error) error {
	a.log.Warn("authorizer failed; client refused", "authorizer", a.kind, "target", a.target, "err", err)
	return fmt.Errorf("%w: %s authorizer failed: %w", ErrDenied, a.kind, err)
}

// requestFrom builds the request for c.
func requestFrom(c *Credentials) *AuthorizerRequest {
	r := &AuthorizerRequest{
		Protocol: c.Protocol, Token: c.Token, Username: c.Username, Password: c.Password,
		Headers: c.Headers, Query: c.Query, Cookies: c.Cookies,
		SourceIP: c.SourceIP, UserAgent: c.UserAgent,
	}
	if cert := c.ClientCert; cert != nil {
		sum := sha256.Sum256(cert.Raw)
		r.ClientCert = &AuthorizerCert{
			Subject: cert.Subject.String(), Issuer: cert.Issuer.String(),
			SHA256: hex.EncodeToString(sum[:]),
		}
		if cert.SerialNumber != nil {
			r.ClientCert.SerialNumber = cert.SerialNumber.String()
		}
	}
	return r
}

// identitySource is one parsed entry of identity_sources.
type identitySource struct {
	kind string // token, username, password, source_ip, client_cert, header, query, cookie
	name string // for header, query and cookie
}

// parseIdentitySource parses "token" or "header:Authorization".
func parseIdentitySource(s string) (identitySource, error) {
	kind, name, named := strings.Cut(s, ":")
	switch kind {
	case "token", "username", "password", "source_ip", "client_cert":
		if named {
			return identitySource{}, fmt.Errorf("%q: %s takes no name", s, kind)
		}
		return identitySource{kind: kind}, nil
	case "header", "query", "cookie":
		if name == "" {
			return identitySource{}, fmt.Errorf("%q: %s needs a name, as in %s:<name>", s, kind, kind)
		}
		if kind == "header" {
			name = http.CanonicalHeaderKey(name)
		}
		return identitySource{kind: kind, name: name}, nil
	}
	return identitySource{}, fmt.Errorf("%q is not token, username, password, source_ip, client_cert, header:<Name>, query:<name> or cookie:<name>", s)
}

// identity hashes the identity sources of c, unambiguously (every value
// length-prefixed). It reports false when all of them are empty.
func (a *authorizer) identity(c *Credentials) ([sha256.Size]byte, bool) {
	h := sha256.New()
	var buf [binary.MaxVarintLen64]byte
	write := func(s string) {
		h.Write(binary.AppendUvarint(buf[:0], uint64(len(s))))
		h.Write([]byte(s))
	}
	found := false
	for _, src := range a.sources {
		var vals []string
		switch src.kind {
		case "token":
			vals = nonEmpty(c.Token)
		case "username":
			vals = nonEmpty(c.Username)
		case "password":
			vals = nonEmpty(c.Password)
		case "source_ip":
			vals = nonEmpty(c.SourceIP)
		case "client_cert":
			if c.ClientCert != nil {
				vals = nonEmpty(string(c.ClientCert.Raw))
			}
		case "header":
			vals = c.Headers[src.name]
		case "query":
			vals = c.Query[src.name]
		case "cookie":
			if v, ok := c.Cookies[src.name]; ok {
				vals = nonEmpty(v)
			}
		}
		write(src.kind + ":" + src.name)
		h.Write(binary.AppendUvarint(buf[:0], uint64(len(vals))))
		for _, v := range vals {
			write(v)
			found = found || v != ""
		}
	}
	var key [sha256.Size]byte
	h.Sum(key[:0])
	return key, found
}

// nonEmpty returns s as a one-element list, or nil if it is empty.
func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

// newNATSAuthorizer checks c and builds the authorizer; errors name their
// key under prefix. If live, d.Requester is required.
func newNATSAuthorizer(c NATSAuthorizerConfig, prefix string, d Deps, live bool) (*authorizer, []error) {
	var errs []error
	if c.Subject == "" {
		errs = append(errs, fmt.Errorf("%s.subject: required", prefix))
	} else if err := subjects.ValidateSubject(c.Subject); err != nil {
		errs = append(errs, fmt.Errorf("%s.subject: %w", prefix, err))
	}
	a, aerrs := newAuthorizer(TypeNATS, c.Subject, c.AuthorizerOptions, prefix, d)
	errs = append(errs, aerrs...)
	if live && d.Requester == nil {
		errs = append(errs, fmt.Errorf("%s: no NATS connection to ask the authorizer on (Deps.Requester is nil)", prefix))
	}
	if len(errs) > 0 {
		return nil, errs
	}
	subject, timeout, req := c.Subject, a.timeout, d.Requester
	a.call = func(ctx context.Context, body []byte) ([]byte, error) {
		return req.Request(ctx, subject, body, timeout)
	}
	return a, nil
}
