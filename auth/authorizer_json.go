package auth

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// AuthorizerRequest is what an authorizer is sent: everything the client
// presented. Empty fields are left out of the JSON.
type AuthorizerRequest struct {
	Protocol   string              `json:"protocol"`
	Token      string              `json:"token,omitempty"`
	Username   string              `json:"username,omitempty"`
	Password   string              `json:"password,omitempty"`
	Headers    map[string][]string `json:"headers,omitempty"`
	Query      map[string][]string `json:"query,omitempty"`
	Cookies    map[string]string   `json:"cookies,omitempty"`
	SourceIP   string              `json:"sourceIp,omitempty"`
	UserAgent  string              `json:"userAgent,omitempty"`
	ClientCert *AuthorizerCert     `json:"clientCert,omitempty"`
}

// AuthorizerCert describes a verified client certificate.
type AuthorizerCert struct {
	// Subject and Issuer are distinguished names, RFC 2253 style.
	Subject string `json:"subject"`
	Issuer  string `json:"issuer"`
	// SerialNumber is in decimal.
	SerialNumber string `json:"serialNumber"`
	// SHA256 is the hex SHA-256 of the certificate's DER bytes.
	SHA256 string `json:"sha256"`
}

// AuthorizerReply is an authorizer's answer:
//
//	{"allow": true, "principal": "user-7", "claims": {"tenant": "acme"},
//	 "permissions": {"publish": {"allow": ["chat.{claims.tenant}.>"]}},
//	 "context": {"plan": "pro"}, "ttl": "30s"}
//	{"allow": false, "reason": "account suspended", "ttl_seconds": 60}
//
// "allow" is required, and so is "principal" when allow is true.
// "permissions" may use templates; left out, the principal gets
// auth.default_permissions, and an unknown key in it refuses the client.
// The TTL, "ttl" as a Go duration string or a number of seconds, or
// "ttl_seconds", is how long the answer may be cached (capped by max_ttl);
// none means not at all.
type AuthorizerReply struct {
	Allow       bool
	Principal   string
	Claims      map[string]any
	Permissions *Permissions
	Context     map[string]string
	TTL         time.Duration
	Reason      string
}

// replyJSON is the wire form of AuthorizerReply.
type replyJSON struct {
	Allow       *bool             `json:"allow"`
	Principal   string            `json:"principal,omitempty"`
	Claims      map[string]any    `json:"claims,omitempty"`
	Permissions *Permissions      `json:"permissions,omitempty"`
	Context     map[string]string `json:"context,omitempty"`
	TTL         json.RawMessage   `json:"ttl,omitempty"`
	TTLSeconds  *float64          `json:"ttl_seconds,omitempty"`
	Reason      string            `json:"reason,omitempty"`
}

// MarshalJSON writes r as an authorizer would answer, the TTL as a
// duration string.
func (r AuthorizerReply) MarshalJSON() ([]byte, error) {
	w := replyJSON{Allow: &r.Allow, Principal: r.Principal, Claims: r.Claims,
		Permissions: r.Permissions, Context: r.Context, Reason: r.Reason}
	if r.TTL > 0 {
		w.TTL, _ = json.Marshal(r.TTL.String())
	}
	return json.Marshal(w)
}

// UnmarshalJSON reads an answer, refusing one without "allow", an allow
// without "principal", a malformed TTL or malformed permissions.
func (r *AuthorizerReply) UnmarshalJSON(b []byte) error {
	var w replyJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	if w.Allow == nil {
		return errors.New(`no "allow"`)
	}
	if *w.Allow && w.Principal == "" {
		return errors.New(`"allow": true without "principal"`)
	}
	ttl, err := parseTTL(w.TTL, w.TTLSeconds)
	if err != nil {
		return err
	}
	*r = AuthorizerReply{Allow: *w.Allow, Principal: w.Principal, Claims: w.Claims,
		Permissions: w.Permissions, Context: w.Context, TTL: ttl, Reason: w.Reason}
	return nil
}

// maxTTLSeconds keeps a huge TTL from overflowing a time.Duration; any TTL
// is capped by max_ttl anyway.
const maxTTLSeconds = 1 << 30

// parseTTL reads "ttl" (a duration string or seconds) or "ttl_seconds".
func parseTTL(ttl json.RawMessage, secs *float64) (time.Duration, error) {
	if len(ttl) > 0 && string(ttl) != "null" {
		if secs != nil {
			return 0, errors.New(`both "ttl" and "ttl_seconds"`)
		}
		var s string
		if err := json.Unmarshal(ttl, &s); err == nil {
			d, err := time.ParseDuration(s)
			if err != nil {
				return 0, fmt.Errorf(`"ttl": %w`, err)
			}
			if d < 0 {
				return 0, errors.New(`"ttl": negative`)
			}
			return d, nil
		}
		var f float64
		if err := json.Unmarshal(ttl, &f); err != nil {
			return 0, errors.New(`"ttl": neither a duration string nor a number of seconds`)
		}
		secs = &f
	}
	if secs == nil {
		return 0, nil
	}
	switch f := *secs; {
	case f < 0:
		return 0, errors.New("ttl: negative")
	case f > maxTTLSeconds:
		return maxTTLSeconds * time.Second, nil
	default:
		return time.Duration(f * float64(time.Second)), nil
	}
}

// maxReplyBytes bounds an authorizer's answer.
const maxReplyBytes = 1 << 20
