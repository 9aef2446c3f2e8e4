package mqtt

import (
	"sync"
	"time"

	"github.com/wsgate/wsgate/bridge"
)

// Name is the protocol's name in metrics, logs and Wsgate-Protocol.
const Name = "mqtt"

// Subprotocol tokens: "mqtt" for 3.1.1 and 5.0, "mqttv3.1" for 3.1. The
// bridge echoes the one the client offered.
const (
	Subprotocol   = "mqtt"
	Subprotocol31 = "mqttv3.1"
)

// Config is the mqtt: block. Every zero value means its default.
type Config struct {
	// MaxPacketSize is the largest packet a client may send, in bytes; it
	// is advertised to v5 clients as Maximum Packet Size. Default 1 MiB.
	MaxPacketSize int `yaml:"max_packet_size"`
	// ConnectTimeout closes a connection that sends no CONNECT within it.
	// Default 10s.
	ConnectTimeout time.Duration `yaml:"connect_timeout"`
	// MaxKeepAlive caps the keep-alive a client asks for (and replaces 0);
	// v5 clients are told by Server Keep Alive. Default 0: the client's.
	MaxKeepAlive time.Duration `yaml:"max_keep_alive"`
	// ReceiveMaximum is how many QoS 2 messages a v5 client may have
	// unreleased at once (v5 Receive Maximum; 3.1.1 clients, who cannot be
	// told, may have 1024), and how many PUBLISHes of one connection may
	// wait for JetStream at once before the gateway stops reading from it.
	// Default 64.
	ReceiveMaximum int `yaml:"receive_maximum"`
	// MaxInflight caps the outbound QoS 1/2 messages awaiting the client's
	// acknowledgement (further bounded by the client's Receive Maximum).
	// Default 256: a window of w messages and a round trip of r caps a
	// subscriber at w/r messages a second, and 64 at a few milliseconds
	// is below what one publisher sends. (nats-server's MQTT: 1024.)
	MaxInflight int `yaml:"max_inflight"`
	// MaxQueued is how many outbound QoS 1/2 messages may wait for the
	// in-flight window before the client is disconnected as a slow
	// consumer. Default 1000.
	MaxQueued int `yaml:"max_queued"`
	// TopicAliasMaximum is the v5 Topic Alias Maximum the gateway accepts
	// from clients. Default 16.
	TopicAliasMaximum int `yaml:"topic_alias_maximum"`
	// OutboundTopicAliases caps the topic aliases the gateway sends to a v5
	// client, which allows at most its own Topic Alias Maximum; the first
	// topics sent on a connection get them. Default 16; negative: none.
	OutboundTopicAliases int `yaml:"outbound_topic_aliases"`
	// RequestTimeout bounds a v5 request (a PUBLISH with a Response Topic)
	// waiting for its NATS reply. Default 10s.
	RequestTimeout time.Duration `yaml:"request_timeout"`
	// MaxRequests bounds a connection's requests in flight. Default 16.
	MaxRequests int `yaml:"max_requests"`
	// RetainedBucket is the JetStream key-value bucket of retained
	// messages, shared by every gateway on the NATS deployment. Default
	// "wsgate_mqtt_retained".
	RetainedBucket string `yaml:"retained_bucket"`
	// ClientsBucket is the JetStream key-value bucket through which
	// gateways take sessions over from each other. Default
	// "wsgate_mqtt_clients".
	ClientsBucket string `yaml:"clients_bucket"`
	// MaxSessionExpiry caps the life of a persistent session after its
	// connection ends (3.1.1 Clean Session 0 sessions get it; v5 Session
	// Expiry Interval is capped to it). Default 24h.
	MaxSessionExpiry time.Duration `yaml:"max_session_expiry"`
	// SessionStream is the JetStream stream of QoS 1/2 messages for
	// persistent sessions; their ends are scheduled in the stream of this
	// name with "_EXPIRY" appended. Default "WSGATE_MQTT_MSGS".
	SessionStream string `yaml:"session_stream"`
	// SessionsBucket is the key-value bucket of persistent sessions'
	// subscriptions. Default "wsgate_mqtt_sessions".
	SessionsBucket string `yaml:"sessions_bucket"`
	// WillsBucket is the key-value bucket of v5 wills waiting out their
	// Will Delay Interval, shared by every gateway. Default
	// "wsgate_mqtt_wills".
	WillsBucket string `yaml:"wills_bucket"`
	// ServerReference, when set, is where a gateway that shuts down sends
	// its MQTT 5 clients: their DISCONNECT says 0x9C (Use another server)
	// with this Server Reference [MQTT-4.11] instead of 0x8B (Server
	// shutting down) — the balancer's address, say, so that a client that
	// follows it does not come back to this gateway. Default "": 0x8B.
	ServerReference string `yaml:"server_reference"`
}

