package bridge

import (
	"time"
)

// Config tunes a Gateway. The zero value is usable: every field says its
// default, and withDefaults fills a copy.
type Config struct {
	// ReservedPrefix is the first subject token of the gateway's own
	// subjects (control, events). Clients can never publish or subscribe
	// under it, nor under $-prefixed or _INBOX subjects. Default "wsgate".
	ReservedPrefix string `yaml:"reserved_prefix"`

	// MaxMessageBytes is the largest WebSocket message a client may send;
	// a larger one closes the connection with 1009. Default 1 MiB.
	MaxMessageBytes int64 `yaml:"max_message_bytes"`

	// MaxQueuedBytes bounds each connection's outbound queue. A client that
	// falls this far behind is disconnected as a slow consumer (1008).
	// Default 4 MiB.
	MaxQueuedBytes int `yaml:"max_queued_bytes"`

	// Compression is how permessage-deflate (RFC 7692) offers are
	// answered: "off" declines them; "no_context_takeover" (the default)
	// accepts them, and neither side keeps a compression window between
	// messages, so no connection holds compression state while idle; "on"
	// lets a client that asks keep its window (better ratios for what it
	// sends, at up to 32 KiB of gateway memory per such connection). The
	// gateway never keeps its own window, so one compressed frame is
	// shared by every subscriber of a message.
	Compression string `yaml:"compression"`

	// CompressionMinBytes is the smallest payload sent compressed to a
	// connection that negotiated permessage-deflate; smaller ones gain
	// too little for the CPU. Default 256.
	CompressionMinBytes int `yaml:"compression_min_bytes"`

	// PingInterval is how often the server pings a connection it has not
	// heard from, however much it writes to it: the pong is what keeps a
	// client that only listens within ReadTimeout. Default 30s; negative
	// disables pings.
	PingInterval time.Duration `yaml:"ping_interval"`

	// ReadTimeout closes a connection that sends nothing at all, not even a
	// pong, for this long. Default 2.5 x PingInterval; negative disables.
	ReadTimeout time.Duration `yaml:"read_timeout"`

	// IdleTimeout closes a connection that sends no data message for this
	// long (pongs do not count). Default 0: never.
	IdleTimeout time.Duration `yaml:"idle_timeout"`

	// MaxConnectionDuration closes every connection after this long.
	// Default 0: no limit.
	MaxConnectionDuration time.Duration `yaml:"max_connection_duration"`

	// WriteTimeout bounds one write to a client socket. Default 10s.
	WriteTimeout time.Duration `yaml:"write_timeout"`

	// RequestTimeout bounds control-plane requests the gateway makes on NATS
	// (connection API, info). Default 2s.
	RequestTimeout time.Duration `yaml:"request_timeout"`

	// ShutdownTimeout bounds graceful shutdown. Default 10s.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`

	// LameDuckDelay is how long a shutdown waits, with /readyz answering
	// 503 and connections still served and accepted, before it closes
	// anything: a balancer's health checks take the gateway out of
	// rotation meanwhile. Default 0: close at once. It counts in
	// ShutdownTimeout.
	LameDuckDelay time.Duration `yaml:"lame_duck_delay"`

	// LameDuckWindow spreads the closing of connections at shutdown over
	// this long, so that their clients do not all reconnect elsewhere at
	// once. Default 0: all at once. It counts in ShutdownTimeout.
	LameDuckWindow time.Duration `yaml:"lame_duck_window"`

	// GhostTimeout is how long a gateway that dies without closing its
	// connections (SIGKILL, power loss) stays presumed alive: within
	// about 1.67 times this, another gateway on the same NATS — or this
	// one when it comes back — publishes their disconnect events, runs
	// their $disconnect routes and fires their MQTT wills (peers.go). It
	// must be the same on every gateway. Default 15s; negative turns
	// liveness off (no key-value writes per connection).
	GhostTimeout time.Duration `yaml:"ghost_timeout"`

	// ReadHeaderTimeout bounds reading an HTTP request's headers (the
	// WebSocket upgrade, the operator endpoints): a client that trickles
	// them is cut off. Default 10s.
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`

	// InsecureSkipOriginCheck accepts cross-origin WebSocket upgrades.
	// Default false: only same-origin browsers (and non-browser clients,
	// which send no Origin) may connect, unless AllowedOrigins lists them.
	InsecureSkipOriginCheck bool `yaml:"insecure_skip_origin_check"`

	// AllowedOrigins are the Origin header values a browser may connect
	// from, besides the gateway's own host. "*" is not accepted here; use
	// InsecureSkipOriginCheck.
	AllowedOrigins []string `yaml:"allowed_origins"`

	// Credentials says where, besides the Authorization header, a client
	// may put its token.
	Credentials CredentialSources `yaml:"credentials"`

	// OnTokenExpiry is what happens when a connection's credentials expire
	// (a JWT's exp): "close" (default) closes it with 1008 "credentials
	// expired", or the protocol's own message; "ignore" keeps it open.
	OnTokenExpiry string `yaml:"on_token_expiry"`

	// Admin protects the operator endpoints: /@connections and /metrics.
	Admin AdminConfig `yaml:"admin"`

	// AccessLog writes access log lines per connection and per message.
	// Default: none.
	AccessLog AccessLogConfig `yaml:"access_log"`

	// Limits bound connections and messages; zero values mean no limit.
	Limits Limits `yaml:"limits"`

	// StaticDir, when set, is served at / for plain HTTP GETs (an example
	// app's page). Default "": nothing is served.
	StaticDir string `yaml:"static_dir"`
}

// CredentialSources name where a token may come from, for clients that
// cannot set an Authorization header (browsers).
type CredentialSources struct {
	// QueryParam is a query parameter holding a token. Default
	// "access_token"; "-" disables it.
	QueryParam string `yaml:"query_param"`
	// Cookie is a cookie holding a token. Default "": none.
	Cookie string `yaml:"cookie"`
	// SubprotocolPrefix marks a Sec-WebSocket-Protocol token that carries
	// a token: "bearer.<token>" by default; "-" disables it. Such a token
	// is never echoed back, so the client must also offer a real
	// subprotocol (wsgate.json, mqtt, v12.stomp, wamp.2.json).
	SubprotocolPrefix string `yaml:"subprotocol_prefix"`
}

// AdminConfig protects the operator endpoints. In dev mode (no
// authenticator) they are open; otherwise they need Listen, TokenHash, or
// both.
type AdminConfig struct {
	// Listen serves the operator endpoints on their own address (say
	// 127.0.0.1:9090) and no longer on the main port. Default "".
	Listen string `yaml:"listen"`
	// TokenHash is "sha256:<hex>" of a bearer token (wsgate hash-key makes
	// it) that operator requests must present. Default "": none needed on
	// the admin address, and the endpoints are closed on the main port.
	TokenHash string `yaml:"token_hash"`
	// Console serves the admin web console at /admin/, beside the other
	// operator endpoints (on Listen when set): live connection counts,
	// connection search and close, route figures, recent errors and a
	// message tap (console.go). It needs TokenHash, which it asks for
	// even in dev mode. Default false.
	Console bool `yaml:"console"`
}

// WithDefaults returns c with every zero field set to its default, as the
// gateway uses it.
func (c Config) WithDefaults() Config { return c.withDefaults() }

func (c Config) withDefaults() Config {
	if c.Credentials.QueryParam == "" {
		c.Credentials.QueryParam = "access_token"
	}
	if c.Credentials.SubprotocolPrefix == "" {
		c.Credentials.SubprotocolPrefix = "bearer."
	}
	if c.OnTokenExpiry == "" {
		c.OnTokenExpiry = "close"
	}
	if c.ReservedPrefix == "" {
		c.ReservedPrefix = "wsgate"
	}
	if c.MaxMessageBytes == 0 {
		c.MaxMessageBytes = 1 << 20
	}
	if c.MaxQueuedBytes == 0 {
		c.MaxQueuedBytes = 4 << 20
	}
	if c.Compression == "" {
		c.Compression = CompressionNoContextTakeover
	}
	if c.CompressionMinBytes == 0 {
		c.CompressionMinBytes = 256
	}
	if c.PingInterval == 0 {
		c.PingInterval = 30 * time.Second
	}
	if c.ReadTimeout == 0 && c.PingInterval > 0 {
		c.ReadTimeout = c.PingInterval * 5 / 2
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = 10 * time.Second
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = 2 * time.Second
	}
	if c.GhostTimeout == 0 {
		c.GhostTimeout = 15 * time.Second
	}
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = 10 * time.Second
	}
	if c.ReadHeaderTimeout == 0 {
		c.ReadHeaderTimeout = 10 * time.Second
	}
	return c
}
