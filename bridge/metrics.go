package bridge

import (
	"net/http"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the gateway's Prometheus collectors, on a registry of the
// gateway's own (so tests can run several gateways in one process).
type metrics struct {
	reg            *prometheus.Registry
	connections    *prometheus.GaugeVec
	connects       *prometheus.CounterVec
	disconnects    *prometheus.CounterVec
	msgsIn         *prometheus.CounterVec
	msgsOut        *prometheus.CounterVec
	bytesIn        *prometheus.CounterVec
	bytesOut       *prometheus.CounterVec
	slowConsumers  *prometheus.CounterVec
	protocolErrors *prometheus.CounterVec
	denied         *prometheus.CounterVec
	limited        *prometheus.CounterVec
	routeLatency   *prometheus.HistogramVec
	integrationErr *prometheus.CounterVec
	routeCache     *prometheus.CounterVec
	reloads        *prometheus.CounterVec

	mu    sync.Mutex
	perPr map[string]*protoMetrics
	// routeObs holds each route's histogram, resolved once: a label
	// lookup hashes and locks on every message.
	routeObs sync.Map // route → prometheus.Observer
}

// protoMetrics are one protocol's hot-path collectors, resolved once so a
// delivery does not look labels up.
type protoMetrics struct {
	connections prometheus.Gauge
	msgsIn      prometheus.Counter
	msgsOut     prometheus.Counter
	bytesIn     prometheus.Counter
	bytesOut    prometheus.Counter
}

func newMetrics() *metrics {
	const ns = "wsgate"
	m := &metrics{
		reg: prometheus.NewRegistry(),
		connections: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns,
			Name: "connections", Help: "Open WebSocket connections."}, []string{"protocol"}),
		connects: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns,
			Name: "connects_total", Help: "Connection attempts by result (ok, refused, unauthorized, error)."},
			[]string{"protocol", "result"}),
		disconnects: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns,
			Name: "disconnects_total", Help: "Closed connections by who closed them (client, server, worker, error)."},
			[]string{"protocol", "by"}),
		msgsIn: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns,
			Name: "messages_in_total", Help: "Messages received from clients."}, []string{"protocol"}),
		msgsOut: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns,
			Name: "messages_out_total", Help: "Messages written to clients."}, []string{"protocol"}),
		bytesIn: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns,
			Name: "bytes_in_total", Help: "Payload bytes received from clients."}, []string{"protocol"}),
		bytesOut: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns,
			Name: "bytes_out_total", Help: "Frame bytes written to clients."}, []string{"protocol"}),
		slowConsumers: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns,
			Name: "slow_consumer_disconnects_total", Help: "Connections closed because their outbound queue was full."},
			[]string{"protocol"}),
		protocolErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns,
			Name: "protocol_errors_total", Help: "Bad client input by kind."}, []string{"protocol", "kind"}),
		denied: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns,
			Name: "permission_denied_total", Help: "Publishes and subscribes refused by permissions."},
			[]string{"protocol", "action"}),
		limited: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns,
			Name: "limit_exceeded_total", Help: "Connections and messages refused by a limit."},
			[]string{"protocol", "limit"}),
		routeLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns,
			Name: "route_duration_seconds", Help: "Time to run a route's integration.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2.5, 12)}, []string{"route"}),
		integrationErr: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns,
			Name: "integration_errors_total", Help: "Failed route integrations by kind (timeout, no_responders, http, ...)."},
			[]string{"route", "kind"}),
		routeCache: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns,
			Name: "route_cache_total", Help: "Route cache lookups by result (hit, miss)."},
			[]string{"route", "result"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns,
			Name: "config_reloads_total", Help: "Config reloads by result (ok, refused)."},
			[]string{"result"}),
		perPr: map[string]*protoMetrics{},
	}
	m.reg.MustRegister(m.connections, m.connects, m.disconnects, m.msgsIn, m.msgsOut,
		m.bytesIn, m.bytesOut, m.slowConsumers, m.protocolErrors, m.denied, m.limited,
		m.routeLatency, m.integrationErr, m.routeCache, m.reloads,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.reloads.WithLabelValues("ok") // both series exist, at zero, from the start
	m.reloads.WithLabelValues("refused")
	return m
}

func (m *metrics) protocol(name string) *protoMetrics {
	m.mu.Lock()
	defer m.mu.Unlock()
	pm := m.perPr[name]
	if pm == nil {
		pm = &protoMetrics{
			connections: m.connections.WithLabelValues(name),
			msgsIn:      m.msgsIn.WithLabelValues(name),
			msgsOut:     m.msgsOut.WithLabelValues(name),
			bytesIn:     m.bytesIn.WithLabelValues(name),
			bytesOut:    m.bytesOut.WithLabelValues(name),
		}
		m.perPr[name] = pm
	}
	return pm
}

// Metrics is the part of the gateway's metrics protocol adapters record.
type Metrics struct{ m *metrics }

// ProtocolError counts a bad client input of a kind ("bad_json",
// "no_route", ...).
func (x Metrics) ProtocolError(protocol, kind string) {
	x.m.protocolErrors.WithLabelValues(protocol, kind).Inc()
}

// RouteDone records a route integration's duration in seconds.
func (x Metrics) RouteDone(route string, seconds float64) {
	o, ok := x.m.routeObs.Load(route)
	if !ok {
		o, _ = x.m.routeObs.LoadOrStore(route, x.m.routeLatency.WithLabelValues(route))
	}
	o.(prometheus.Observer).Observe(seconds)
}

// LimitExceeded counts a message refused by a limit the protocol enforces
// itself, such as a route's rate ("route_rate"), in
// wsgate_limit_exceeded_total beside the gateway's own limits.
func (x Metrics) LimitExceeded(protocol, limit string) {
	x.m.limited.WithLabelValues(protocol, limit).Inc()
}

// IntegrationError counts a failed route integration.
func (x Metrics) IntegrationError(route, kind string) {
	x.m.integrationErr.WithLabelValues(route, kind).Inc()
}

// ConfigReload counts a config reload, applied (ok) or refused.
func (x Metrics) ConfigReload(ok bool) {
	result := "refused"
	if ok {
		result = "ok"
	}
	x.m.reloads.WithLabelValues(result).Inc()
}

// RouteCache counts a lookup in a route's reply cache.
func (x Metrics) RouteCache(route string, hit bool) {
	result := "miss"
	if hit {
		result = "hit"
	}
	x.m.routeCache.WithLabelValues(route, result).Inc()
}

func (g *Gateway) metricsHandler() http.Handler {
	return promhttp.HandlerFor(g.metrics.reg, promhttp.HandlerOpts{})
}
