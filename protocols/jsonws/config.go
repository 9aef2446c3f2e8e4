package jsonws

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/wsgate/wsgate/subjects"
)

// Config is the JSON protocol's part of the gateway config (the json: key).
type Config struct {
	// RouteSelectionExpression picks the route key from each message.
	// Default "$request.body.action".
	RouteSelectionExpression string `yaml:"route_selection_expression"`
	// RequestTimeout is the default timeout of request and http
	// integrations. Default 10s.
	RequestTimeout time.Duration `yaml:"request_timeout"`
	// MaxInflight bounds the request and http integrations one connection
	// may have waiting at once. Default 64.
	MaxInflight int `yaml:"max_inflight"`
	// TransformTimeout bounds one run of a transform or condition (jq).
	// Default 100ms.
	TransformTimeout time.Duration `yaml:"transform_timeout"`
	// MaxTransformBytes bounds what a transform may make, as JSON.
	// Default 1 MiB.
	MaxTransformBytes int `yaml:"max_transform_bytes"`
	// Routes map route keys to integrations. Empty means the built-in
	// routes: subscribe, unsubscribe, publish and request, on any subject
	// the client names and may use.
	Routes map[string]RouteConfig `yaml:"routes"`
	// Stages override routes in the gateway's stages (the top-level
	// stages: block), by stage name: a route named there replaces the
	// route of that key, or adds one, for that stage's connections.
	// Default: every stage has the routes above.
	Stages map[string]StageRoutes `yaml:"stages"`
}

// StageRoutes are one stage's own routes.
type StageRoutes struct {
	// Routes replace or add routes by key in the stage.
	Routes map[string]RouteConfig `yaml:"routes"`
}

// RouteConfig is one route.
type RouteConfig struct {
	// Integration is publish, request, http, subscribe or unsubscribe.
	Integration string `yaml:"integration"`
	// Subject is a subject template such as chat.rooms.{body.room}: values
	// are escaped into exactly one token each. Variables: connectionId,
	// principal, route, body.<path>, claims.<name>, context.<key>,
	// stage.<name>.
	// "$request.body.<path>" instead lets the client name the whole
	// subject (checked against its permissions, never escaped).
	Subject string `yaml:"subject"`
	// Queue makes a subscribe route join a NATS queue group: each message
	// goes to one member. A literal or "$request.body.<path>".
	Queue string `yaml:"queue"`
	// Payload is what is forwarded: "" the whole message as the client sent
	// it, or "$request.body.<path>" one member (a JSON string's content, or
	// the member's raw JSON).
	Payload string `yaml:"payload"`
	// HTTPRoute holds the http integration's keys: url, method, query,
	// headers, proxy, responses, retries and more (httpconfig.go).
	HTTPRoute `yaml:",inline"`
	// Timeout of a request or http integration. Default RequestTimeout.
	Timeout time.Duration `yaml:"timeout"`
	// Raw sends replies (request, http) and messages (subscribe) to the
	// client as the bare payload instead of a JSON envelope.
	Raw bool `yaml:"raw"`
	// Rate bounds how often one connection may use this route, in messages
	// per second (token bucket); over it the client gets a rate_limited
	// error frame. Default 0: no limit.
	Rate float64 `yaml:"rate"`
	// Burst is that bucket's size. Default: the rate, at least 1.
	Burst int `yaml:"burst"`
	// AccessLog writes an access log line for each message of this route
	// (gateway.access_log has the format and fields). Default false.
	AccessLog bool `yaml:"access_log"`
	// AccessLogSample is the fraction of this route's messages that get
	// a line, above 0 and at most 1, for routes too busy to log every
	// message. Default: gateway.access_log.sample.
	AccessLogSample float64 `yaml:"access_log_sample"`
	// Transforms and conditions: jq expressions (transform.go).
	Transforms `yaml:",inline"`
	// Cache serves replies of a request or http route from memory
	// (cache.go). Default: no cache.
	Cache CacheConfig `yaml:"cache"`
	// Schema is a JSON Schema (inline, as YAML or JSON) that the whole
	// client message must satisfy before the route's integration runs
	// (schema.go); it is also the message's payload in the AsyncAPI
	// document. Not on $connect and $disconnect, which carry no client
	// message, nor on a target (set it on the route). Default: none,
	// nothing is checked.
	Schema any `yaml:"schema"`
}

