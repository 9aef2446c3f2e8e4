package bridge

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// EmbeddedConfig configures the nats-server wsgate runs in-process when no
// external NATS is given.
type EmbeddedConfig struct {
	// Listen is the client address workers connect to. Default
	// "127.0.0.1:4222". Port 0 picks a free port ("127.0.0.1:0"); "-" runs
	// without a client listener (not on a cluster node).
	Listen string `yaml:"listen"`
	// DataDir holds JetStream's storage (in its jetstream folder). One
	// server at a time may use it: StartEmbedded locks it (a lock file
	// inside) and refuses a directory another holds with ErrDataDirInUse.
	// Default: DefaultDataDir("", Listen).
	DataDir string `yaml:"data_dir"`
	// ServerName names the embedded server. Default "wsgate"; a cluster
	// node needs a name of its own (JetStream tells its peers apart by
	// it), so with Cluster it must be given.
	ServerName string `yaml:"server_name"`

	// Cluster makes the server one node of a NATS cluster, with JetStream
	// clustered across the nodes: three gateways whose servers route to
	// each other are a complete deployment, with no NATS of its own.
	// Default: no cluster.
	Cluster ClusterConfig `yaml:"cluster"`

	// LeafNode connects the server to a NATS server or cluster as a leaf
	// node. Default: none.
	LeafNode LeafNodeConfig `yaml:"leafnode"`

	// MaxPayload is the largest message the server accepts, headers
	// included (nats-server's max_payload). The caller sizes it from the
	// largest client message it accepts. Default 1 MiB, nats-server's.
	MaxPayload int32 `yaml:"-"`

	// Logger receives nats-server's log lines at their levels: trace
	// (LevelTrace), debug, notice (info), warning, error and fatal
	// (error). The server's debug and trace logging are on when Logger is
	// enabled for them. Nil: warnings and errors go to slog.Default().
	Logger *slog.Logger `yaml:"-"`
}

// ClusterConfig makes the embedded server a cluster node. Every node has
// the same Name and routes to the others; the nodes' JetStream is one,
// clustered, so streams and buckets can be replicated (the gateway's
// StreamReplicas).
type ClusterConfig struct {
	// Name of the cluster, the same on every node. Required.
	Name string `yaml:"name"`
	// Listen is the address other nodes' routes connect to, such as
	// "0.0.0.0:6222"; port 0 picks a free one. Required.
	Listen string `yaml:"listen"`
	// Routes are the nodes' cluster addresses as nats-route://host:port
	// URLs; a route to this node itself is ignored, so every node is best
	// given the same list, of all of them. A node also learns of the
	// nodes its routes know. Required: JetStream clusters only a node
	// with routes.
	Routes []string `yaml:"routes"`
}

// Enabled reports whether any cluster key is set.
func (c ClusterConfig) Enabled() bool { return c.Name != "" || c.Listen != "" || len(c.Routes) > 0 }

// LeafNodeConfig connects the embedded server to a hub as a leaf node: core
// NATS messages flow both ways, so the gateway's clients and the hub's
// workers meet; JetStream stays the leaf's own (its state lives on this
// server, not on the hub).
type LeafNodeConfig struct {
	// Remotes are the URLs of one hub's leafnode port, such as
	// nats-leaf://hub:7422 (nats-leaf, nats, tls, ws or wss); the server
	// connects to one of them and moves to another if it goes. Default:
	// none.
	Remotes []string `yaml:"remotes"`
}

// Embedded is a running in-process nats-server with JetStream.
type Embedded struct {
	srv  *server.Server
	dir  string   // DataDir
	lock *os.File // DataDir's lock, held until Shutdown
}

// ErrDataDirInUse is wrapped by StartEmbedded's error when another process
// (or another Embedded) holds the data directory.
var ErrDataDirInUse = errors.New("data dir in use")

// lockFile is the file in DataDir that a running server holds locked.
const lockFile = "wsgate.lock"

