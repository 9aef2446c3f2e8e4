package asyncapi

import "strings"

// shared adds the shared message name to the components (once) and
// returns a reference to it.
func (d *doc) shared(name string) obj {
	if _, ok := d.messages[name]; !ok {
		m := sharedMessages[name]
		d.messages[name] = obj{"name": name, "title": m.title, "contentType": "application/json", "payload": m.payload()}
	}
	return obj{"$ref": "#/components/messages/" + name}
}

// envelope is the payload of a gateway frame of type typ with members.
func envelope(typ string, required []any, members obj) obj {
	props := obj{"type": obj{"const": typ}}
	for k, v := range members {
		props[k] = v
	}
	return obj{"type": "object", "required": append([]any{"type"}, required...), "properties": props}
}

var (
	str       = func(desc string) obj { return obj{"type": "string", "description": desc} }
	echoedID  = obj{"description": "The id member of the client's message, echoed when it had one."}
	routeName = str("The route key.")
	data      = obj{"description": "The payload: the NATS message body itself when it is JSON, a string when it is other text, base64 (with encoding) otherwise."}
	encoding  = obj{"type": "string", "enum": []any{"base64"}}
)

// sharedMessages are the frames the gateway sends (protocols/jsonws
// envelope.go) and the events of $connect and $disconnect.
var sharedMessages = map[string]struct {
	title   string
	payload func() obj
}{
	"reply": {"Reply of a two-way route", func() obj {
		return envelope("reply", []any{"route"}, obj{"route": routeName, "id": echoedID, "data": data, "encoding": encoding})
	}},
	"rawReply": {"Reply of a raw two-way route: the worker's answer as it is", func() obj {
		return obj{"description": "The reply's body, unchanged."}
	}},
	"published": {"Acknowledgement of a publish (only to a message with an id)", func() obj {
		return envelope("published", []any{"route", "subject"}, obj{"route": routeName, "id": echoedID, "subject": str("The NATS subject published to.")})
	}},
	"subscribed": {"Acknowledgement of a subscribe", func() obj {
		return envelope("subscribed", []any{"route", "subject"}, obj{"route": routeName, "id": echoedID, "subject": str("The NATS subject (pattern) subscribed to.")})
	}},
	"unsubscribed": {"Acknowledgement of an unsubscribe", func() obj {
		return envelope("unsubscribed", []any{"route", "subject"}, obj{"route": routeName, "id": echoedID, "subject": str("The NATS subject (pattern) unsubscribed from.")})
	}},
	"message": {"A message on a subscribed subject", func() obj {
		return envelope("message", []any{"subject", "data"}, obj{"subject": str("The NATS subject the message was published on."), "data": data, "encoding": encoding})
	}},
	"rawMessage": {"A message on a subscribed subject, as it is (raw route)", func() obj {
		return obj{"description": "The NATS message body, unchanged."}
	}},
	"error": {"Error frame", func() obj {
		return envelope("error", []any{"error", "message"}, obj{
			"route": routeName, "id": echoedID,
			"error":   str("The error code: " + strings.Join(errorCodes, ", ") + "."),
			"message": str("What went wrong, for people; for a message that does not match its route's schema, the JSON pointer and the schema keyword that failed."),
			"status":  obj{"type": "integer", "description": "The HTTP status of an http integration's error answer."},
			"subject": str("The subject concerned, if any."),
			"data":    data,
		})
	}},
	"connectEvent": {"The connection, as $connect's integration gets it", func() obj {
		return obj{"type": "object", "description": "The connection's info (id, protocol, principal, remote address, ...), sent by the gateway to the integration; the client sends nothing."}
	}},
	"disconnectEvent": {"The connection that ended, as $disconnect's integration gets it", func() obj {
		return obj{"type": "object", "description": "The connection's info with its close code, reason and who closed it, sent by the gateway to the integration."}
	}},
}

// errorCodes are the codes of error frames (protocols/jsonws envelope.go).
var errorCodes = []string{"bad_json", "no_route", "bad_request", "forbidden", "timeout", "no_responders",
	"integration_failed", "not_subscribed", "too_many_requests", "rate_limited", "limit_exceeded", "transform_failed", "internal"}

// openPayload is the payload of a route without a schema: an object
// whose selection member names the route, when the selection expression
// is one top-level member; any message for $default.
func (d *doc) openPayload(key string) obj {
	if key == keyDefault {
		return obj{"description": "Any message that no other route takes, JSON or not."}
	}
	m, ok := strings.CutPrefix(d.in.Selection, "$request.body.")
	if !ok || m == "" || strings.ContainsAny(m, ".[{$") {
		return obj{"type": "object"}
	}
	return obj{"type": "object", "required": []any{m}, "properties": obj{m: obj{"const": key}}}
}

// schemaRef puts a route's schema into the components under name and
// returns a reference to it. References within the schema (#/$defs/x)
// are rebased onto its place in the document, where an AsyncAPI tool
// resolves them.
func (d *doc) schemaRef(name string, s any) obj {
	switch s {
	case true:
		s = obj{}
	case false:
		s = obj{"not": obj{}}
	}
	d.schemas[name] = rebase(s, "#/components/schemas/"+name)
	return obj{"$ref": "#/components/schemas/" + name}
}

// rebase returns v with every "$ref": "#..." made "base...".
func rebase(v any, base string) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			if s, ok := e.(string); ok && k == "$ref" && strings.HasPrefix(s, "#") {
				out[k] = base + s[1:]
				continue
			}
			out[k] = rebase(e, base)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = rebase(e, base)
		}
		return out
	}
	return v
}
