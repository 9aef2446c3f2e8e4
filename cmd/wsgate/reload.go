package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"strings"
	"sync"

	"github.com/wsgate/wsgate/auth"
	"github.com/wsgate/wsgate/bridge"
	"github.com/wsgate/wsgate/protocols/jsonws"
)

// reloader applies the config file again to a running gateway, on SIGHUP
// and POST /admin/reload. What can change live is swapped in whole
// (bridge.Gateway.Reload, jsonws.Protocol.Reload); what needs a restart is
// named in the log and keeps its running value.
type reloader struct {
	mu      sync.Mutex // one reload at a time
	s       *settings
	running *config // as started: what needs a restart is compared with it
	gw      *bridge.Gateway
	json    *jsonws.Protocol
	authn   auth.Authenticator // the one in use; closed when replaced
	deps    auth.Deps
	log     *slog.Logger
	certs   *certReloader // nil without TLS
	// applied, when set, is told of every config a reload applied.
	applied func(c *config)
}

// errDevModeSwitch names the one auth change a reload cannot make.
var errDevModeSwitch = errors.New("auth: turning authentication on or off takes a restart")

// reload reads and validates the config as 'wsgate validate' does and
// applies it. A config that is not valid is refused, logged and counted,
// and the running one is kept. by says who asked (SIGHUP, POST
// /admin/reload), for the log.
func (r *reloader) reload(ctx context.Context, by string) (bridge.ReloadReport, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	// The certificate first, whatever the config says: a renewed
	// certificate is not held back by a typo elsewhere.
	certOK := false
	if r.certs != nil {
		if err := r.certs.reload(); err != nil {
			r.log.Error("reload: certificate not reloaded, keeping the old one", "by", by, "err", err)
		} else {
			certOK = true
			r.log.Info("reload: certificate reloaded", "by", by)
		}
	}
	rep, err := r.apply(ctx)
	if err == nil && certOK {
		rep.Applied = append(rep.Applied, "tls certificate")
	}
	r.gw.Metrics().ConfigReload(err == nil)
	if err != nil {
		r.log.Error("config reload refused; the running config is kept", "by", by, "err", err)
		return rep, err
	}
	if len(rep.RestartNeeded) > 0 {
		r.log.Warn("config reload: these changed settings take a restart and keep their running values", "by", by, "settings", rep.RestartNeeded)
	}
	c := rep.Connections
	r.log.Info("config reloaded", "by", by, "applied", rep.Applied, "revoked", c.Revoked, "closed", c.Closed,
		"narrowed", c.Narrowed, "subscriptions_dropped", c.Dropped)
	return rep, nil
}

// apply is reload without the logging.
func (r *reloader) apply(context.Context) (bridge.ReloadReport, error) {
	var rep bridge.ReloadReport
	c, err := load(r.s)
	if err != nil {
		return rep, err
	}
	// The stages are the running ones: the new routes must fit them.
	probe := *c
	probe.Stages = r.running.Stages
	if err := errors.Join(probe.validateStageUse()...); err != nil {
		return rep, fmt.Errorf("json routes do not fit the running stages (stages take a restart):\n%w", err)
	}
	rep.RestartNeeded = restartNeeded(r.running, c)
	if c.Auth.Enabled() != r.running.Auth.Enabled() {
		return rep, errDevModeSwitch
	}
	authn, err := auth.New(c.Auth, r.deps)
	if err != nil {
		return rep, err
	}
	kept, err := r.json.Reload(c.JSON)
	if err != nil {
		closeAuth(authn)
		return rep, err
	}
	if kept {
		rep.RestartNeeded = append(rep.RestartNeeded, "json.route_selection_expression")
	}
	g := c.Gateway
	res, err := r.gw.Reload(bridge.Live{
		Authenticator:           authn,
		AllowedOrigins:          g.AllowedOrigins,
		InsecureSkipOriginCheck: g.InsecureSkipOriginCheck,
		Limits:                  g.Limits,
		OnRevoke:                c.Auth.OnRevoke,
	})
	if err != nil {
		// Checked above; the routes are in, which is harmless.
		closeAuth(authn)
		return rep, err
	}
	closeAuth(r.authn)
	r.authn = authn
	rep.Connections = res
	if r.applied != nil {
		r.applied(c)
	}
	rep.Applied = []string{"json", "auth", "gateway.allowed_origins", "gateway.insecure_skip_origin_check", "gateway.limits"}
	return rep, nil
}

// closeAuth stops what an authenticator runs (JWKS refreshes).
func closeAuth(a auth.Authenticator) {
	if cl, ok := a.(io.Closer); ok {
		_ = cl.Close()
	}
}

// restartNeeded names the settings that differ between the running config
// and c and that a reload does not apply.
func restartNeeded(running, c *config) []string {
	out := []string{} // [] in the report, not null
	diff := func(key string, a, b any) {
		if !reflect.DeepEqual(a, b) {
			out = append(out, key)
		}
	}
	diff("listen", running.Listen, c.Listen)
	diff("log", running.Log, c.Log)
	diff("nats", running.NATS, c.NATS)
	diff("tls", running.TLS, c.TLS)
	diff("mqtt", running.MQTT, c.MQTT)
	diff("stomp", running.STOMP, c.STOMP)
	diff("wamp", running.WAMP, c.WAMP)
	diff("socketio", running.SocketIO, c.SocketIO)
	diff("stages", running.Stages, c.Stages)
	diff("asyncapi.serve", running.AsyncAPI.Serve, c.AsyncAPI.Serve)
	diff("asyncapi.path", running.AsyncAPI.Path, c.AsyncAPI.Path)
	diff("tracing", running.Tracing, c.Tracing)
	a, b := running.Gateway, c.Gateway
	for _, g := range []*bridge.Config{&a, &b} {
		g.AllowedOrigins, g.InsecureSkipOriginCheck, g.Limits = nil, false, bridge.Limits{}
	}
	if !reflect.DeepEqual(a, b) {
		va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
		for i := range va.NumField() {
			if !reflect.DeepEqual(va.Field(i).Interface(), vb.Field(i).Interface()) {
				out = append(out, "gateway."+yamlName(va.Type().Field(i)))
			}
		}
	}
	return out
}

// yamlName is a struct field's key in the config file.
func yamlName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if name == "" {
		return f.Name
	}
	return name
}