func (c Config) withDefaults() Config {
	if c.MaxPacketSize <= 0 {
		c.MaxPacketSize = 1 << 20
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = 10 * time.Second
	}
	if c.ReceiveMaximum <= 0 {
		c.ReceiveMaximum = 64
	}
	c.ReceiveMaximum = min(c.ReceiveMaximum, 65535)
	if c.MaxInflight <= 0 {
		c.MaxInflight = 256
	}
	c.MaxInflight = min(c.MaxInflight, 65535)
	if c.MaxQueued <= 0 {
		c.MaxQueued = 1000
	}
	if c.TopicAliasMaximum <= 0 {
		c.TopicAliasMaximum = 16
	}
	c.TopicAliasMaximum = min(c.TopicAliasMaximum, 65535)
	if c.OutboundTopicAliases == 0 {
		c.OutboundTopicAliases = 16
	}
	c.OutboundTopicAliases = min(c.OutboundTopicAliases, 65535)
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = 10 * time.Second
	}
	if c.MaxRequests <= 0 {
		c.MaxRequests = 16
	}
	if c.MaxSessionExpiry <= 0 {
		c.MaxSessionExpiry = 24 * time.Hour
	}
	if c.SessionStream == "" {
		c.SessionStream = "WSGATE_MQTT_MSGS"
	}
	if c.SessionsBucket == "" {
		c.SessionsBucket = "wsgate_mqtt_sessions"
	}
	if c.ClientsBucket == "" {
		c.ClientsBucket = "wsgate_mqtt_clients"
	}
	if c.WillsBucket == "" {
		c.WillsBucket = "wsgate_mqtt_wills"
	}
	if c.RetainedBucket == "" {
		c.RetainedBucket = "wsgate_mqtt_retained"
	}
	return c
}

// Protocol is the MQTT protocol adapter.
type Protocol struct {
	cfg Config

	mu       sync.Mutex
	conns    map[*conn]struct{} // walked by the keep-alive sweep
	clients  map[string]*conn   // by client id, for takeover
	sweeping bool
	tick     time.Duration

	wills     map[string]*pendingWill // delayed v5 wills by client key, under mu
	willStore kvOnce                  // wills_bucket
	retain    kvOnce                  // retained_bucket
	takeovers kvOnce                  // clients_bucket
	persist   persistStore
}

var (
	_ bridge.Protocol            = (*Protocol)(nil)
	_ bridge.InBandAuthenticator = (*Protocol)(nil)
)

// New returns the protocol with cfg's defaults applied.
func New(cfg Config) *Protocol {
	return &Protocol{
		cfg:     cfg.withDefaults(),
		conns:   map[*conn]struct{}{},
		clients: map[string]*conn{},
		wills:   map[string]*pendingWill{},
		tick:    time.Second,
	}
}

// Name implements bridge.Protocol.
func (p *Protocol) Name() string { return Name }

// Subprotocols implements bridge.Protocol.
func (p *Protocol) Subprotocols() []string { return []string{Subprotocol, Subprotocol31} }

// Paths implements bridge.Protocol.
func (p *Protocol) Paths() []string { return []string{"/mqtt"} }

// AuthenticatesInBand implements bridge.InBandAuthenticator: CONNECT
// carries the user name and password.
func (p *Protocol) AuthenticatesInBand() bool { return true }

// Open implements bridge.Protocol.
func (p *Protocol) Open(s *bridge.Session) bridge.Handler {
	c := newConn(p, s)
	p.track(c)
	return c
}
