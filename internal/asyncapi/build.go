package asyncapi

import (
	"encoding/json"
	"fmt"
	"net"
	"slices"
	"strings"

	"github.com/wsgate/wsgate/auth"
	"github.com/wsgate/wsgate/protocols/jsonws"
)

// Version is the AsyncAPI version of the documents Build writes.
const Version = "3.0.0"

// Input is what Build describes.
type Input struct {
	// Title, Version and Description make the info object. Defaults
	// "wsgate API", "1.0.0" and a paragraph on the gateway.
	Title, Version, Description string
	// Host is the servers' host:port as clients reach them. Default:
	// Listen's, with localhost for an empty or unspecified host.
	Host string
	// Listen is the gateway's listen address, for Host's default.
	Listen string
	// TLS makes the servers wss instead of ws.
	TLS bool
	// Endpoints are the protocols the gateway serves, in order.
	Endpoints []Endpoint
	// Selection is the JSON protocol's route selection expression.
	// Default $request.body.action.
	Selection string
	// Routes are the JSON protocol's routes (its built-in ones when
	// empty); a route's schema: is its message's payload, and a route
	// without one has an open payload.
	Routes map[string]jsonws.RouteConfig
	// Auth is the auth config: it names the security schemes.
	Auth auth.Config
	// Credentials say where else than Authorization a token may be.
	Credentials Credentials
	// Stages, when there are any, are where the protocols are served
	// (each under its path, or on its host), instead of the root.
	Stages []Stage
}

// Stage is one of the gateway's stages.
type Stage struct {
	// Name, Path and Host are the stage's (bridge.Stage).
	Name, Path, Host string
	// Routes are the stage's own JSON routes, which replace or add to
	// the shared ones for its connections.
	Routes map[string]jsonws.RouteConfig
}

// Endpoint is one protocol's WebSocket endpoint.
type Endpoint struct {
	// Protocol is the protocol's name: json, stomp, mqtt, wamp, socketio.
	Protocol string
	// Paths it is served on; Subprotocols are its
	// Sec-WebSocket-Protocol tokens.
	Paths, Subprotocols []string
}

// Credentials are the gateway's credentials: block, defaults applied.
type Credentials struct {
	QueryParam, Cookie, SubprotocolPrefix string // "-" or "": not accepted
}

// Build returns the AsyncAPI document of in, as JSON.
func Build(in Input) ([]byte, error) {
	d := newDoc(in)
	d.servers()
	d.security()
	d.channels()
	b, err := json.MarshalIndent(d.root, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("asyncapi: encode: %w", err)
	}
	return append(b, '\n'), nil
}

// obj is a JSON object of the document.
type obj = map[string]any

// doc is a document being built.
type doc struct {
	in         Input
	root       obj
	servers_   obj
	channels_  obj
	operations obj
	messages   obj // components.messages
	schemas    obj // components.schemas
	schemes    obj // components.securitySchemes
	security_  []any
	jsonServer map[string]obj // the JSON protocol's server by stage ("": none)
}

func newDoc(in Input) *doc {
	if in.Title == "" {
		in.Title = "wsgate API"
	}
	if in.Version == "" {
		in.Version = "1.0.0"
	}
	if in.Description == "" {
		in.Description = "A WebSocket API served by wsgate: every message a client sends becomes a NATS message, " +
			"and backend workers answer on NATS. This document is written from a client's point of view: " +
			"a send operation is a message the client sends, a receive operation one it gets."
	}
	if in.Selection == "" {
		in.Selection = "$request.body.action"
	}
	if len(in.Routes) == 0 {
		in.Routes = jsonws.BuiltinRoutes()
	}
	d := &doc{in: in, servers_: obj{}, channels_: obj{}, operations: obj{}, messages: obj{}, schemas: obj{}, schemes: obj{},
		jsonServer: map[string]obj{}}
	d.root = obj{
		"asyncapi":           Version,
		"info":               obj{"title": in.Title, "version": in.Version, "description": in.Description},
		"defaultContentType": "application/json",
		"servers":            d.servers_,
		"channels":           d.channels_,
		"operations":         d.operations,
		"components":         obj{"messages": d.messages, "schemas": d.schemas, "securitySchemes": d.schemes},
	}
	return d
}

// host is the servers' host:port.
func (d *doc) host() string {
	if d.in.Host != "" {
		return d.in.Host
	}
	h, p, err := net.SplitHostPort(d.in.Listen)
	if err != nil {
		return "localhost:8080"
	}
	if ip := net.ParseIP(h); h == "" || ip != nil && ip.IsUnspecified() {
		h = "localhost"
	}
	return net.JoinHostPort(h, p)
}

// protocolTitles name the protocols for people.
var protocolTitles = map[string]string{
	"json":     "JSON over WebSocket (wsgate routes)",
	"stomp":    "STOMP over WebSocket",
	"mqtt":     "MQTT over WebSocket",
	"wamp":     "WAMP v2 over WebSocket",
	"socketio": "Socket.IO v4 (Engine.IO v4 over WebSocket)",
}

// servers adds one server per endpoint path, in each stage if there are
// stages (the root serves nothing then).
func (d *doc) servers() {
	if len(d.in.Stages) == 0 {
		d.stageServers(Stage{}, d.host())
		return
	}
	for _, st := range d.in.Stages {
		host := d.host()
		if st.Host != "" {
			_, port, _ := net.SplitHostPort(host)
			host = net.JoinHostPort(st.Host, port)
		}
		d.stageServers(st, host)
	}
}

// stageServers adds the servers of a stage (the root for Stage{}).
func (d *doc) stageServers(st Stage, host string) {
	scheme := "ws"
	if d.in.TLS {
		scheme = "wss"
	}
	for _, e := range d.in.Endpoints {
		paths := e.Paths
		if e.Protocol == "json" && slices.Contains(paths, "/ws") {
			paths = []string{"/ws"} // "/" is the same protocol, and the static site's
		}
		for i, p := range paths {
			id := e.Protocol
			if i > 0 {
				id = fmt.Sprintf("%s-%d", e.Protocol, i+1)
			}
			if st.Name != "" {
				id = ChannelID(st.Name) + "-" + id
				p = st.Path + p
			}
			title := protocolTitles[e.Protocol]
			if title == "" {
				title = e.Protocol
			}
			desc := title + "."
			if st.Name != "" {
				desc = title + ", stage " + st.Name + "."
			}
			if len(e.Subprotocols) > 0 {
				desc += " Offer one of these Sec-WebSocket-Protocol tokens: " + strings.Join(e.Subprotocols, ", ") + "."
			}
			if e.Protocol == "json" {
				desc += " A connection to / or /ws that offers none of the gateway's tokens speaks this protocol too."
			}
			if e.Protocol == "socketio" {
				desc += " Connect with a Socket.IO v4 client (query EIO=4&transport=websocket)."
			}
			s := obj{"host": host, "protocol": scheme, "pathname": p, "title": title, "description": desc}
			if len(e.Subprotocols) > 0 {
				s["x-wsgate-subprotocols"] = e.Subprotocols
			}
			d.servers_[id] = s
			if e.Protocol == "json" {
				d.jsonServer[st.Name] = obj{"$ref": "#/servers/" + id}
			}
		}
	}
}