// Integration kinds.
const (
	kindPublish     = "publish"
	kindRequest     = "request"
	kindHTTP        = "http"
	kindSubscribe   = "subscribe"
	kindUnsubscribe = "unsubscribe"
)

// Special route keys.
const (
	routeConnect    = "$connect"
	routeDisconnect = "$disconnect"
	routeDefault    = "$default"
)

// BuiltinRoutes are the routes of a gateway whose config names none.
func BuiltinRoutes() map[string]RouteConfig {
	return map[string]RouteConfig{
		"subscribe":   {Integration: kindSubscribe, Subject: "$request.body.subject", Queue: "$request.body.queue"},
		"unsubscribe": {Integration: kindUnsubscribe, Subject: "$request.body.subject", Queue: "$request.body.queue"},
		"publish":     {Integration: kindPublish, Subject: "$request.body.subject", Payload: "$request.body.data"},
		"request":     {Integration: kindRequest, Subject: "$request.body.subject", Payload: "$request.body.data"},
	}
}

func (c Config) withDefaults() Config {
	if c.RouteSelectionExpression == "" {
		c.RouteSelectionExpression = "$request.body.action"
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = 10 * time.Second
	}
	if c.MaxInflight == 0 {
		c.MaxInflight = 64
	}
	if c.TransformTimeout == 0 {
		c.TransformTimeout = 100 * time.Millisecond
	}
	if c.MaxTransformBytes == 0 {
		c.MaxTransformBytes = 1 << 20
	}
	if len(c.Routes) == 0 {
		c.Routes = BuiltinRoutes()
	}
	return c
}

// Validate checks the config and returns every problem, each naming its key
// (relative to the json: block).
func (c Config) Validate() error {
	_, err := compile(c)
	return err
}

// compile validates c and builds its routes.
func compile(c Config) (*compiled, error) {
	c = c.withDefaults()
	var errs []error
	sel, err := parseSelection(c.RouteSelectionExpression)
	if err != nil {
		errs = append(errs, fmt.Errorf("route_selection_expression: %w", err))
	}
	if c.RequestTimeout < 0 {
		errs = append(errs, errors.New("request_timeout: must not be negative"))
	}
	if c.MaxInflight < 0 {
		errs = append(errs, errors.New("max_inflight: must not be negative"))
	}
	if c.TransformTimeout < 0 {
		errs = append(errs, errors.New("transform_timeout: must not be negative"))
	}
	if c.MaxTransformBytes < 0 {
		errs = append(errs, errors.New("max_transform_bytes: must not be negative"))
	}
	out := &compiled{cfg: c, sel: sel, routes: make(map[string]*route, len(c.Routes)),
		jq: jqLimits{timeout: c.TransformTimeout, maxBytes: c.MaxTransformBytes}}
	keys := make([]string, 0, len(c.Routes))
	for k := range c.Routes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		r, rerrs := compileRoute(k, c.Routes[k], c.RequestTimeout)
		for _, e := range rerrs {
			errs = append(errs, fmt.Errorf("routes.%s.%w", k, e))
		}
		out.routes[k] = r
	}
	errs = append(errs, out.compileStages(c)...)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// compileStages makes each stage's route table: the shared routes with
// the stage's own in their place.
func (out *compiled) compileStages(c Config) []error {
	var errs []error
	names := make([]string, 0, len(c.Stages))
	for n := range c.Stages {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		routes := make(map[string]*route, len(out.routes)+len(c.Stages[n].Routes))
		for k, r := range out.routes {
			routes[k] = r
		}
		keys := make([]string, 0, len(c.Stages[n].Routes))
		for k := range c.Stages[n].Routes {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			r, rerrs := compileRoute(k, c.Stages[n].Routes[k], c.RequestTimeout)
			for _, e := range rerrs {
				errs = append(errs, fmt.Errorf("stages.%s.routes.%s.%w", n, k, e))
			}
			routes[k] = r
		}
		if out.stages == nil {
			out.stages = map[string]map[string]*route{}
		}
		out.stages[n] = routes
	}
	return errs
}

type compiled struct {
	cfg    Config
	sel    *selection
	routes map[string]*route
	stages map[string]map[string]*route // a stage's routes, where it has its own
	jq     jqLimits
}

// routesFor returns the route table of a stage's connections.
func (c *compiled) routesFor(stage string) map[string]*route {
	if r := c.stages[stage]; r != nil {
		return r
	}
	return c.routes
}

