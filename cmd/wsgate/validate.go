package main

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wsgate/wsgate/auth"
	"github.com/wsgate/wsgate/bridge"
)

// validate reports every problem of c, each naming its key. Every block is
// checked, so that nothing wrong is silently replaced by a default at run
// time.
func (c *config) validate() error {
	var errs []error
	prefixed := func(prefix string, err error) {
		if err != nil {
			for _, e := range unjoin(err) {
				errs = append(errs, fmt.Errorf("%s.%w", prefix, e))
			}
		}
	}
	prefixed("json", c.JSON.Validate())
	prefixed("stomp", c.STOMP.Validate())
	prefixed("mqtt", c.MQTT.Validate())
	prefixed("wamp", c.WAMP.Validate())
	prefixed("socketio", c.SocketIO.Validate())
	if err := c.Auth.Validate(); err != nil {
		errs = append(errs, unjoin(err)...) // auth's errors name their keys from auth.
	}
	errs = append(errs, c.TLS.validate()...)
	errs = append(errs, c.AsyncAPI.validate(c.takenPaths())...)
	if err := bridge.ValidateStages(c.Stages); err != nil {
		errs = append(errs, unjoin(err)...) // they name their keys from stages.
	}
	errs = append(errs, c.validateStageUse()...)
	errs = append(errs, c.validateGateway()...)
	errs = append(errs, c.validateNATS()...)
	errs = append(errs, c.Tracing.Validate()...) // they name their keys from tracing.
	for _, l := range c.clientLimits() {
		if l.bytes > maxClientMessage {
			errs = append(errs, fmt.Errorf("%s: %d is more than NATS can carry (at most %d, with %d bytes of header room)", l.key, l.bytes, maxClientMessage, headerRoom))
		}
	}
	if err := validAddr(c.Listen); err != nil {
		errs = append(errs, fmt.Errorf("listen: %w", err))
	}
	if _, err := parseLevel(c.Log.Level); err != nil {
		errs = append(errs, fmt.Errorf("log.level: %w", err))
	}
	switch c.Log.Format {
	case "", "text", "json":
	default:
		errs = append(errs, fmt.Errorf("log.format: %q is not text or json", c.Log.Format))
	}
	return errors.Join(errs...)
}

