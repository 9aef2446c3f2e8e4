package main

import (
	"flag"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/wsgate/wsgate/bridge"
	"github.com/wsgate/wsgate/internal/asyncapi"
)

// asyncAPIConfig is the asyncapi: block: the AsyncAPI document of the
// configured API (`wsgate asyncapi`, GET /asyncapi.json).
type asyncAPIConfig struct {
	// Serve serves the document at Path on the main port, as the config
	// is now (after any reload), to anyone who asks. Default false.
	Serve bool `yaml:"serve"`
	// Path is where it is served. Default /asyncapi.json.
	Path string `yaml:"path"`
	// Title and Version are the document's info.title and info.version.
	// Default "wsgate API" and "1.0.0".
	Title   string `yaml:"title"`
	Version string `yaml:"version"`
	// Description is info.description. Default: a paragraph on the
	// gateway and on the document's point of view (the client's).
	Description string `yaml:"description"`
	// Host is the servers' host:port as clients reach them (a balancer's
	// name). Default: the listen address, localhost for an empty host.
	Host string `yaml:"host"`
}

// path is where the document is served.
func (a asyncAPIConfig) path() string {
	if a.Path == "" {
		return "/asyncapi.json"
	}
	return a.Path
}

// validate checks the asyncapi: block; taken are the paths the gateway
// serves already (protocols, health, operator endpoints, stages).
func (a asyncAPIConfig) validate(taken []string) []error {
	var errs []error
	if h := a.Host; h != "" && (strings.Contains(h, "://") || strings.ContainsAny(h, "/?# \t")) {
		errs = append(errs, fmt.Errorf("asyncapi.host: %q must be host or host:port, without a scheme or path", h))
	}
	p := a.Path
	if p == "" {
		return errs
	}
	switch {
	case !strings.HasPrefix(p, "/") || strings.ContainsAny(p, "?#{} \t") || p == "/":
		errs = append(errs, fmt.Errorf("asyncapi.path: %q must be a path such as /asyncapi.json", p))
	default:
		for _, t := range taken {
			if p == t || strings.HasPrefix(p, strings.TrimSuffix(t, "/")+"/") && t != "/" {
				errs = append(errs, fmt.Errorf("asyncapi.path: %q is taken by %s", p, t))
				break
			}
		}
	}
	return errs
}

// takenPaths are the paths the gateway serves, which asyncapi.path must
// keep off.
func (c *config) takenPaths() []string {
	sio := c.SocketIO.Path
	if sio == "" {
		sio = "/socket.io/"
	}
	out := []string{"/ws", "/mqtt", "/stomp", "/wamp", sio, "/healthz", "/readyz", "/metrics", "/@connections", "/admin"}
	for _, st := range c.Stages {
		if st.Path != "" {
			out = append(out, st.Path)
		}
	}
	return out
}

// asyncAPIDoc builds the AsyncAPI document of c, whose protocols are
// protos.
func (c *config) asyncAPIDoc(protos []bridge.Protocol) ([]byte, error) {
	cred := c.Gateway.WithDefaults().Credentials
	in := asyncapi.Input{
		Title: c.AsyncAPI.Title, Version: c.AsyncAPI.Version, Description: c.AsyncAPI.Description,
		Host: c.AsyncAPI.Host, Listen: c.Listen, TLS: c.TLS.enabled(),
		Selection: c.JSON.RouteSelectionExpression,
		Routes:    c.JSON.Routes,
		Auth:      c.Auth,
		Credentials: asyncapi.Credentials{
			QueryParam: cred.QueryParam, Cookie: cred.Cookie, SubprotocolPrefix: cred.SubprotocolPrefix,
		},
	}
	for _, p := range protos {
		in.Endpoints = append(in.Endpoints, asyncapi.Endpoint{Protocol: p.Name(), Paths: p.Paths(), Subprotocols: p.Subprotocols()})
	}
	for _, name := range slices.Sorted(maps.Keys(c.Stages)) {
		st := c.Stages[name]
		in.Stages = append(in.Stages, asyncapi.Stage{Name: name, Path: st.Path, Host: st.Host, Routes: c.JSON.Stages[name].Routes})
	}
	return asyncapi.Build(in)
}

// asyncAPICommand is `wsgate asyncapi`.
func asyncAPICommand() *command {
	return &command{
		name:     "asyncapi",
		synopsis: "asyncapi [--config FILE] [--out FILE]",
		summary:  "write the AsyncAPI 3.0 document of the configured API",
		about: `Loads and checks the config as 'wsgate validate' does and writes the
AsyncAPI 3.0.0 document (JSON) of the API it configures: a server per
protocol endpoint, a channel and operations per JSON route, each route's
schema as its message's payload, and the security schemes of the auth
block. Written to --out, or to stdout. Nothing is started and nothing is
connected to. asyncapi.serve: true serves the same document at
asyncapi.path (default /asyncapi.json) on a running gateway.`,
		define: func(fs *flag.FlagSet) func(io.Writer) error {
			var s settings
			s.registerConfig(fs)
			out := fs.String("out", "", "write the document to `file` instead of stdout")
			return func(stdout io.Writer) error {
				if fs.NArg() > 0 {
					return usagef("unexpected argument %q", fs.Arg(0))
				}
				c, err := load(&s)
				if err != nil {
					return err
				}
				_, protos, err := newProtocols(c)
				if err != nil {
					return err
				}
				b, err := c.asyncAPIDoc(protos)
				if err != nil {
					return err
				}
				if *out == "" {
					_, err = stdout.Write(b)
					return err
				}
				if err := os.WriteFile(*out, b, 0o644); err != nil {
					return fmt.Errorf("asyncapi: %w", err)
				}
				return nil
			}
		},
	}
}

// asyncAPIHandler serves the document of the config as it is now: Set
// replaces it after a reload.
type asyncAPIHandler struct {
	doc atomic.Pointer[[]byte]
}

// Set makes b the document served.
func (h *asyncAPIHandler) Set(b []byte) { h.doc.Store(&b) }

func (h *asyncAPIHandler) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	b := h.doc.Load()
	if b == nil {
		http.Error(w, "no document", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(*b)
}

// liveView is c as a reload applies it over running: what takes a restart
// keeps its running value, so a document built from it describes the
// gateway as it runs.
func liveView(running, c *config) *config {
	v := *c
	v.Listen, v.TLS, v.NATS = running.Listen, running.TLS, running.NATS
	v.MQTT, v.STOMP, v.WAMP, v.SocketIO = running.MQTT, running.STOMP, running.WAMP, running.SocketIO
	v.Stages = running.Stages
	v.Gateway.Credentials = running.Gateway.Credentials
	v.JSON.RouteSelectionExpression = running.JSON.RouteSelectionExpression
	v.AsyncAPI.Serve, v.AsyncAPI.Path = running.AsyncAPI.Serve, running.AsyncAPI.Path
	return &v
}