// route is a compiled RouteConfig.
type route struct {
	key      string
	kind     string
	subject  *subjects.Template // nil when the client names the subject
	subjVar  []string           // body path of a client-named subject
	queue    string
	queueV   []string
	payload  []string // body path of the payload; nil means the whole message
	http     *httpSpec
	xf       *routeJQ     // nil for a route without transforms or conditions
	cache    *replyCache  // nil without a cache
	schema   *routeSchema // nil without a schema: nothing decoded
	cacheKey textTemplate
	timeout  time.Duration
	raw      bool
	rate     float64
	burst    int

	accessLog    bool    // RouteConfig.AccessLog
	accessSample float64 // RouteConfig.AccessLogSample; 0: the gateway's
}

var knownVarRoots = []string{"connectionId", "principal", "route", "body.", "claims.", "context.", "stage."}

// varsHelp lists the template variables for error messages.
const varsHelp = "use connectionId, principal, route, body.<path>, claims.<name>, context.<key> or stage.<name>"

// fieldError names a route field; compile prefixes the route.
type fieldError struct {
	field string
	err   error
}

func (e *fieldError) Error() string { return e.field + ": " + e.err.Error() }
func (e *fieldError) Unwrap() error { return e.err }

func ferr(field, format string, a ...any) error {
	return &fieldError{field: field, err: fmt.Errorf(format, a...)}
}

