package bridge

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
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
	// without a client listener.
	Listen string `yaml:"listen"`
	// DataDir holds JetStream's storage (in its jetstream folder). One
	// server at a time may use it: StartEmbedded locks it (a lock file
	// inside) and refuses a directory another holds with ErrDataDirInUse.
	// Default: DefaultDataDir("", Listen).
	DataDir string `yaml:"data_dir"`
	// ServerName names the embedded server. Default "wsgate".
	ServerName string `yaml:"server_name"`

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
