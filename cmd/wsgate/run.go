package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel"

	"github.com/wsgate/wsgate/auth"
	"github.com/wsgate/wsgate/bridge"
	"github.com/wsgate/wsgate/protocols/jsonws"
	"github.com/wsgate/wsgate/protocols/mqtt"
	"github.com/wsgate/wsgate/protocols/socketio"
	"github.com/wsgate/wsgate/protocols/stomp"
	"github.com/wsgate/wsgate/protocols/wamp"
)

// runCommand is `wsgate run`, the default command.
func runCommand() *command {
	return &command{
		name:     "run",
		synopsis: "[run] [flags]",
		summary:  "run the gateway (the default command)",
		about: `Runs the gateway: WebSocket and HTTP on --listen, and nats-server embedded
(clients on --nats-listen, JetStream in --data-dir) unless --nats-url names
an external NATS server or cluster. Each flag is also an environment
variable and a key of the config file (README.md, Configuration): a flag
beats the environment, which beats the file. The configuration is checked
as 'wsgate validate' checks it before anything starts. SIGTERM or SIGINT
stops the gateway gracefully. SIGHUP, like POST /admin/reload, reads the
config file again and applies what can change live (JSON routes, auth,
origins, limits, the TLS certificate); a config that is not valid is
refused and the running one kept (README.md, Operations).`,
		define: func(fs *flag.FlagSet) func(io.Writer) error {
			var s settings
			s.registerRun(fs)
			return func(io.Writer) error {
				if fs.NArg() > 0 {
					return usagef("unexpected argument %q", fs.Arg(0))
				}
				return run(&s)
			}
		},
	}
}

// validateCommand is `wsgate validate`.
func validateCommand() *command {
	return &command{
		name:     "validate",
		synopsis: "validate [--config FILE]",
		summary:  "check the configuration and name every wrong key",
		about: `Checks the config file (--config, or WSGATE_CONFIG) with the WSGATE_*
environment laid over it, as 'wsgate run' would load it, and names every
wrong key (json.routes.say.subject: unknown variable {bdy.room}); unknown
keys are errors too. Exits 0 and says what it checked if all is well, 1
otherwise. Nothing is started and nothing is connected to.`,
		define: func(fs *flag.FlagSet) func(io.Writer) error {
			var s settings
			s.registerConfig(fs)
			return func(stdout io.Writer) error {
				if fs.NArg() > 0 {
					return usagef("unexpected argument %q", fs.Arg(0))
				}
				if _, err := load(&s); err != nil {
					return err
				}
				if s.configFile == "" {
					fmt.Fprintln(stdout, "config ok (no --config: built-in defaults and WSGATE_* environment)")
				} else {
					fmt.Fprintf(stdout, "config ok (%s and WSGATE_* environment)\n", s.configFile)
				}
				return nil
			}
		},
	}
}

// load lays the environment under the parsed flags s, reads the config
// file, and validates the result.
func load(s *settings) (*config, error) {
	s.fromEnv()
	c, err := loadConfig(s.configFile)
	if err != nil {
		return nil, err
	}
	s.apply(c)
	if err := c.validate(); err != nil {
		where := "settings"
		if s.configFile != "" {
			where = s.configFile
		}
		return nil, fmt.Errorf("%s is not valid:\n%w", where, err)
	}
	return c, nil
}