func compileRoute(key string, rc RouteConfig, defTimeout time.Duration) (*route, []error) {
	var errs []error
	r := &route{key: key, kind: rc.Integration, queue: rc.Queue, timeout: rc.Timeout, raw: rc.Raw,
		rate: rc.Rate, burst: rc.Burst, accessLog: rc.AccessLog, accessSample: rc.AccessLogSample}
	if rc.AccessLogSample < 0 || rc.AccessLogSample > 1 {
		errs = append(errs, ferr("access_log_sample", "%g is not above 0 and at most 1", rc.AccessLogSample))
	}
	if r.burst <= 0 {
		r.burst = max(int(rc.Rate), 1)
	}
	if rc.Rate < 0 || rc.Burst < 0 {
		errs = append(errs, ferr("rate", "rate and burst must not be negative"))
	}
	if rc.Rate > 0 && (key == routeConnect || key == routeDisconnect) {
		errs = append(errs, ferr("rate", "%s runs once per connection: limit connections in gateway.limits instead", key))
	}
	if r.timeout == 0 {
		r.timeout = defTimeout
	}
	if strings.HasPrefix(key, "$") && key != routeConnect && key != routeDisconnect && key != routeDefault {
		errs = append(errs, ferr("key", "route keys starting with $ are reserved for $connect, $disconnect and $default"))
	}
	if key == "" {
		errs = append(errs, ferr("key", "empty route key"))
	}
	switch rc.Integration {
	case kindPublish, kindRequest, kindHTTP, kindSubscribe, kindUnsubscribe:
	case "":
		if len(rc.Targets) == 0 {
			errs = append(errs, ferr("integration", "missing: one of publish, request, http, subscribe, unsubscribe"))
		} else if rc.Subject != "" || rc.URL != "" {
			errs = append(errs, ferr("integration", "missing: a route with subject or url needs an integration (without one, only its targets)"))
		}
	default:
		errs = append(errs, ferr("integration", "unknown %q: one of publish, request, http, subscribe, unsubscribe", rc.Integration))
	}
	switch {
	case key == routeConnect && (rc.Integration == kindSubscribe || rc.Integration == kindUnsubscribe):
		errs = append(errs, ferr("integration", "$connect runs before the connection exists: use request, http or publish"))
	case key == routeDisconnect && rc.Integration != kindPublish && rc.Integration != kindHTTP:
		errs = append(errs, ferr("integration", "$disconnect can only publish or POST (http): nobody is left to answer"))
	}
	if rc.Integration == kindHTTP {
		spec, herrs := compileHTTP(key, rc.HTTPRoute, key == routeConnect || key == routeDisconnect)
		errs = append(errs, herrs...)
		r.http = spec
		if rc.Subject != "" {
			errs = append(errs, ferr("subject", "not used by an http integration"))
		}
	} else if knownIntegration(rc.Integration) {
		errs = append(errs, notHTTP(rc.HTTPRoute)...)
		switch {
		case rc.Subject == "":
			errs = append(errs, ferr("subject", "missing"))
		case strings.HasPrefix(rc.Subject, "$") && (key == routeConnect || key == routeDisconnect):
			errs = append(errs, ferr("subject", "%s has no message body to name a subject: use a template", key))
		case strings.HasPrefix(rc.Subject, "$"):
			path, err := parseBodyPath(rc.Subject[1:])
			if err != nil {
				errs = append(errs, ferr("subject", "%v", err))
			}
			r.subjVar = path
		default:
			t, err := subjects.ParseTemplate(rc.Subject)
			if err != nil {
				errs = append(errs, ferr("subject", "%v", err))
				break
			}
			for _, v := range t.Vars() {
				if !knownVar(v) {
					errs = append(errs, ferr("subject", "unknown variable {%s}: %s", v, varsHelp))
				}
				if strings.HasPrefix(v, "body.") && (key == routeConnect || key == routeDisconnect) {
					errs = append(errs, ferr("subject", "{%s}: %s has no message body", v, key))
				}
			}
			isSub := rc.Integration == kindSubscribe || rc.Integration == kindUnsubscribe
			if t.IsPattern() && !isSub {
				errs = append(errs, ferr("subject", "wildcards are only for subscribe routes"))
			}
			r.subject = t
		}
	}
	if rc.Queue != "" {
		if rc.Integration != kindSubscribe && rc.Integration != kindUnsubscribe {
			errs = append(errs, ferr("queue", "only subscribe routes join queue groups"))
		} else if strings.HasPrefix(rc.Queue, "$") {
			path, err := parseBodyPath(rc.Queue[1:])
			if err != nil {
				errs = append(errs, ferr("queue", "%v", err))
			}
			r.queueV = path
			r.queue = ""
		} else if err := subjects.ValidateSubject(rc.Queue); err != nil {
			errs = append(errs, ferr("queue", "%v", err))
		}
	}
	if rc.Payload != "" {
		if key == routeConnect || key == routeDisconnect {
			errs = append(errs, ferr("payload", "%s sends its own event body, not a payload", key))
		} else if !strings.HasPrefix(rc.Payload, "$") {
			errs = append(errs, ferr("payload", "must be $request.body.<path>, got %q", rc.Payload))
		} else if path, err := parseBodyPath(rc.Payload[1:]); err != nil {
			errs = append(errs, ferr("payload", "%v", err))
		} else {
			r.payload = path
		}
	}
	if rc.Timeout < 0 {
		errs = append(errs, ferr("timeout", "must not be negative"))
	}
	if rc.Schema != nil {
		if key == routeConnect || key == routeDisconnect {
			errs = append(errs, ferr("schema", "%s carries no client message to check", key))
		} else if s, err := compileSchema(rc.Schema); err != nil {
			errs = append(errs, ferr("schema", "%v", err))
		} else {
			r.schema = s
		}
	}
	errs = append(errs, compileTransforms(key, rc, r, defTimeout)...)
	if rc.Cache.enabled() {
		if key == routeConnect || key == routeDisconnect {
			errs = append(errs, ferr("cache", "not on %s", key))
		} else {
			var cerrs []error
			r.cache, r.cacheKey, cerrs = compileCache(rc.Integration, rc.Cache)
			errs = append(errs, cerrs...)
		}
	}
	return r, errs
}

// notHTTP reports the http keys set on a route of another integration.
func notHTTP(h HTTPRoute) []error {
	var errs []error
	for _, f := range []struct {
		name string
		set  bool
	}{
		{"url", h.URL != ""}, {"method", h.Method != ""}, {"query", len(h.Query) > 0},
		{"headers", len(h.Headers) > 0}, {"omit_identity_headers", h.OmitIdentityHeaders},
		{"proxy", h.Proxy != nil}, {"error_body", h.ErrorBody}, {"responses", len(h.Responses) > 0},
		{"retries", h.Retries != 0}, {"retry_backoff", h.RetryBackoff != 0},
		{"max_response_bytes", h.MaxResponseBytes != 0},
	} {
		if f.set {
			errs = append(errs, ferr(f.name, "only http integrations have a %s", f.name))
		}
	}
	return errs
}

func knownIntegration(k string) bool {
	switch k {
	case kindPublish, kindRequest, kindHTTP, kindSubscribe, kindUnsubscribe:
		return true
	}
	return false
}

func knownVar(v string) bool {
	for _, root := range knownVarRoots {
		if v == root || strings.HasSuffix(root, ".") && strings.HasPrefix(v, root) && len(v) > len(root) {
			return true
		}
	}
	return false
}
