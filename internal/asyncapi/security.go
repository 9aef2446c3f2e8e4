package asyncapi

import (
	"github.com/wsgate/wsgate/auth"
)

// security adds the security schemes the auth config accepts and lists
// them on every server: a client satisfies any one of them. Without
// authenticators (dev mode, or anonymous access only) there are none.
func (d *doc) security() {
	token := false
	add := func(id string, s obj) {
		if _, dup := d.schemes[id]; !dup {
			d.schemes[id] = s
			d.security_ = append(d.security_, obj{"$ref": "#/components/securitySchemes/" + id})
		}
	}
	for _, a := range d.in.Auth.Authenticators {
		switch a.Type {
		case auth.TypeJWT:
			token = true
			add("jwt", obj{"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
				"description": "A JWT in the Authorization header (Bearer), or where the other token schemes say; MQTT and STOMP clients may give it as their password."})
		case auth.TypeAPIKeys:
			token = true
			add("apiKey", obj{"type": "http", "scheme": "bearer",
				"description": "An API key as the bearer token, or where the other token schemes say; MQTT and STOMP clients may give it as their password."})
		case auth.TypeNATS, auth.TypeHTTP:
			token = true
			add("authorizer", obj{"type": "http", "scheme": "bearer",
				"description": "A token (or username and password) that the gateway's authorizer checks."})
		case auth.TypeMTLS:
			add("clientCertificate", obj{"type": "X509", "description": "A TLS client certificate."})
		}
	}
	if token {
		c := d.in.Credentials
		if c.QueryParam != "" && c.QueryParam != "-" {
			add("queryToken", obj{"type": "httpApiKey", "name": c.QueryParam, "in": "query",
				"description": "The token in the upgrade request's query string, for clients that cannot set headers (browsers)."})
		}
		if c.Cookie != "" && c.Cookie != "-" {
			add("cookieToken", obj{"type": "httpApiKey", "name": c.Cookie, "in": "cookie",
				"description": "The token in a cookie."})
		}
		if p := c.SubprotocolPrefix; p != "" && p != "-" {
			add("subprotocolToken", obj{"type": "httpApiKey", "name": "Sec-WebSocket-Protocol", "in": "header",
				"description": "The token as a Sec-WebSocket-Protocol entry " + p + "<token>, beside the protocol's own token (never echoed back)."})
		}
	}
	if len(d.security_) == 0 {
		return
	}
	for _, s := range d.servers_ {
		s.(obj)["security"] = d.security_
	}
}
