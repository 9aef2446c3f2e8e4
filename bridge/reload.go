package bridge

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/wsgate/wsgate/auth"
)

// Live are the settings a running gateway takes from a reloaded config
// (Reload). Everything else in Options and Config is fixed for the life of
// the gateway.
type Live struct {
	// Authenticator replaces the gateway's authenticator for new
	// connections, and gives open connections their permissions anew
	// (auth.Reauthorize). Nil means auth.None. It must be None exactly
	// when the gateway's was: dev mode is not switched on or off live.
	Authenticator auth.Authenticator
	// AllowedOrigins and InsecureSkipOriginCheck replace Config's for new
	// upgrades.
	AllowedOrigins          []string
	InsecureSkipOriginCheck bool
	// Limits replace Config.Limits: the handshake limits for new
	// connections, MaxSubscriptions for every subscribe from now on, the
	// message rate for new connections. A stage's own limits stay.
	Limits Limits
	// OnRevoke says what happens to an open connection whose principal
	// the new authenticator no longer admits (auth.ErrRevoked: its API key
	// is gone or replaced, anonymous access withdrawn): "close" (default)
	// closes it with 1008 "credentials revoked", "keep" leaves it open with
	// the permissions it had.
	OnRevoke string
}

// live is what Reload swaps: read with one atomic load per upgrade or
// subscribe, never locked.
type live struct {
	auth           auth.Authenticator
	allowedOrigins []string
	skipOrigin     bool
	limits         Limits
}

// ReloadResult says what a Reload did to open connections.
type ReloadResult struct {
	// Revoked is how many connections lost their credentials; Closed how
	// many of them were closed (OnRevoke "close").
	Revoked int `json:"revoked"`
	Closed  int `json:"closed"`
	// Narrowed is how many connections' permissions no longer allow a
	// subscription they held; Dropped is how many subscriptions they lost.
	Narrowed int `json:"narrowed"`
	Dropped  int `json:"subscriptions_dropped"`
}

// ReloadReport is the answer of POST /admin/reload.
type ReloadReport struct {
	// Applied names the config sections applied live.
	Applied []string `json:"applied"`
	// RestartNeeded names the changed settings that take a restart; they
	// keep their running values meanwhile.
	RestartNeeded []string `json:"restart_needed"`
	// Connections is what the reload did to open connections.
	Connections ReloadResult `json:"connections"`
}

// postReload is POST /admin/reload: Options.Reload, answered with its
// report, or 400 and the config's problems, one per line.
func (g *Gateway) postReload(w http.ResponseWriter, r *http.Request) {
	rep, err := g.reload(r.Context())
	w.Header().Set("Content-Type", "application/json")
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]any{
			"message": "config refused; the running config is kept",
			"errors":  strings.Split(strings.TrimSpace(err.Error()), "\n"),
		})
		return
	}
	_ = json.NewEncoder(w).Encode(rep)
}

// SubscriptionRevoker is implemented by handlers that tell their client
// that a reload took a subscription away (a JSON error frame). It runs on
// the reloading goroutine, after the subscription has ended, and must not
// block. Without it the subscription ends silently; the gateway logs it
// either way.
type SubscriptionRevoker interface {
	SubscriptionRevoked(sub *Subscription)
}

// PermissionsChanger is implemented by handlers that hold subscriptions
// outside the Session (STOMP's durable queue consumers): after a reload
// has given the connection new permissions and dropped the session's
// subscriptions they no longer allow, PermissionsChanged lets the handler
// check its own with Session.CheckSubscribe. It runs on the reloading
// goroutine and must not block for long.
type PermissionsChanger interface {
	PermissionsChanged()
}

// ErrDevModeSwitch refuses a Reload that would turn authentication on or
// off: that needs a restart.
var ErrDevModeSwitch = errors.New("bridge: authentication cannot be turned on or off without a restart")

// Reload applies l to the running gateway. New connections see it at
// once; each open connection gets its permissions anew and loses the
// subscriptions they no longer allow, or, if its credentials are revoked,
// is closed (or kept, by l.OnRevoke). Messages in flight are not touched.
func (g *Gateway) Reload(l Live) (ReloadResult, error) {
	var res ReloadResult
	a := l.Authenticator
	if a == nil {
		a = auth.None{}
	}
	if _, none := a.(auth.None); none != g.devMode {
		return res, ErrDevModeSwitch
	}
	switch l.OnRevoke {
	case "", "close", "keep":
	default:
		return res, fmt.Errorf("bridge: Live.OnRevoke %q is not close or keep", l.OnRevoke)
	}
	g.reloads.Add(1) // before any principal changes: see subscribe
	g.live.Store(&live{auth: a, allowedOrigins: l.AllowedOrigins, skipOrigin: l.InsecureSkipOriginCheck, limits: l.Limits})
	g.adm.setLimits(l.Limits)
	for _, s := range g.snapshot() {
		revoked, closed, dropped := s.reauthorize(a, l.OnRevoke != "keep")
		if revoked {
			res.Revoked++
		}
		if closed {
			res.Closed++
		}
		if dropped > 0 {
			res.Narrowed++
			res.Dropped += dropped
		}
	}
	return res, nil
}

// authenticator is the gateway's current authenticator.
func (g *Gateway) authenticator() auth.Authenticator { return g.live.Load().auth }

// reauthorize gives s its permissions under a, a reloaded authenticator:
// it drops the subscriptions they no longer allow, telling the handler if
// it wants to know, or, when a revokes its credentials, closes it if
// closeRevoked says so.
func (s *Session) reauthorize(a auth.Authenticator, closeRevoked bool) (revoked, closed bool, dropped int) {
	old := s.Principal()
	p, err := auth.Reauthorize(a, old)
	if err != nil {
		// A deny template that can no longer be filled in refuses the
		// principal as surely as a removed key.
		log := s.Logger().With("principal", old.ID, "err", err)
		if !closeRevoked {
			log.Warn("reload: credentials revoked; connection kept (auth.on_revoke: keep)")
			return true, false, 0
		}
		log.Info("reload: credentials revoked; closing the connection")
		s.Close(ClosePolicy, "credentials revoked")
		return true, true, 0
	}
	if p == old {
		return false, false, 0
	}
	s.principal.Store(p)
	var gone []*Subscription
	s.subsMu.Lock()
	for _, sub := range s.subs {
		if sub.checked && !p.Permissions.CanSubscribe(sub.pattern) {
			gone = append(gone, sub)
		}
	}
	s.subsMu.Unlock()
	var (
		rv SubscriptionRevoker
		pc PermissionsChanger
	)
	if s.attached.Load() { // else no handler yet
		rv, _ = s.handler.(SubscriptionRevoker)
		pc, _ = s.handler.(PermissionsChanger)
	}
	if pc != nil {
		defer pc.PermissionsChanged()
	}
	for _, sub := range gone {
		sub.Unsubscribe()
		s.gw.metrics.denied.WithLabelValues(s.proto.Name(), "subscribe").Inc()
		s.Logger().Info("reload: subscription no longer permitted; dropped", "principal", p.ID, "pattern", sub.pattern)
		if rv != nil {
			rv.SubscriptionRevoked(sub)
		}
	}
	return false, false, len(gone)
}
