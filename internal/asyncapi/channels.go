package asyncapi

import (
	"fmt"
	"slices"
	"strings"

	"github.com/wsgate/wsgate/protocols/jsonws"
	"github.com/wsgate/wsgate/subjects"
)

// Special route keys.
const (
	keyConnect    = "$connect"
	keyDisconnect = "$disconnect"
	keyDefault    = "$default"
)

// ChannelID is the channel (and component) id of route key: AsyncAPI ids
// are [A-Za-z0-9_-]+, so every other byte, '-' and '_' included, is
// written _XX (upper-case hex), and the special routes are _connect,
// _disconnect and _default (lower case, so never an escape). Distinct keys
// get distinct ids, and "-" is free to join an id and a suffix.
func ChannelID(key string) string {
	switch key {
	case keyConnect:
		return "_connect"
	case keyDisconnect:
		return "_disconnect"
	case keyDefault:
		return "_default"
	}
	var sb strings.Builder
	for i := 0; i < len(key); i++ {
		c := key[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			sb.WriteByte(c)
		} else {
			fmt.Fprintf(&sb, "_%02X", c)
		}
	}
	return sb.String()
}

// channels adds a channel per route, its operations and messages: the
// shared routes on every stage that does not replace them, then each
// stage's own (their ids prefixed with the stage's: beta-say).
func (d *doc) channels() {
	for _, key := range sortedKeys(d.in.Routes) {
		stages := []string{""}
		if len(d.in.Stages) > 0 {
			stages = nil
			for _, st := range d.in.Stages {
				if _, own := st.Routes[key]; !own {
					stages = append(stages, st.Name)
				}
			}
		}
		if len(stages) > 0 { // else every stage has a route of its own
			d.route("", key, d.in.Routes[key], d.serversOf(stages...))
		}
	}
	for _, st := range d.in.Stages {
		for _, key := range sortedKeys(st.Routes) {
			d.route(st.Name, key, st.Routes[key], d.serversOf(st.Name))
		}
	}
}

// serversOf are references to the JSON servers of stages ("": none).
func (d *doc) serversOf(stages ...string) []any {
	var out []any
	for _, st := range stages {
		if s, ok := d.jsonServer[st]; ok {
			out = append(out, s)
		}
	}
	return out
}

func sortedKeys(m map[string]jsonws.RouteConfig) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// route adds the channel and operations of route key (of stage, if not
// ""), served on servers.
func (d *doc) route(stage, key string, rc jsonws.RouteConfig, servers []any) {
	id, title := ChannelID(key), key
	if stage != "" {
		id, title = ChannelID(stage)+"-"+id, key+" (stage "+stage+")"
	}
	self := obj{"$ref": "#/channels/" + id}
	msgs := obj{}
	ch := obj{"title": title, "messages": msgs}
	if len(servers) > 0 {
		ch["servers"] = servers
	}
	addr, params := d.address(key, rc)
	ch["address"] = addr // nil: not one subject (http, targets)
	if len(params) > 0 {
		ch["parameters"] = params
	}
	d.channels_[id] = ch
	kinds := integrations(rc)
	schema := jsonws.SchemaDoc(rc)
	ch["description"] = describe(key, rc, kinds, schema != nil)
	if key == keyConnect || key == keyDisconnect {
		name := strings.TrimPrefix(key, "$") + "Event"
		msgs["event"] = d.shared(name)
		return // the client sends nothing: no operation
	}
	payload := d.openPayload(key)
	if schema != nil {
		payload = d.schemaRef(id, schema)
	}
	msgs["request"] = obj{"name": key, "title": "Message of route " + key, "contentType": "application/json", "payload": payload}
	var replies []any
	for _, k := range kinds {
		name := ackMessage(k, rc.Raw)
		if _, dup := msgs[name]; !dup {
			msgs[name] = d.shared(name)
			replies = append(replies, obj{"$ref": "#/channels/" + id + "/messages/" + name})
		}
	}
	msgs["error"] = d.shared("error")
	replies = append(replies, obj{"$ref": "#/channels/" + id + "/messages/error"})
	d.operations[id+"-send"] = obj{
		"action":   "send",
		"channel":  self,
		"title":    "Send on route " + key,
		"summary":  "The client sends a message that the route selection expression (" + d.in.Selection + ") maps to " + key + ".",
		"messages": []any{obj{"$ref": "#/channels/" + id + "/messages/request"}},
		"reply":    obj{"channel": self, "messages": replies},
	}
	if slices.Contains(kinds, "subscribe") {
		name := "message"
		if rc.Raw {
			name = "rawMessage"
		}
		msgs[name] = d.shared(name)
		d.operations[id+"-receive"] = obj{
			"action":   "receive",
			"channel":  self,
			"title":    "Receive what route " + key + " subscribed to",
			"messages": []any{obj{"$ref": "#/channels/" + id + "/messages/" + name}},
		}
	}
}

