package main

import (
	"flag"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/wsgate/wsgate/auth"
	"github.com/wsgate/wsgate/bridge"
	"github.com/wsgate/wsgate/protocols/jsonws"
	"github.com/wsgate/wsgate/protocols/mqtt"
	"github.com/wsgate/wsgate/protocols/socketio"
	"github.com/wsgate/wsgate/protocols/stomp"
	"github.com/wsgate/wsgate/protocols/wamp"
)

// config is the whole config file. Every key can be left out.
type config struct {
	// Listen is the address of the WebSocket and HTTP port. Default ":8080".
	Listen string `yaml:"listen"`
	// Log sets the log level (debug, info, warn, error; default info) and
	// format (text or json; default text).
	Log struct {
		Level  string `yaml:"level"`
		Format string `yaml:"format"`
	} `yaml:"log"`
	// NATS says which NATS to use: an external URL, or the embedded server.
	NATS struct {
		// URL of an external NATS server or cluster (comma-separated).
		// Empty: run nats-server embedded.
		URL string `yaml:"url"`
		// LogLevel filters the embedded server's own log lines: trace,
		// debug, info, warn or error. Default warn.
		LogLevel string `yaml:"log_level"`
		// StreamReplicas is how many NATS servers keep each stream and
		// key-value bucket the gateway makes (MQTT sessions, retained
		// messages and wills, STOMP durable queues): 1 to 5, and more
		// than 1 only on a cluster (nats.url, or nats.cluster). Existing
		// ones are changed to it. Default 1; 3 on a cluster of three.
		StreamReplicas int `yaml:"stream_replicas"`
		// PingInterval is how often the gateway pings its NATS server
		// when the connection is quiet; after two unanswered pings it
		// reconnects to another. It bounds how long a NATS node that
		// hangs without closing (stopped, partitioned) holds the gateway:
		// about three intervals. Default 10s (nats.go's is 2 minutes).
		PingInterval time.Duration `yaml:"ping_interval"`
		// Embedded server settings (used when URL is empty).
		bridge.EmbeddedConfig `yaml:",inline"`
	} `yaml:"nats"`
	// Gateway tunes connections, limits and reserved subjects.
	Gateway bridge.Config `yaml:"gateway"`
	// JSON configures the raw JSON protocol and its routes.
	JSON jsonws.Config `yaml:"json"`
	// MQTT tunes the MQTT 3.1.1/5.0 protocol (subprotocol mqtt, path /mqtt).
	MQTT mqtt.Config `yaml:"mqtt"`
	// STOMP configures STOMP over WebSocket (v1x.stomp, /stomp).
	STOMP stomp.Config `yaml:"stomp"`
	// WAMP configures WAMP v2 (wamp.2.json/msgpack/cbor, /wamp).
	WAMP wamp.Config `yaml:"wamp"`
	// SocketIO configures Socket.IO v4 (Engine.IO v4, /socket.io/).
	SocketIO socketio.Config `yaml:"socketio"`
	// Auth configures authentication; without authenticators the gateway
	// runs in dev mode (everyone admitted, said loudly in the log).
	Auth auth.Config `yaml:"auth"`
	// TLS serves wss:// on the main port.
	TLS tlsConfig `yaml:"tls"`
	// Stages mount every protocol again under a path prefix per stage,
	// each with its own variables ({stage.<name>}), log level and limits,
	// and a Wsgate-Stage header on its messages. Default: none, and
	// nothing changes.
	Stages map[string]bridge.Stage `yaml:"stages"`
	// AsyncAPI describes the API as an AsyncAPI 3.0 document (wsgate
	// asyncapi), and serves it when asked to. Default: not served.
	AsyncAPI asyncAPIConfig `yaml:"asyncapi"`
	// Tracing sends OpenTelemetry spans over OTLP (README.md, Operations).
	// Default: off.
	Tracing bridge.TracingConfig `yaml:"tracing"`
}