// validateStageUse checks each stage's log level, and that every
// {stage.<name>} the JSON routes use is a variable of every stage (and that
// there are stages to give it).
func (c *config) validateStageUse() []error {
	var errs []error
	names := slices.Sorted(maps.Keys(c.Stages))
	for _, name := range names {
		if l := c.Stages[name].LogLevel; l != "" {
			if _, err := parseLevel(l); err != nil {
				errs = append(errs, fmt.Errorf("stages.%s.log_level: %w", name, err))
			}
		}
	}
	if used := c.JSON.StageVariables(""); len(used) > 0 && len(c.Stages) == 0 {
		errs = append(errs, fmt.Errorf("json.routes: {stage.%s} is used, but there is no stages: block to give it a value", used[0]))
	}
	for _, name := range names {
		for _, v := range c.JSON.StageVariables(name) {
			if _, ok := c.Stages[name].Variables[v]; !ok {
				errs = append(errs, fmt.Errorf("stages.%s.variables: no %s, which the stage's json routes use as {stage.%s}", name, v, v))
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(c.JSON.Stages)) {
		if _, ok := c.Stages[name]; !ok {
			errs = append(errs, fmt.Errorf("json.stages.%s: no such stage in stages:", name))
		}
	}
	return errs
}

// validateGateway checks the gateway: block.
func (c *config) validateGateway() []error {
	var errs []error
	g := c.Gateway
	switch g.Compression {
	case "", bridge.CompressionOff, bridge.CompressionOn, bridge.CompressionNoContextTakeover:
	default:
		errs = append(errs, fmt.Errorf("gateway.compression: %q is not off, on or no_context_takeover", g.Compression))
	}
	switch g.OnTokenExpiry {
	case "", "close", "ignore":
	default:
		errs = append(errs, fmt.Errorf("gateway.on_token_expiry: %q is not close or ignore", g.OnTokenExpiry))
	}
	errs = append(errs, g.AccessLog.Validate()...)
	if h := g.Admin.TokenHash; h != "" {
		if err := auth.ValidateKeyHash(h); err != nil {
			errs = append(errs, fmt.Errorf("gateway.admin.token_hash: %w", err))
		}
	}
	if g.Admin.Console && g.Admin.TokenHash == "" {
		errs = append(errs, errors.New("gateway.admin.console: needs gateway.admin.token_hash (the console asks for the admin token)"))
	}
	if a := g.Admin.Listen; a != "" {
		if err := validAddr(a); err != nil {
			errs = append(errs, fmt.Errorf("gateway.admin.listen: %w", err))
		}
	}
	if g.ReservedPrefix != "" && (strings.ContainsAny(g.ReservedPrefix, ".*> \t") || strings.HasPrefix(g.ReservedPrefix, "$")) {
		errs = append(errs, fmt.Errorf("gateway.reserved_prefix: %q must be one subject token", g.ReservedPrefix))
	}
	l := g.Limits
	for _, n := range []struct {
		key string
		v   float64
	}{
		{"gateway.max_message_bytes", float64(g.MaxMessageBytes)},
		{"gateway.max_queued_bytes", float64(g.MaxQueuedBytes)},
		{"gateway.compression_min_bytes", float64(g.CompressionMinBytes)},
		{"gateway.limits.max_connections", float64(l.MaxConnections)},
		{"gateway.limits.max_connections_per_ip", float64(l.MaxConnectionsPerIP)},
		{"gateway.limits.connect_rate_per_ip", l.ConnectRatePerIP},
		{"gateway.limits.connect_burst_per_ip", float64(l.ConnectBurstPerIP)},
		{"gateway.limits.message_rate", l.MessageRate},
		{"gateway.limits.message_burst", float64(l.MessageBurst)},
		{"gateway.limits.max_subscriptions", float64(l.MaxSubscriptions)},
	} {
		if n.v < 0 {
			errs = append(errs, fmt.Errorf("%s: %v must not be negative", n.key, n.v))
		}
	}
	// ping_interval and read_timeout: negative disables them.
	for _, d := range []struct {
		key string
		v   time.Duration
	}{
		{"gateway.idle_timeout", g.IdleTimeout},
		{"gateway.max_connection_duration", g.MaxConnectionDuration},
		{"gateway.write_timeout", g.WriteTimeout},
		{"gateway.request_timeout", g.RequestTimeout},
		{"gateway.shutdown_timeout", g.ShutdownTimeout},
		{"gateway.lame_duck_delay", g.LameDuckDelay},
		{"gateway.lame_duck_window", g.LameDuckWindow},
		{"gateway.read_header_timeout", g.ReadHeaderTimeout},
	} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("%s: %s must not be negative", d.key, d.v))
		}
	}
	if ld, st := g.LameDuckDelay+g.LameDuckWindow, g.WithDefaults().ShutdownTimeout; ld > 0 && ld >= st {
		errs = append(errs, fmt.Errorf("gateway.lame_duck_delay + gateway.lame_duck_window: %s must be less than gateway.shutdown_timeout (%s), which counts them", ld, st))
	}
	for i, o := range g.AllowedOrigins {
		if o == "*" {
			errs = append(errs, fmt.Errorf(`gateway.allowed_origins[%d]: "*" is not accepted; set insecure_skip_origin_check if you mean it`, i))
		}
	}
	if g.StaticDir != "" {
		if st, err := os.Stat(g.StaticDir); err != nil || !st.IsDir() {
			errs = append(errs, fmt.Errorf("gateway.static_dir: %q is not a directory", g.StaticDir))
		}
	}
	return errs
}

// validateNATS checks the nats: block: the external URLs, or the
// embedded server's keys.
func (c *config) validateNATS() []error {
	var errs []error
	n := c.NATS
	if n.URL != "" {
		for u := range strings.SplitSeq(n.URL, ",") {
			if err := validNATSURL(strings.TrimSpace(u)); err != nil {
				errs = append(errs, fmt.Errorf("nats.url: %w", err))
			}
		}
	}
	switch r := n.StreamReplicas; {
	case r < 0 || r > bridge.MaxReplicas:
		errs = append(errs, fmt.Errorf("nats.stream_replicas: %d is not 1 to %d", r, bridge.MaxReplicas))
	case r > 1 && n.URL == "" && !n.Cluster.Enabled():
		errs = append(errs, fmt.Errorf("nats.stream_replicas: %d needs a NATS cluster: set nats.url, or nats.cluster for the embedded server", r))
	}
	if p := n.PingInterval; p < 0 || p > 0 && p < 100*time.Millisecond {
		errs = append(errs, fmt.Errorf("nats.ping_interval: %s is not 100ms or more", p))
	}
	errs = append(errs, c.validateCluster()...)
	if _, err := parseNATSLevel(n.LogLevel); err != nil {
		errs = append(errs, fmt.Errorf("nats.log_level: %w", err))
	}
	if n.Listen != "" && n.Listen != "-" {
		if err := validAddr(n.Listen); err != nil {
			errs = append(errs, fmt.Errorf("nats.listen: %w", err))
		}
	}
	if strings.ContainsFunc(n.ServerName, func(r rune) bool { return r <= ' ' }) {
		errs = append(errs, fmt.Errorf("nats.server_name: %q must not contain spaces", n.ServerName))
	}
	if n.DataDir != "" {
		if st, err := os.Stat(n.DataDir); err == nil && !st.IsDir() {
			errs = append(errs, fmt.Errorf("nats.data_dir: %q is not a directory", n.DataDir))
		}
	}
	return errs
}

