package socketio

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/wsgate/wsgate/subjects"
)

// Config is the socketio: block. The zero value is usable: every field
// says its default.
type Config struct {
	// Path is where Engine.IO clients connect (socket.io-client's path
	// option). Default /socket.io/.
	Path string `yaml:"path"`
	// SubjectPrefix is the first token of the subjects emits publish to:
	// <prefix>.<namespace>.<event>. Default sio.
	SubjectPrefix string `yaml:"subject_prefix"`
	// RoomPrefix is the first token of room subjects:
	// <room_prefix>.<namespace>.<room>, and <room_prefix>.<namespace> for
	// everyone in a namespace. Default sio-room.
	RoomPrefix string `yaml:"room_prefix"`

	// PingInterval is how often the server pings (Engine.IO pingInterval).
	// Default 25s.
	PingInterval time.Duration `yaml:"ping_interval"`
	// PingTimeout is how long the server waits for the pong before it
	// closes the connection (Engine.IO pingTimeout). Default 20s.
	PingTimeout time.Duration `yaml:"ping_timeout"`
	// MaxPayload is the largest Engine.IO packet a client may send, as the
	// open packet announces it; a larger one ends the connection. Default
	// 1000000 bytes (gateway.max_message_bytes applies too).
	MaxPayload int `yaml:"max_payload"`
	// MaxAttachments is the most binary attachments one packet may
	// announce; more end the connection. Default 10.
	MaxAttachments int `yaml:"max_attachments"`
	// MaxNamespaces is how many namespaces one connection may join at once;
	// one more is answered with CONNECT_ERROR. Default 16.
	MaxNamespaces int `yaml:"max_namespaces"`

	// CheckSessionIP refuses a polling request, or an upgrade, from another
	// address than the session's handshake came from (Session ID unknown).
	// Default false: clients whose address changes (mobile networks,
	// proxies) would lose their sessions.
	CheckSessionIP bool `yaml:"check_session_ip"`

	// RequestTimeout bounds an emit with an acknowledgement (a NATS
	// request): with no reply in time the ACK carries a timeout error.
	// Default 30s.
	RequestTimeout time.Duration `yaml:"request_timeout"`
	// MaxInflight is how many emits with acknowledgement one connection
	// may have waiting; one more is acknowledged with a limit error.
	// Default 64.
	MaxInflight int `yaml:"max_inflight"`
	// MaxPendingAcks is how many worker requests (emit over the
	// connection API) one connection may have waiting for the client's
	// acknowledgement; one more is answered with an error. Default 64.
	MaxPendingAcks int `yaml:"max_pending_acks"`

	// Recovery is connection state recovery (socket.io's
	// connectionStateRecovery), off by default.
	Recovery RecoveryConfig `yaml:"recovery"`

	// Routes map event names onto integrations, as the JSON protocol's
	// routes map actions. An event without a route publishes to its own
	// subject (a request with an acknowledgement). The route $connect, a
	// request, admits or refuses each namespace CONNECT. Default none.
	Routes map[string]RouteConfig `yaml:"routes"`
}

// RouteConfig is one event's route. Templates take {connectionId},
// {principal}, {namespace} (the namespace's subject token), {claims.<name>},
// {context.<key>}, {arg<n>} (the nth argument, from 0, a string or number)
// and {arg<n>.<field>} (a member of an object argument); each value is
// escaped into one subject token.
type RouteConfig struct {
	// Integration is publish (the default: a request when the client
	// asks for an acknowledgement), request (always a request; without an
	// acknowledgement the reply is dropped), join or leave (the room that
	// Room names).
	Integration string `yaml:"integration"`
	// Subject is the subject template of publish and request. Default the
	// event's own subject.
	Subject string `yaml:"subject"`
	// Room is the room name template of join and leave. Default {arg0}.
	Room string `yaml:"room"`
	// Timeout bounds a request. Default request_timeout.
	Timeout time.Duration `yaml:"timeout"`
}

// routeConnect is the route a CONNECT runs, if configured.
const routeConnect = "$connect"

// Route integrations.
const (
	integrationPublish = "publish"
	integrationRequest = "request"
	integrationJoin    = "join"
	integrationLeave   = "leave"
)

func (c Config) withDefaults() Config {
	if c.Path == "" {
		c.Path = "/socket.io/"
	}
	if c.SubjectPrefix == "" {
		c.SubjectPrefix = "sio"
	}
	if c.RoomPrefix == "" {
		c.RoomPrefix = "sio-room"
	}
	if c.PingInterval == 0 {
		c.PingInterval = 25 * time.Second
	}
	if c.PingTimeout == 0 {
		c.PingTimeout = 20 * time.Second
	}
	if c.MaxPayload == 0 {
		c.MaxPayload = 1000000
	}
	if c.MaxAttachments == 0 {
		c.MaxAttachments = 10
	}
	if c.MaxNamespaces == 0 {
		c.MaxNamespaces = 16
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = 30 * time.Second
	}
	if c.MaxInflight == 0 {
		c.MaxInflight = 64
	}
	if c.MaxPendingAcks == 0 {
		c.MaxPendingAcks = 64
	}
	c.Recovery = c.Recovery.withDefaults()
	return c
}

// Validate reports every problem of c, each naming its key (without the
// socketio. prefix).
func (c Config) Validate() error {
	var errs []error
	if c.Path != "" && (!strings.HasPrefix(c.Path, "/") || strings.ContainsAny(c.Path, "?# ")) {
		errs = append(errs, fmt.Errorf("path: %q must start with / and hold no query", c.Path))
	}
	for _, p := range []struct{ key, v string }{{"subject_prefix", c.SubjectPrefix}, {"room_prefix", c.RoomPrefix}} {
		if p.v == "" {
			continue
		}
		if err := subjects.ValidateSubject(p.v); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p.key, err))
		}
	}
	if c.SubjectPrefix != "" && c.SubjectPrefix == c.RoomPrefix {
		errs = append(errs, errors.New("room_prefix: must differ from subject_prefix"))
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{{"ping_interval", c.PingInterval}, {"ping_timeout", c.PingTimeout}, {"request_timeout", c.RequestTimeout}} {
		if d.v < 0 || (d.v > 0 && d.v < 10*time.Millisecond) {
			errs = append(errs, fmt.Errorf("%s: %s is shorter than 10ms", d.key, d.v))
		}
	}
	for _, n := range []struct {
		key string
		v   int
	}{
		{"max_payload", c.MaxPayload}, {"max_attachments", c.MaxAttachments}, {"max_namespaces", c.MaxNamespaces},
		{"max_inflight", c.MaxInflight}, {"max_pending_acks", c.MaxPendingAcks},
	} {
		if n.v < 0 {
			errs = append(errs, fmt.Errorf("%s: must not be negative", n.key))
		}
	}
	errs = append(errs, c.Recovery.validate()...)
	for _, key := range slices.Sorted(maps.Keys(c.Routes)) {
		if _, err := compileRoute(key, c.Routes[key]); err != nil {
			errs = append(errs, fmt.Errorf("routes.%s: %w", key, err))
		}
	}
	return errors.Join(errs...)
}
