package asyncapi

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/wsgate/wsgate/auth"
	"github.com/wsgate/wsgate/protocols/jsonws"
)

func TestChannelID(t *testing.T) {
	tests := []struct{ key, want string }{
		{"say", "say"},
		{"getProfile2", "getProfile2"},
		{"get-profile", "get_2Dprofile"},
		{"a_b", "a_5Fb"},
		{"a.b", "a_2Eb"},
		{"$connect", "_connect"},
		{"$disconnect", "_disconnect"},
		{"$default", "_default"},
		{"_connect", "_5Fconnect"},
		{"é", "_C3_A9"},
		{"a b/c", "a_20b_2Fc"},
	}
	seen := map[string]string{}
	for _, tc := range tests {
		got := ChannelID(tc.key)
		if got != tc.want {
			t.Errorf("ChannelID(%q) = %q, want %q", tc.key, got, tc.want)
		}
		if other, dup := seen[got]; dup {
			t.Errorf("ChannelID(%q) = ChannelID(%q) = %q", tc.key, other, got)
		}
		seen[got] = tc.key
		for _, c := range got {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
				t.Errorf("ChannelID(%q) = %q holds %q", tc.key, got, c)
			}
		}
	}
}

var endpoints = []Endpoint{
	{Protocol: "json", Paths: []string{"/", "/ws"}, Subprotocols: []string{"wsgate.json"}},
	{Protocol: "stomp", Paths: []string{"/stomp"}, Subprotocols: []string{"v12.stomp", "v11.stomp"}},
	{Protocol: "mqtt", Paths: []string{"/mqtt"}, Subprotocols: []string{"mqtt"}},
	{Protocol: "socketio", Paths: []string{"/socket.io/"}},
}

var routes = map[string]jsonws.RouteConfig{
	"say": {Integration: "publish", Subject: "chat.rooms.{body.room}.{connectionId}", Schema: map[string]any{
		"type":       "object",
		"required":   []any{"room"},
		"properties": map[string]any{"room": map[string]any{"$ref": "#/$defs/room"}},
		"$defs":      map[string]any{"room": map[string]any{"type": "string", "maxLength": 32}},
	}},
	"ask":       {Integration: "request", Subject: "svc.ask.{claims.sub}"},
	"askRaw":    {Integration: "request", Subject: "svc.raw", Raw: true},
	"join":      {Integration: "subscribe", Subject: "$request.body.subject"},
	"leave":     {Integration: "unsubscribe", Subject: "$request.body.subject"},
	"web":       {Integration: "http", HTTPRoute: jsonws.HTTPRoute{URL: "http://backend.internal/secret"}},
	"$connect":  {Integration: "request", Subject: "auth.connect"},
	"$default":  {Integration: "publish", Subject: "fallback", Schema: true},
	"pick":      {Transforms: jsonws.Transforms{Targets: []jsonws.RouteConfig{{Integration: "publish", Subject: "a"}, {Integration: "request", Subject: "b"}}}},
	"two-words": {Integration: "publish", Subject: "t.{body.meta.kind}-{body.meta_kind}"},
}

// build builds in and decodes the document.
func build(t *testing.T, in Input) map[string]any {
	t.Helper()
	b, err := Build(in)
	if err != nil {
		t.Fatal(err)
	}
	var d map[string]any
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, b)
	}
	checkRefs(t, d, d)
	return d
}