// stages are the stages for the bridge, each with its logger.
func (c *config) stages(logs map[string]*slog.Logger) map[string]bridge.Stage {
	if len(c.Stages) == 0 {
		return nil
	}
	out := make(map[string]bridge.Stage, len(c.Stages))
	for name, st := range c.Stages {
		st.Logger = logs[name]
		out[name] = st
	}
	return out
}

// tlsConfig is the tls: block.
type tlsConfig struct {
	// CertFile and KeyFile are the PEM server certificate (chain) and key.
	// Both or neither. They are read again on SIGHUP.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ClientCAFile is a PEM bundle of CAs for client certificates (mTLS).
	ClientCAFile string `yaml:"client_ca_file"`
	// ClientAuth is none (default), request (verify if given) or require.
	ClientAuth string `yaml:"client_auth"`
}

// loadConfig reads path (if any) strictly: an unknown key is an error,
// and every error names its line and key (decodeYAML).
func loadConfig(path string) (*config, error) {
	c := &config{}
	if path == "" {
		return c, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if err := decodeYAML(b, c); err != nil {
		return nil, fmt.Errorf("config %s:\n%w", path, err)
	}
	return c, nil
}

// settings are the command line flags; each also reads WSGATE_<NAME> from
// the environment. A flag beats the environment, which beats the file.
type settings struct {
	configFile string
	listen     string
	natsURL    string
	natsListen string
	dataDir    string
	logLevel   string
	logFormat  string
}

// registerConfig defines the one flag validate shares with run.
func (s *settings) registerConfig(fs *flag.FlagSet) {
	fs.StringVar(&s.configFile, "config", "", "YAML config `file` (env WSGATE_CONFIG)")
}

// registerRun defines run's flags.
func (s *settings) registerRun(fs *flag.FlagSet) {
	s.registerConfig(fs)
	fs.StringVar(&s.listen, "listen", "", "WebSocket and HTTP `address` (env WSGATE_LISTEN; default :8080)")
	fs.StringVar(&s.natsURL, "nats-url", "", "external NATS `URL`s, comma-separated; nothing is embedded (env WSGATE_NATS_URL)")
	fs.StringVar(&s.natsListen, "nats-listen", "", "embedded NATS client `address` (env WSGATE_NATS_LISTEN; default 127.0.0.1:4222)")
	fs.StringVar(&s.dataDir, "data-dir", "", "embedded NATS JetStream storage `dir` (env WSGATE_DATA_DIR)")
	fs.StringVar(&s.logLevel, "log-level", "", "log `level`: debug, info, warn or error (env WSGATE_LOG_LEVEL; default info)")
	fs.StringVar(&s.logFormat, "log-format", "", "log `format`: text or json (env WSGATE_LOG_FORMAT; default text)")
}

// fromEnv fills what no flag set from WSGATE_* variables.
func (s *settings) fromEnv() {
	for _, e := range []struct {
		v    *string
		name string
	}{
		{&s.configFile, "WSGATE_CONFIG"}, {&s.listen, "WSGATE_LISTEN"},
		{&s.natsURL, "WSGATE_NATS_URL"}, {&s.natsListen, "WSGATE_NATS_LISTEN"},
		{&s.dataDir, "WSGATE_DATA_DIR"}, {&s.logLevel, "WSGATE_LOG_LEVEL"},
		{&s.logFormat, "WSGATE_LOG_FORMAT"},
	} {
		if *e.v == "" {
			*e.v = os.Getenv(e.name)
		}
	}
}

// apply lays flags and environment over the file's values, then defaults.
func (s *settings) apply(c *config) {
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&c.Listen, s.listen)
	set(&c.NATS.URL, s.natsURL)
	set(&c.NATS.Listen, s.natsListen)
	set(&c.NATS.DataDir, s.dataDir)
	set(&c.Log.Level, s.logLevel)
	set(&c.Log.Format, s.logFormat)
	if c.Listen == "" {
		c.Listen = ":8080"
	}
}
