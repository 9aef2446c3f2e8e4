package main

import (
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/wsgate/wsgate/bridge"
)

// defaultNATSPing is nats.ping_interval's default: a NATS node that hangs
// is left within about 30 s, not nats.go's 4 to 6 minutes.
const defaultNATSPing = 10 * time.Second

// connectNATS starts the embedded nats-server, unless nats.url names an
// external NATS, and connects the gateway's one connection to it. listen
// is the gateway's bound address, which names the default data directory.
// The embedded server's max_payload is sized for the largest client
// message; an external one's is checked, and may lower default limits
// (fitPayload).
// A disconnect is logged only with an error and while not stopping. The
// returned func closes the connections and stops the embedded server.
//
// There are two connections: nc for everything, and hub, made with
// nats.NoEcho, on which the gateway's fan-out hub subscribes and clients'
// messages are published. A client's message then never comes back to its
// own gateway through NATS: the hub hands it to local subscribers in
// process (bridge.Options.HubNATS), and NATS carries it to everyone else.
func connectNATS(c *config, listen string, log, natsLog *slog.Logger, stopping *atomic.Bool) (nc, hub *nats.Conn, closeAll func(), err error) {
	ping := c.NATS.PingInterval
	if ping <= 0 {
		ping = defaultNATSPing
	}
	opts := []nats.Option{
		nats.Name("wsgate"),
		nats.MaxReconnects(-1),
		nats.PingInterval(ping),
		nats.MaxPingsOutstanding(2),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subj := ""
			if sub != nil {
				subj = sub.Subject
			}
			log.Error("nats", "subject", subj, "err", err)
		}),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil && !stopping.Load() {
				log.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) { log.Info("nats reconnected", "url", nc.ConnectedUrl()) }),
	}
	hubOpts := append(append([]nats.Option(nil), opts...), nats.NoEcho(), nats.Name("wsgate-hub"))
	if c.NATS.URL != "" {
		nc, err := nats.Connect(c.NATS.URL, opts...)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("connect to NATS: %w", err)
		}
		if err := fitPayload(c, nc.MaxPayload(), log); err != nil {
			nc.Close()
			return nil, nil, nil, fmt.Errorf("%s: %w", nc.ConnectedUrlRedacted(), err)
		}
		hub, err := nats.Connect(c.NATS.URL, hubOpts...)
		if err != nil {
			nc.Close()
			return nil, nil, nil, fmt.Errorf("connect to NATS: %w", err)
		}
		return nc, hub, func() { hub.Close(); nc.Close() }, nil
	}
	ec := c.NATS.EmbeddedConfig
	ec.Logger = natsLog
	ec.MaxPayload = c.embeddedPayload()
	if ec.DataDir == "" {
		ec.DataDir = bridge.DefaultDataDir(listen, ec.Listen)
	}
	emb, err := bridge.StartEmbedded(ec)
	if errors.Is(err, bridge.ErrDataDirInUse) {
		return nil, nil, nil, fmt.Errorf("%w; give this gateway a data dir of its own with --data-dir DIR (nats.data_dir, WSGATE_DATA_DIR)", err)
	}
	if err != nil {
		return nil, nil, nil, err
	}
	if u := emb.ClusterURL(); u != "" {
		log.Info("embedded NATS started", "url", emb.ClientURL(), "data_dir", emb.DataDir(),
			"server_name", ec.ServerName, "cluster", ec.Cluster.Name, "route_url", u)
	} else {
		log.Info("embedded NATS started", "url", emb.ClientURL(), "data_dir", emb.DataDir())
	}
	if nc, err = emb.Connect(opts...); err == nil {
		if hub, err = emb.Connect(hubOpts...); err != nil {
			nc.Close()
		}
	}
	if err != nil {
		emb.Shutdown()
		return nil, nil, nil, fmt.Errorf("connect to NATS: %w", err)
	}
	return nc, hub, func() { hub.Close(); nc.Close(); emb.Shutdown() }, nil
}