// integrations are the route's integrations: its own and its targets'.
func integrations(rc jsonws.RouteConfig) []string {
	var out []string
	for _, k := range append([]string{rc.Integration}, targetKinds(rc)...) {
		if k != "" && !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out
}

func targetKinds(rc jsonws.RouteConfig) []string {
	var out []string
	for _, t := range rc.Targets {
		out = append(out, t.Integration)
	}
	return out
}

// ackMessage names what the gateway answers a message of an integration
// with, when all goes well.
func ackMessage(kind string, raw bool) string {
	switch kind {
	case "publish":
		return "published"
	case "subscribe":
		return "subscribed"
	case "unsubscribe":
		return "unsubscribed"
	}
	if raw {
		return "rawReply"
	}
	return "reply"
}

// describe says what a route does, for its channel.
func describe(key string, rc jsonws.RouteConfig, kinds []string, checked bool) string {
	var sb strings.Builder
	switch key {
	case keyConnect:
		sb.WriteString("Runs during the WebSocket upgrade, before the connection exists; the client sends nothing. ")
	case keyDisconnect:
		sb.WriteString("Runs when the connection has ended; the client sends nothing. ")
	case keyDefault:
		sb.WriteString("Takes every message that no other route takes, JSON or not. ")
	}
	fmt.Fprintf(&sb, "Integration: %s", strings.Join(kinds, ", "))
	if len(rc.Targets) > 0 {
		sb.WriteString(" (a target chosen by condition)")
	}
	if rc.Integration != "http" && rc.Subject != "" {
		fmt.Fprintf(&sb, " on the NATS subject %s", rc.Subject)
	}
	sb.WriteString(".")
	if checked {
		sb.WriteString(" The gateway checks every message against the route's schema and answers one that does not match with an error frame (bad_request).")
	}
	return sb.String()
}

// address is the channel address of a route: its subject template, each
// variable a parameter; nil when the route has no one subject.
func (d *doc) address(key string, rc jsonws.RouteConfig) (any, obj) {
	if rc.Integration == "http" || rc.Subject == "" {
		return nil, nil
	}
	params := obj{}
	if path, ok := strings.CutPrefix(rc.Subject, "$request.body."); ok {
		name := paramName(path, params)
		params[name] = obj{
			"description": "The subject the client names in the message's " + path + " member (checked against its permissions, not escaped).",
			"location":    "$message.payload#" + pointer(path),
		}
		return "{" + name + "}", params
	}
	t, err := subjects.ParseTemplate(rc.Subject)
	if err != nil {
		return rc.Subject, nil
	}
	addr := rc.Subject
	for _, v := range t.Vars() {
		name := paramName(strings.TrimPrefix(v, "body."), params)
		addr = strings.ReplaceAll(addr, "{"+v+"}", "{"+name+"}")
		params[name] = param(key, v)
	}
	return addr, params
}

// param describes a template variable.
func param(key, v string) obj {
	const escaped = " (escaped into one subject token)"
	root, rest, _ := strings.Cut(v, ".")
	switch root {
	case "connectionId":
		return obj{"description": "The client's connection id, given by the gateway."}
	case "principal":
		return obj{"description": "The id of the client's principal (who it authenticated as)" + escaped + "."}
	case "route":
		return obj{"description": "The route key.", "enum": []any{key}}
	case "body":
		return obj{"description": "The message's " + rest + " member" + escaped + ".", "location": "$message.payload#" + pointer(rest)}
	case "claims":
		return obj{"description": "The principal's claim " + rest + escaped + "."}
	case "context":
		return obj{"description": "The authorizer's context value " + rest + escaped + "."}
	case "stage":
		return obj{"description": "The connection's stage variable " + rest + "."}
	}
	return obj{"description": "Template variable " + v + "."}
}

// paramName makes a parameter name ([A-Za-z0-9_-]+) of s, unique in taken.
func paramName(s string, taken obj) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			b[i] = '_'
		}
	}
	name := string(b)
	if name == "" {
		name = "param"
	}
	for i, n := 2, name; ; i++ {
		if _, dup := taken[n]; !dup {
			return n
		}
		n = fmt.Sprintf("%s%d", name, i)
	}
}

// pointer is the JSON pointer of a dotted body path.
func pointer(path string) string {
	var sb strings.Builder
	for seg := range strings.SplitSeq(path, ".") {
		sb.WriteByte('/')
		seg = strings.ReplaceAll(seg, "~", "~0")
		sb.WriteString(strings.ReplaceAll(seg, "/", "~1"))
	}
	return sb.String()
}