// run starts NATS (embedded unless a URL is given), the gateway, and waits
// for SIGINT or SIGTERM to shut down gracefully.
func run(s *settings) error {
	c, err := load(s)
	if err != nil {
		return err
	}
	// Signals first: a SIGTERM at any point after this is a clean shutdown.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	recent := newRecentLog(c)
	log, natsLog, stageLogs := newStageLoggers(c, recent)
	slog.SetDefault(log)
	if addr := os.Getenv("WSGATE_PPROF"); addr != "" {
		startPprof(addr, log)
	}

	// The main port first: it is ours from here on, and it names the
	// embedded server's default data directory.
	ln, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	defer ln.Close()
	// A disconnect without an error is our own close: at shutdown, or on
	// the way out after a failed start. Neither is worth a warning.
	var stopping atomic.Bool
	nc, hubNC, closeNATS, err := connectNATS(c, ln.Addr().String(), log, natsLog, &stopping)
	if err != nil {
		return err
	}
	defer closeNATS()

	jp, protos, err := newProtocols(c)
	if err != nil {
		return err
	}
	deps := auth.Deps{Requester: bridge.NATSRequester(nc), Logger: log}
	authn, err := auth.New(c.Auth, deps)
	if err != nil {
		return err
	}
	rl := &reloader{s: s, running: c, json: jp, authn: authn, deps: deps, log: log}
	defer func() {
		rl.mu.Lock()
		closeAuth(rl.authn) // the last one a reload left
		rl.mu.Unlock()
	}()
	if !c.Auth.Enabled() {
		log.Warn("AUTHENTICATION IS OFF (dev mode): any client may connect, from any origin, and publish and subscribe to every subject outside the reserved ones; /@connections and /metrics are open. Do not expose this gateway: add an auth: block to the config (see Security in README.md).")
	}

	var handlers map[string]http.Handler
	if c.AsyncAPI.Serve {
		doc, err := c.asyncAPIDoc(protos)
		if err != nil {
			return err
		}
		h := &asyncAPIHandler{}
		h.Set(doc)
		rl.applied = func(c *config) {
			if doc, err := liveView(rl.running, c).asyncAPIDoc(protos); err == nil {
				h.Set(doc)
			} else {
				log.Error("reload: the AsyncAPI document was not rebuilt", "err", err)
			}
		}
		handlers = map[string]http.Handler{"GET " + c.AsyncAPI.path(): h}
	}

	if c.Tracing.Enabled {
		// The exporters report failures (a collector that is down) to
		// OpenTelemetry's global handler: into our log, not stderr's.
		otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { log.Warn("tracing", "err", err) }))
	}
	gw, err := bridge.New(bridge.Options{
		Config:         c.gatewayConfig(),
		NATS:           nc,
		HubNATS:        hubNC,
		Authenticator:  authn,
		Logger:         log,
		Protocols:      protos,
		Handlers:       handlers,
		StreamReplicas: c.NATS.StreamReplicas,
		Stages:         c.stages(stageLogs),
		Routes:         jp.Routes,
		Recent:         recent,
		Tracing:        c.Tracing,
		Reload: func(ctx context.Context) (bridge.ReloadReport, error) {
			return rl.reload(ctx, "POST /admin/reload")
		},
	})
	if err != nil {
		return err
	}
	rl.gw = gw
	var certs *certReloader
	if c.TLS.enabled() {
		var tcfg *tls.Config
		if tcfg, certs, err = c.TLS.serverTLS(log); err != nil {
			return err
		}
		rl.certs = certs
		// Like tls.NewListener, but upgraded connections are read through
		// the gateway's poller: an idle TLS connection has no goroutine.
		ln = bridge.TLSListener(ln, tcfg)
	}
	serveErr := make(chan error, 2)
	if a := c.Gateway.Admin.Listen; a != "" {
		aln, err := net.Listen("tcp", a)
		if err != nil {
			return fmt.Errorf("admin listen: %w", err)
		}
		admin := &http.Server{Handler: gw.AdminHandler(), ReadHeaderTimeout: c.Gateway.WithDefaults().ReadHeaderTimeout}
		defer admin.Close()
		log.Info("operator endpoints listening", "addr", aln.Addr().String())
		go func() {
			if err := admin.Serve(aln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				serveErr <- fmt.Errorf("admin: %w", err)
			}
		}()
	}
	log.Info("wsgate listening", "addr", ln.Addr().String(), "tls", c.TLS.enabled(), "gateway", gw.ID(), "version", version)

	go func() { serveErr <- gw.Serve(ln) }()
wait:
	for {
		select {
		case err := <-serveErr:
			return fmt.Errorf("serve: %w", err)
		case <-hup:
			_, _ = rl.reload(ctx, "SIGHUP") // logged and counted there
		case <-ctx.Done():
			break wait
		}
	}
	stop()
	stopping.Store(true)
	log.Info("shutting down: closing connections")
	timeout := c.Gateway.WithDefaults().ShutdownTimeout
	sctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := gw.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		log.Warn("shutdown", "err", err)
	}
	for _, c := range []*nats.Conn{hubNC, nc} {
		// What is left of the shutdown timeout, and a second at least.
		left, _ := sctx.Deadline()
		if err := drain(c, max(time.Until(left), time.Second)); err != nil {
			log.Warn("nats drain", "err", err)
		}
	}
	log.Info("stopped")
	return nil
}

// newProtocols makes the wire protocols of c, in the order the gateway
// prefers them, and returns the JSON one apart (routes reload).
func newProtocols(c *config) (*jsonws.Protocol, []bridge.Protocol, error) {
	jp, err := jsonws.New(c.JSON)
	if err != nil {
		return nil, nil, err
	}
	sp, err := stomp.New(c.STOMP, version)
	if err != nil {
		return nil, nil, err
	}
	wp, err := wamp.New(c.WAMP)
	if err != nil {
		return nil, nil, err
	}
	sio, err := socketio.New(c.SocketIO)
	if err != nil {
		return nil, nil, err
	}
	return jp, []bridge.Protocol{jp, sp, mqtt.New(c.MQTT), wp, sio}, nil
}

// drain flushes what the gateway has published and closes the connection.
func drain(nc *nats.Conn, timeout time.Duration) error {
	closed := make(chan struct{})
	nc.SetClosedHandler(func(*nats.Conn) { close(closed) })
	if err := nc.Drain(); err != nil {
		return err
	}
	select {
	case <-closed:
		return nil
	case <-time.After(timeout):
		return errors.New("timed out")
	}
}

// gatewayConfig is the gateway's config with gateway.ghost_timeout's
// default settled: liveness is on (15s) when the gateway shares its NATS
// with others (nats.url, nats.cluster), and off for a standalone embedded
// server, where it would cost about 1.5 KiB of JetStream store per
// connection and a tenth of the connect rate for nothing but a restart
// after a SIGKILL. A value in the config wins.
func (c *config) gatewayConfig() bridge.Config {
	g := c.Gateway
	if g.GhostTimeout == 0 && c.NATS.URL == "" && !c.NATS.Cluster.Enabled() {
		g.GhostTimeout = -1
	}
	return g
}
