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
	"syscall"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/wsgate/wsgate/auth"
	"github.com/wsgate/wsgate/bridge"
	"github.com/wsgate/wsgate/protocols/jsonws"
	"github.com/wsgate/wsgate/protocols/mqtt"
	"github.com/wsgate/wsgate/protocols/stomp"
	"github.com/wsgate/wsgate/protocols/wamp"
)

// load parses flags, environment and the config file, and validates them.
func load(name string, args []string) (*config, error) {
	var s settings
	fs := flag.NewFlagSet("wsgate "+name, flag.ContinueOnError)
	s.register(fs)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
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

func validate(args []string) error {
	if _, err := load("validate", args); err != nil {
		return err
	}
	fmt.Println("config ok")
	return nil
}

func newLogger(c *config) *slog.Logger {
	lvl, _ := parseLevel(c.Log.Level)
	opts := &slog.HandlerOptions{Level: lvl}
	if c.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}

// run starts NATS (embedded unless a URL is given), the gateway, and waits
// for SIGINT or SIGTERM to shut down gracefully.
func run(args []string) error {
	c, err := load("run", args)
	if err != nil {
		return err
	}
	// Signals first: a SIGTERM at any point after this is a clean shutdown.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	log := newLogger(c)
	slog.SetDefault(log)
	if addr := os.Getenv("WSGATE_PPROF"); addr != "" {
		startPprof(addr, log)
	}

	var emb *bridge.Embedded
	var nc *nats.Conn
	natsOpts := []nats.Option{
		nats.Name("wsgate"),
		nats.MaxReconnects(-1),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subj := ""
			if sub != nil {
				subj = sub.Subject
			}
			log.Error("nats", "subject", subj, "err", err)
		}),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) { log.Warn("nats disconnected", "err", err) }),
		nats.ReconnectHandler(func(nc *nats.Conn) { log.Info("nats reconnected", "url", nc.ConnectedUrl()) }),
	}
	if c.NATS.URL == "" {
		emb, err = bridge.StartEmbedded(c.NATS.EmbeddedConfig)
		if err != nil {
			return err
		}
		defer emb.Shutdown()
		log.Info("embedded NATS started", "url", emb.ClientURL(), "data_dir", dataDirOf(c))
		nc, err = emb.Connect(natsOpts...)
	} else {
		nc, err = nats.Connect(c.NATS.URL, natsOpts...)
	}
	if err != nil {
		return fmt.Errorf("connect to NATS: %w", err)
	}
	defer nc.Close()

	jp, err := jsonws.New(c.JSON)
	if err != nil {
		return err
	}
	sp, err := stomp.New(c.STOMP, version)
	if err != nil {
		return err
	}
	wp, err := wamp.New(c.WAMP)
	if err != nil {
		return err
	}
	authn, err := auth.New(c.Auth, auth.Deps{Requester: bridge.NATSRequester(nc), Logger: log})
	if err != nil {
		return err
	}
	if cl, ok := authn.(io.Closer); ok {
		defer cl.Close()
	}
	if !c.Auth.Enabled() {
		log.Warn("AUTHENTICATION IS OFF (dev mode): any client may connect, from any origin, and publish and subscribe to every subject outside the reserved ones; /@connections and /metrics are open. Do not expose this gateway: add an auth: block to the config (see Security in README.md).")
	}

	gw, err := bridge.New(bridge.Options{
		Config:        c.Gateway,
		NATS:          nc,
		Authenticator: authn,
		Logger:        log,
		Protocols:     []bridge.Protocol{jp, sp, mqtt.New(c.MQTT), wp},
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	var certs *certReloader
	if c.TLS.enabled() {
		var tcfg *tls.Config
		if tcfg, certs, err = c.TLS.serverTLS(log); err != nil {
			return err
		}
		ln = tls.NewListener(ln, tcfg)
	}
	serveErr := make(chan error, 2)
	if a := c.Gateway.Admin.Listen; a != "" {
		aln, err := net.Listen("tcp", a)
		if err != nil {
			return fmt.Errorf("admin listen: %w", err)
		}
		admin := &http.Server{Handler: gw.AdminHandler(), ReadHeaderTimeout: 10 * time.Second}
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
			if certs == nil {
				log.Info("SIGHUP: nothing to reload (no TLS)")
				continue
			}
			if err := certs.reload(); err != nil {
				log.Error("SIGHUP: certificate not reloaded, keeping the old one", "err", err)
			} else {
				log.Info("SIGHUP: certificate reloaded", "cert", c.TLS.CertFile)
			}
		case <-ctx.Done():
			break wait
		}
	}
	stop()
	log.Info("shutting down: closing connections")
	timeout := c.Gateway.ShutdownTimeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	sctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := gw.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		log.Warn("shutdown", "err", err)
	}
	if err := drain(nc, timeout); err != nil {
		log.Warn("nats drain", "err", err)
	}
	log.Info("stopped")
	return nil
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

func dataDirOf(c *config) string {
	if c.NATS.DataDir != "" {
		return c.NATS.DataDir
	}
	return "(default: wsgate-data in the temp dir)"
}