// validateCluster checks nats.cluster and nats.leafnode, the embedded
// server's links to other NATS servers.
func (c *config) validateCluster() []error {
	var errs []error
	n := c.NATS
	cl := n.Cluster
	if cl.Enabled() {
		if n.URL != "" {
			errs = append(errs, errors.New("nats.cluster: only an embedded server clusters, and nats.url is set (nothing is embedded)"))
		}
		if cl.Name == "" {
			errs = append(errs, errors.New("nats.cluster.name: required with nats.cluster (the same on every node)"))
		} else if strings.ContainsFunc(cl.Name, func(r rune) bool { return r <= ' ' }) {
			errs = append(errs, fmt.Errorf("nats.cluster.name: %q must not contain spaces", cl.Name))
		}
		if cl.Listen == "" {
			errs = append(errs, errors.New("nats.cluster.listen: required with nats.cluster (the address other nodes route to, such as 0.0.0.0:6222)"))
		} else if err := validAddr(cl.Listen); err != nil {
			errs = append(errs, fmt.Errorf("nats.cluster.listen: %w", err))
		}
		if len(cl.Routes) == 0 {
			errs = append(errs, errors.New("nats.cluster.routes: required with nats.cluster: every node's nats-route://host:port, this one's too (JetStream clusters only a node with routes)"))
		}
		for i, r := range cl.Routes {
			if err := validLinkURL(r, "nats-route", "nats", "tls"); err != nil {
				errs = append(errs, fmt.Errorf("nats.cluster.routes[%d]: %w", i, err))
			}
		}
		if n.ServerName == "" {
			errs = append(errs, errors.New("nats.server_name: required with nats.cluster: each node needs a name of its own"))
		}
		if n.Listen == "-" {
			errs = append(errs, errors.New(`nats.listen: "-" cannot be used with nats.cluster: a cluster node needs a client port`))
		}
	}
	if len(n.LeafNode.Remotes) > 0 && n.URL != "" {
		errs = append(errs, errors.New("nats.leafnode: only an embedded server is a leaf node, and nats.url is set (nothing is embedded)"))
	}
	for i, r := range n.LeafNode.Remotes {
		if err := validLinkURL(r, "nats-leaf", "nats", "tls", "ws", "wss"); err != nil {
			errs = append(errs, fmt.Errorf("nats.leafnode.remotes[%d]: %w", i, err))
		}
	}
	return errs
}

// validLinkURL checks a route or leafnode URL: one of schemes, a host,
// and a port unless the scheme is ws or wss.
func validLinkURL(s string, schemes ...string) error {
	u, err := url.Parse(s)
	if err != nil || !strings.Contains(s, "://") {
		return fmt.Errorf("%q is not a URL (write %s://host:port)", s, schemes[0])
	}
	if !slices.Contains(schemes, u.Scheme) {
		return fmt.Errorf("%q: scheme %q is not %s", s, u.Scheme, strings.Join(schemes, ", "))
	}
	if u.Hostname() == "" {
		return fmt.Errorf("%q has no host", s)
	}
	if u.Port() == "" && u.Scheme != "ws" && u.Scheme != "wss" {
		return fmt.Errorf("%q has no port", s)
	}
	return nil
}

// validAddr checks a host:port listen address; the host may be empty.
func validAddr(a string) error {
	if a == "" {
		return nil // the default
	}
	_, port, err := net.SplitHostPort(a)
	if err != nil {
		return fmt.Errorf("%q is not host:port", a)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		if _, err := net.LookupPort("tcp", port); err != nil {
			return fmt.Errorf("%q: %q is not a port", a, port)
		}
	}
	return nil
}

// validNATSURL checks one of nats.url's URLs: nats://, tls://, ws:// or
// wss://, or a bare host:port.
func validNATSURL(s string) error {
	if s == "" {
		return errors.New("empty URL in the list")
	}
	if !strings.Contains(s, "://") {
		s = "nats://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("%q: %w", s, err)
	}
	switch u.Scheme {
	case "nats", "tls", "ws", "wss":
	default:
		return fmt.Errorf("%q: scheme %q is not nats, tls, ws or wss", s, u.Scheme)
	}
	if u.Hostname() == "" {
		return fmt.Errorf("%q has no host", s)
	}
	return nil
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
