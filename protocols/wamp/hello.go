package wamp

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wsgate/wsgate/auth"
	"github.com/wsgate/wsgate/bridge"
)

// authTimeout bounds the authentication of a HELLO.
const authTimeout = 10 * time.Second

// routerRoles are the roles and features WELCOME announces: only what
// works [WAMP "Feature Announcement"].
func routerRoles() Dict {
	return Dict{
		"broker": Dict{"features": Dict{
			"publisher_exclusion":           true,
			"publisher_identification":      true,
			"pattern_based_subscription":    true,
			"session_meta_api":              true,
			"subscriber_blackwhite_listing": true,
		}},
		"dealer": Dict{"features": Dict{
			"progressive_call_results": true,
			"call_timeout":             true,
			"call_canceling":           true,
			"caller_identification":    true,
			"shared_registration":      true,
			"session_meta_api":         true,
			"testament_meta_api":       true,
		}},
	}
}

// onHello handles HELLO: the realm, then authentication.
func (c *conn) onHello(m *Hello) error {
	if err := checkRealm(m.Realm); err != nil {
		return c.abort(errInvalidURIName, "invalid realm", bridge.ClosePolicy)
	}
	if c.p.realms != nil {
		r, ok := c.p.realms[m.Realm]
		if !ok {
			c.s.Metrics().ProtocolError(Name, "no_such_realm")
			return c.abort(errNoSuchRealm, fmt.Sprintf("no realm %q", short(m.Realm)), bridge.ClosePolicy)
		}
		c.prefix = r.SubjectPrefix
	}
	c.realm = m.Realm
	methods := authMethods(m.Details)
	for _, method := range methods {
		switch method {
		case "ticket":
			// "the Router [...] sends a CHALLENGE" and the client answers
			// with its ticket in AUTHENTICATE [WAMP "Ticket-based
			// Authentication"].
			c.hello = m
			c.state.Store(stateChallenged)
			c.send(&Challenge{AuthMethod: "ticket", Extra: Dict{}})
			return nil
		case "wampcra":
			return c.challengeCRA(m)
		}
	}
	// No in-band secret: the credentials of the upgrade request, or
	// anonymous access if the gateway allows it.
	return c.authenticate(&auth.Credentials{}, methods, "")
}

// onAuthenticate handles the ticket.
func (c *conn) onAuthenticate(m *Authenticate) error {
	authid := dictString(c.hello.Details, "authid")
	if c.challenge != "" {
		creds := &auth.Credentials{Username: authid, CRA: &auth.CRAProof{Challenge: c.challenge, Signature: m.Signature}}
		c.hello, c.challenge = nil, ""
		return c.authenticate(creds, []string{"wampcra"}, "wampcra")
	}
	creds := &auth.Credentials{Username: authid, Password: m.Signature}
	if looksLikeJWT(m.Signature) {
		creds = &auth.Credentials{Token: m.Signature}
	}
	c.hello = nil
	return c.authenticate(creds, []string{"ticket"}, "ticket")
}

// authenticate runs the gateway's authenticators and welcomes the client.
func (c *conn) authenticate(creds *auth.Credentials, methods []string, method string) error {
	ctx, cancel := context.WithTimeout(context.Background(), authTimeout)
	p, err := c.s.Authenticate(ctx, creds)
	cancel()
	if err != nil {
		c.s.Metrics().ProtocolError(Name, "unauthorized")
		reason := errAuthFailed
		if errors.Is(err, auth.ErrNoCredentials) && method == "" && len(methods) > 0 && !slices.Contains(methods, "anonymous") {
			reason = errNoAuthMethod
		}
		return c.abort(reason, "authentication failed", bridge.ClosePolicy)
	}
	c.authid, c.authrole, c.authmethod = p.ID, "user", method
	switch {
	case p.ID == "":
		c.authid, c.authrole, c.authmethod = "anonymous", "anonymous", "anonymous"
	case method == "":
		// Credentials that came with the WebSocket upgrade (a bearer
		// token, a cookie, a client certificate).
		c.authmethod = "token"
	}
	if c.session == 0 {
		c.session = newID()
	}
	c.sessionText = strconv.FormatUint(c.session, 10)
	// The session's maps are made on first use: an idle session has none.
	c.state.Store(stateEstablished)
	c.send(&Welcome{Session: c.session, Details: Dict{
		"realm":        c.realm,
		"authid":       c.authid,
		"authrole":     c.authrole,
		"authmethod":   c.authmethod,
		"authprovider": "wsgate",
		"roles":        routerRoles(),
		"agent":        "wsgate",
	}})
	c.joined()
	return nil
}

// authMethods is HELLO.Details.authmethods.
func authMethods(d Dict) []string {
	l, _ := d["authmethods"].([]any)
	var out []string
	for _, v := range l {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// looksLikeJWT reports whether a ticket has a JWT's three dot-separated
// parts.
func looksLikeJWT(s string) bool {
	return strings.Count(s, ".") == 2 && !strings.ContainsAny(s, " \t")
}