// at is the value at the slash-separated path in v ("" when absent).
func at(v any, path string) any {
	for _, seg := range strings.Split(path, "/") {
		switch x := v.(type) {
		case map[string]any:
			v = x[seg]
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

// checkRefs fails for every $ref that does not point at something in
// the document.
func checkRefs(t *testing.T, root, v any) {
	t.Helper()
	switch x := v.(type) {
	case map[string]any:
		if ref, ok := x["$ref"].(string); ok {
			p, ok := strings.CutPrefix(ref, "#/")
			if !ok || at(root, strings.NewReplacer("~1", "/", "~0", "~").Replace(p)) == nil {
				t.Errorf("$ref %q points at nothing", ref)
			}
		}
		for _, e := range x {
			checkRefs(t, root, e)
		}
	case []any:
		for _, e := range x {
			checkRefs(t, root, e)
		}
	}
}

func TestBuild(t *testing.T) {
	d := build(t, Input{Title: "Chat", Version: "2.0.0", Listen: ":9000", Endpoints: endpoints, Routes: routes})
	for path, want := range map[string]any{
		"asyncapi":                              "3.0.0",
		"info/title":                            "Chat",
		"info/version":                          "2.0.0",
		"defaultContentType":                    "application/json",
		"servers/json/host":                     "localhost:9000",
		"servers/json/protocol":                 "ws",
		"servers/json/pathname":                 "/ws",
		"servers/stomp/pathname":                "/stomp",
		"servers/stomp/x-wsgate-subprotocols/1": "v11.stomp",
		"servers/mqtt/pathname":                 "/mqtt",
		"servers/socketio/pathname":             "/socket.io/",

		"channels/say/address":                                          "chat.rooms.{room}.{connectionId}",
		"channels/say/title":                                            "say",
		"channels/say/parameters/room/location":                         "$message.payload#/room",
		"channels/say/servers/0/$ref":                                   "#/servers/json",
		"channels/say/messages/request/payload/$ref":                    "#/components/schemas/say",
		"components/schemas/say/properties/room/$ref":                   "#/components/schemas/say/$defs/room",
		"operations/say-send/action":                                    "send",
		"operations/say-send/channel/$ref":                              "#/channels/say",
		"operations/say-send/messages/0/$ref":                           "#/channels/say/messages/request",
		"operations/say-send/reply/messages/0/$ref":                     "#/channels/say/messages/published",
		"operations/say-send/reply/messages/1/$ref":                     "#/channels/say/messages/error",
		"channels/ask/address":                                          "svc.ask.{claims_sub}",
		"operations/ask-send/reply/messages/0/$ref":                     "#/channels/ask/messages/reply",
		"operations/askRaw-send/reply/messages/0/$ref":                  "#/channels/askRaw/messages/rawReply",
		"channels/join/address":                                         "{subject}",
		"channels/join/parameters/subject/location":                     "$message.payload#/subject",
		"operations/join-receive/action":                                "receive",
		"operations/join-receive/messages/0/$ref":                       "#/channels/join/messages/message",
		"operations/leave-send/reply/messages/0/$ref":                   "#/channels/leave/messages/unsubscribed",
		"channels/_connect/address":                                     "auth.connect",
		"channels/_connect/messages/event/$ref":                         "#/components/messages/connectEvent",
		"channels/_default/messages/request/payload/$ref":               "#/components/schemas/_default",
		"channels/pick/description":                                     "Integration: publish, request (a target chosen by condition).",
		"operations/pick-send/reply/messages/1/$ref":                    "#/channels/pick/messages/reply",
		"channels/two_2Dwords/address":                                  "t.{meta_kind}-{meta_kind2}",
		"channels/two_2Dwords/parameters/meta_kind/location":            "$message.payload#/meta/kind",
		"channels/two_2Dwords/parameters/meta_kind2/location":           "$message.payload#/meta_kind",
		"channels/ask/messages/request/payload/properties/action/const": "ask",
		"components/messages/error/payload/properties/type/const":       "error",
	} {
		if got := at(d, path); got != want {
			t.Errorf("%s = %#v, want %#v", path, got, want)
		}
	}
	for _, path := range []string{
		"channels/web/address",     // http: not a subject (and the URL stays private)
		"operations/_connect-send", // the client sends nothing on $connect
		"operations/say-receive",   // only subscribe routes receive
		"channels/connectionId",    // a template variable without location has none
		"channels/say/parameters/connectionId/location",
		"servers/json/security",          // dev mode
		"components/securitySchemes/jwt", // dev mode
	} {
		if got := at(d, path); got != nil {
			t.Errorf("%s = %#v, want nothing", path, got)
		}
	}
	if _, ok := at(d, "channels/web").(map[string]any)["address"]; !ok {
		t.Error("channels/web has no address member; want null (unknown)")
	}
	if s, _ := at(d, "channels/web/description").(string); strings.Contains(s, "backend.internal") {
		t.Errorf("the description of an http route shows its URL: %s", s)
	}
}

func TestBuildDefaults(t *testing.T) {
	d := build(t, Input{TLS: true, Listen: "0.0.0.0:443", Selection: "$request.body.meta.kind", Endpoints: endpoints})
	for path, want := range map[string]any{
		"info/title":                          "wsgate API",
		"info/version":                        "1.0.0",
		"servers/json/protocol":               "wss",
		"servers/json/host":                   "localhost:443",
		"channels/publish/address":            "{subject}",
		"operations/subscribe-receive/action": "receive",
		// a nested selection member: an object, without the const
		"channels/publish/messages/request/payload/type": "object",
	} {
		if got := at(d, path); got != want {
			t.Errorf("%s = %#v, want %#v", path, got, want)
		}
	}
	if got := at(d, "channels/publish/messages/request/payload/properties"); got != nil {
		t.Errorf("payload properties %#v for a nested selection", got)
	}
	d = build(t, Input{Host: "api.example.com:8443", Endpoints: endpoints})
	if got := at(d, "servers/mqtt/host"); got != "api.example.com:8443" {
		t.Errorf("host %v, want the configured one", got)
	}
}

func TestBuildStages(t *testing.T) {
	d := build(t, Input{Listen: ":8080", Endpoints: endpoints[:2], Routes: map[string]jsonws.RouteConfig{
		"say":  {Integration: "publish", Subject: "chat"},
		"ask":  {Integration: "request", Subject: "svc.{stage.env}"},
		"only": {Integration: "publish", Subject: "shared.only"},
	}, Stages: []Stage{
		{Name: "beta", Path: "/beta", Routes: map[string]jsonws.RouteConfig{"say": {Integration: "publish", Subject: "beta.chat"}}},
		{Name: "prod", Host: "api.example.com", Routes: map[string]jsonws.RouteConfig{"say": {Integration: "publish", Subject: "prod.chat"}, "only": {Integration: "publish", Subject: "prod.only"}}},
	}})
	for path, want := range map[string]any{
		"servers/beta-json/pathname":            "/beta/ws",
		"servers/beta-json/host":                "localhost:8080",
		"servers/beta-stomp/pathname":           "/beta/stomp",
		"servers/prod-json/pathname":            "/ws",
		"servers/prod-json/host":                "api.example.com:8080",
		"channels/ask/servers/0/$ref":           "#/servers/beta-json",
		"channels/ask/servers/1/$ref":           "#/servers/prod-json",
		"channels/only/servers/0/$ref":          "#/servers/beta-json",
		"channels/beta-say/address":             "beta.chat",
		"channels/beta-say/title":               "say (stage beta)",
		"channels/beta-say/servers/0/$ref":      "#/servers/beta-json",
		"channels/prod-only/servers/0/$ref":     "#/servers/prod-json",
		"operations/prod-say-send/channel/$ref": "#/channels/prod-say",
	} {
		if got := at(d, path); got != want {
			t.Errorf("%s = %#v, want %#v", path, got, want)
		}
	}
	for _, path := range []string{
		"servers/json",            // with stages, the root serves nothing
		"channels/say",            // every stage has its own say
		"channels/only/servers/1", // prod has its own only
	} {
		if got := at(d, path); got != nil {
			t.Errorf("%s = %#v, want nothing", path, got)
		}
	}
}

func TestBuildSecurity(t *testing.T) {
	tests := []struct {
		name    string
		auth    auth.Config
		cred    Credentials
		schemes []string // in the servers' order
		types   map[string]string
	}{
		{"dev mode", auth.Config{}, Credentials{QueryParam: "access_token"}, nil, nil},
		{"anonymous only", auth.Config{Anonymous: &auth.Permissions{}}, Credentials{QueryParam: "access_token"}, nil, nil},
		{"jwt everywhere", auth.Config{Authenticators: []auth.AuthenticatorConfig{{Type: auth.TypeJWT}}},
			Credentials{QueryParam: "access_token", Cookie: "session", SubprotocolPrefix: "bearer."},
			[]string{"jwt", "queryToken", "cookieToken", "subprotocolToken"},
			map[string]string{"jwt": "http", "queryToken": "httpApiKey", "cookieToken": "httpApiKey", "subprotocolToken": "httpApiKey"}},
		{"api keys, no query, no subprotocol", auth.Config{Authenticators: []auth.AuthenticatorConfig{{Type: auth.TypeAPIKeys}, {Type: auth.TypeMTLS}}},
			Credentials{QueryParam: "-", SubprotocolPrefix: "-"},
			[]string{"apiKey", "clientCertificate"}, map[string]string{"apiKey": "http", "clientCertificate": "X509"}},
		{"mtls only: no token schemes", auth.Config{Authenticators: []auth.AuthenticatorConfig{{Type: auth.TypeMTLS}}},
			Credentials{QueryParam: "access_token"}, []string{"clientCertificate"}, nil},
		{"authorizers once", auth.Config{Authenticators: []auth.AuthenticatorConfig{{Type: auth.TypeNATS}, {Type: auth.TypeHTTP}}},
			Credentials{}, []string{"authorizer"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := build(t, Input{Endpoints: endpoints, Auth: tc.auth, Credentials: tc.cred})
			for _, server := range []string{"json", "mqtt"} {
				sec, _ := at(d, "servers/"+server+"/security").([]any)
				var got []string
				for _, s := range sec {
					got = append(got, strings.TrimPrefix(at(s, "$ref").(string), "#/components/securitySchemes/"))
				}
				if strings.Join(got, ",") != strings.Join(tc.schemes, ",") {
					t.Errorf("%s security %v, want %v", server, got, tc.schemes)
				}
			}
			for id, typ := range tc.types {
				if got := at(d, "components/securitySchemes/"+id+"/type"); got != typ {
					t.Errorf("%s type %v, want %s", id, got, typ)
				}
			}
			if got := at(d, "components/securitySchemes/queryToken/name"); got != nil && got != tc.cred.QueryParam {
				t.Errorf("query token name %v", got)
			}
		})
	}
}