// DefaultDataDir is the data directory of an embedded server when none is
// given: wsgate-data-<gateway port>-<NATS port> in the system's temporary
// directory ("none" for a server without a client listener). Two gateways
// on one machine cannot share their ports, so they do not share a store
// either, and a restart on the same ports finds its store again. listen
// may be "" (the gateway's port is then left out).
func DefaultDataDir(listen, natsListen string) string {
	if natsListen == "" {
		natsListen = "127.0.0.1:4222"
	}
	name := "wsgate-data"
	if listen != "" {
		name += "-" + portName(listen)
	}
	return filepath.Join(os.TempDir(), name+"-"+portName(natsListen))
}

// portName is the port of addr, made safe for a file name.
func portName(addr string) string {
	if addr == "-" {
		return "none"
	}
	if _, port, err := net.SplitHostPort(addr); err == nil {
		addr = port
	}
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			return r
		}
		return '_'
	}, addr)
}

// lockDataDir creates dir if need be and takes its lock, without waiting.
// The lock file holds the owner's process id, for the error of the next
// one; the lock itself dies with the process, however it ends.
func lockDataDir(dir string) (*os.File, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("embedded nats: data dir: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("embedded nats: data dir: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		owner, _ := io.ReadAll(io.LimitReader(f, 32))
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("embedded nats: %w: %s is locked by process %s", ErrDataDirInUse, dir, strings.TrimSpace(string(owner)))
		}
		return nil, fmt.Errorf("embedded nats: lock data dir %s: %w", dir, err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return f, nil
}

// StartEmbedded starts nats-server in this process and waits until it is
// ready for connections.
func StartEmbedded(c EmbeddedConfig) (*Embedded, error) {
	if c.Listen == "" {
		c.Listen = "127.0.0.1:4222"
	}
	if c.DataDir == "" {
		c.DataDir = DefaultDataDir("", c.Listen)
	}
	if c.ServerName == "" {
		if c.Cluster.Enabled() {
			return nil, errors.New("embedded nats: a cluster node needs a server name of its own")
		}
		c.ServerName = "wsgate"
	}
	opts := &server.Options{
		ServerName: c.ServerName,
		JetStream:  true,
		StoreDir:   c.DataDir,
		NoSigs:     true,
		// Fan-out to a local gateway is bursty: let it lag a little rather
		// than be cut off as a slow consumer.
		MaxPending: max(256<<20, int64(c.MaxPayload)),
		MaxPayload: c.MaxPayload,
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
		var err error
		if opts.Host, opts.Port, err = hostPort(c.Listen); err != nil {
			return nil, fmt.Errorf("embedded nats listen %q: %w", c.Listen, err)
		}
	}
	if err := c.cluster(opts); err != nil {
		return nil, err
	}
	if err := c.leafNode(opts); err != nil {
		return nil, err
	}
	lock, err := lockDataDir(c.DataDir)
	if err != nil {
		return nil, err
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		lock.Close()
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	log := newNATSLogger(c.Logger)
	srv.SetLoggerV2(log, log.enabled(slog.LevelDebug), log.enabled(LevelTrace), false)
	go srv.Start()
	// A server that cannot start (its port taken, its store unusable)
	// says so through Fatalf and never gets ready: fail at once with its
	// own words rather than wait out the timeout.
	deadline := time.Now().Add(10 * time.Second)
	for !srv.ReadyForConnections(50 * time.Millisecond) {
		err = nil
		select {
		case msg := <-log.fatal:
			err = fmt.Errorf("embedded nats: %s", msg)
		default:
			if time.Now().After(deadline) {
				err = errors.New("embedded nats: not ready after 10s")
			}
		}
		if err != nil {
			srv.Shutdown()
			srv.WaitForShutdown()
			lock.Close()
			return nil, err
		}
	}
	return &Embedded{srv: srv, dir: c.DataDir, lock: lock}, nil
}

// cluster sets the cluster options of opts, if c has any.
func (c EmbeddedConfig) cluster(opts *server.Options) error {
	cl := c.Cluster
	if !cl.Enabled() {
		return nil
	}
	if cl.Name == "" || cl.Listen == "" || len(cl.Routes) == 0 {
		return errors.New("embedded nats: a cluster needs a name, a listen address and routes")
	}
	if opts.DontListen {
		// nats-server starts routing only once its client port is open.
		return errors.New(`embedded nats: a cluster node needs a client port (listen "-" cannot cluster)`)
	}
	host, port, err := hostPort(cl.Listen)
	if err != nil {
		return fmt.Errorf("embedded nats cluster listen %q: %w", cl.Listen, err)
	}
	opts.Cluster.Name, opts.Cluster.Host, opts.Cluster.Port = cl.Name, host, port
	for _, r := range cl.Routes {
		u, err := url.Parse(r)
		if err != nil || u.Host == "" {
			return fmt.Errorf("embedded nats cluster route %q is not a URL with a host", r)
		}
		opts.Routes = append(opts.Routes, u)
	}
	return nil
}

// leafNode sets the leaf node remotes of opts, if c has any.
func (c EmbeddedConfig) leafNode(opts *server.Options) error {
	if len(c.LeafNode.Remotes) == 0 {
		return nil
	}
	remote := &server.RemoteLeafOpts{}
	for _, r := range c.LeafNode.Remotes {
		u, err := url.Parse(r)
		if err != nil || u.Host == "" {
			return fmt.Errorf("embedded nats leafnode remote %q is not a URL with a host", r)
		}
		remote.URLs = append(remote.URLs, u)
	}
	opts.LeafNode.Remotes = []*server.RemoteLeafOpts{remote}
	return nil
}

// hostPort splits a listen address; port 0 is a random free port.
func hostPort(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		return "", 0, fmt.Errorf("bad port %q", p)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	return host, port, nil
}

// ClusterURL is the address other nodes route to (nats-route://host:port),
// or "" for a server that is not a cluster node.
func (e *Embedded) ClusterURL() string {
	a := e.srv.ClusterAddr()
	if a == nil {
		return ""
	}
	return "nats-route://" + a.String()
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

// LevelTrace is the slog level of nats-server's trace lines, below Debug.
const LevelTrace = slog.LevelDebug - 4

// natsLogger is nats-server's Logger on a slog.Logger.
type natsLogger struct {
	log   *slog.Logger
	min   slog.Level  // below it nothing is logged
	fatal chan string // the first fatal error, for StartEmbedded
}

var _ server.Logger = (*natsLogger)(nil)

func newNATSLogger(log *slog.Logger) *natsLogger {
	l := &natsLogger{log: log, min: LevelTrace, fatal: make(chan string, 1)}
	if log == nil {
		l.log, l.min = slog.Default(), slog.LevelWarn
	}
	return l
}

func (l *natsLogger) enabled(level slog.Level) bool {
	return level >= l.min && l.log.Enabled(context.Background(), level)
}

func (l *natsLogger) logf(level slog.Level, format string, v []any) {
	if l.enabled(level) {
		l.log.Log(context.Background(), level, fmt.Sprintf(format, v...))
	}
}

// Noticef implements server.Logger.
func (l *natsLogger) Noticef(format string, v ...any) { l.logf(slog.LevelInfo, format, v) }

// Warnf implements server.Logger.
func (l *natsLogger) Warnf(format string, v ...any) { l.logf(slog.LevelWarn, format, v) }

// Errorf implements server.Logger.
func (l *natsLogger) Errorf(format string, v ...any) { l.logf(slog.LevelError, format, v) }

// Debugf implements server.Logger.
func (l *natsLogger) Debugf(format string, v ...any) { l.logf(slog.LevelDebug, format, v) }

// Tracef implements server.Logger.
func (l *natsLogger) Tracef(format string, v ...any) { l.logf(LevelTrace, format, v) }

// Fatalf implements server.Logger. nats-server's own logger exits the
// process; this one logs an error and hands the first one to
// StartEmbedded, which stops the server and returns it.
func (l *natsLogger) Fatalf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	l.log.Error(msg, "fatal", true)
	select {
	case l.fatal <- msg:
	default:
	}
}

// DataDir is the JetStream directory the server holds.
func (e *Embedded) DataDir() string { return e.dir }

// Shutdown stops the server, waits for it, and releases its data
// directory.
func (e *Embedded) Shutdown() {
	e.srv.Shutdown()
	e.srv.WaitForShutdown()
	e.lock.Close()
}
