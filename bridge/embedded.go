package bridge

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// EmbeddedConfig configures the nats-server wsgate runs in-process when no
// external NATS is given.
type EmbeddedConfig struct {
	// Listen is the client address workers connect to. Default
	// "127.0.0.1:4222". Port 0 picks a free port ("127.0.0.1:0"); "-" runs
	// without a client listener.
	Listen string `yaml:"listen"`
	// DataDir holds JetStream's storage. Default: wsgate-data in the
	// system's temporary directory.
	DataDir string `yaml:"data_dir"`
	// ServerName names the embedded server. Default "wsgate".
	ServerName string `yaml:"server_name"`
}

// Embedded is a running in-process nats-server with JetStream.
type Embedded struct {
	srv *server.Server
}

// StartEmbedded starts nats-server in this process and waits until it is
// ready for connections.
func StartEmbedded(c EmbeddedConfig) (*Embedded, error) {
	if c.Listen == "" {
		c.Listen = "127.0.0.1:4222"
	}
	if c.DataDir == "" {
		c.DataDir = filepath.Join(os.TempDir(), "wsgate-data")
	}
	if c.ServerName == "" {
		c.ServerName = "wsgate"
	}
	opts := &server.Options{
		ServerName: c.ServerName,
		JetStream:  true,
		StoreDir:   c.DataDir,
		NoSigs:     true,
		// Fan-out to a local gateway is bursty: let it lag a little rather
		// than be cut off as a slow consumer.
		MaxPending: 256 << 20,
		// No subject cache: every connection holds a wildcard control
		// subscription (wsgate.conn.<id>.>), and the server walks its
		// whole cache on each wildcard SUB and UNSUB; the subjects a
		// gateway publishes to (key-value keys, reply inboxes, per-device
		// topics) are too varied for the cache to hit anyway.
		NoSublistCache: true,
	}
	if c.Listen == "-" {
		opts.DontListen = true
	} else {
		host, port, err := net.SplitHostPort(c.Listen)
		if err != nil {
			return nil, fmt.Errorf("embedded nats listen %q: %w", c.Listen, err)
		}
		opts.Host = host
		if opts.Port, err = strconv.Atoi(port); err != nil {
			return nil, fmt.Errorf("embedded nats listen %q: bad port", c.Listen)
		}
		if opts.Port == 0 {
			opts.Port = server.RANDOM_PORT
		}
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		return nil, errors.New("embedded nats: not ready after 10s (is the port in use?)")
	}
	return &Embedded{srv: srv}, nil
}

// ClientURL is the address workers connect to, or "" without a listener.
func (e *Embedded) ClientURL() string {
	if e.srv.Addr() == nil {
		return ""
	}
	return e.srv.ClientURL()
}

// Connect opens a connection to the embedded server in-process, without a
// socket.
func (e *Embedded) Connect(opts ...nats.Option) (*nats.Conn, error) {
	opts = append(opts, nats.InProcessServer(e.srv))
	return nats.Connect("", opts...)
}

// Shutdown stops the server and waits for it.
func (e *Embedded) Shutdown() {
	e.srv.Shutdown()
	e.srv.WaitForShutdown()
}
