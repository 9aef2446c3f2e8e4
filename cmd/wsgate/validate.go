package main

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
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
	if err := c.Auth.Validate(); err != nil {
		errs = append(errs, unjoin(err)...) // auth's errors name their keys from auth.
	}
	errs = append(errs, c.TLS.validate()...)
	errs = append(errs, c.validateGateway()...)
	errs = append(errs, c.validateNATS()...)
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

// validateGateway checks the gateway: block.
func (c *config) validateGateway() []error {
	var errs []error
	g := c.Gateway
	switch g.OnTokenExpiry {
	case "", "close", "ignore":
	default:
		errs = append(errs, fmt.Errorf("gateway.on_token_expiry: %q is not close or ignore", g.OnTokenExpiry))
	}
	if h := g.Admin.TokenHash; h != "" {
		if err := auth.ValidateKeyHash(h); err != nil {
			errs = append(errs, fmt.Errorf("gateway.admin.token_hash: %w", err))
		}
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
		{"gateway.read_header_timeout", g.ReadHeaderTimeout},
	} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("%s: %s must not be negative", d.key, d.v))
		}
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
	case r > 1 && n.URL == "":
		errs = append(errs, fmt.Errorf("nats.stream_replicas: %d needs a NATS cluster: set nats.url", r))
	}
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
