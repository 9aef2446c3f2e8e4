package bridge

import (
	"cmp"
	"math"
	"net/http"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go" // the metrics' values, read without the text format
)

// RouteStats is one route in GET /admin/api/routes: its configuration, as
// GET /admin/routes has it, and this gateway's figures for its key since
// the gateway started, from wsgate_route_duration_seconds and
// wsgate_integration_errors_total. Routes of several stages that share a
// key share their figures, as the metrics do. A rate is the difference
// of two answers' Count over their At.
type RouteStats struct {
	RouteInfo
	// Count is how many times the route ran.
	Count uint64 `json:"count"`
	// MeanMs, P50Ms and P99Ms are its duration in milliseconds: the mean,
	// and the median and 99th percentile interpolated within the
	// histogram's buckets as Prometheus's histogram_quantile does. Zero
	// when it never ran.
	MeanMs float64 `json:"mean_ms"`
	P50Ms  float64 `json:"p50_ms"`
	P99Ms  float64 `json:"p99_ms"`
	// Errors counts its failed integrations, and ErrorsByKind by kind
	// (timeout, no_responders, ...).
	Errors       uint64            `json:"errors"`
	ErrorsByKind map[string]uint64 `json:"errors_by_kind,omitempty"`
}

// RoutesReport is the answer of GET /admin/api/routes.
type RoutesReport struct {
	Gateway string       `json:"gateway"`
	At      time.Time    `json:"at"`
	Routes  []RouteStats `json:"routes"`
}

// routeFigures reads the route collectors: durations and errors by route
// key.
func (m *metrics) routeFigures() (durations map[string]*dto.Histogram, errs map[string]map[string]uint64) {
	durations, errs = map[string]*dto.Histogram{}, map[string]map[string]uint64{}
	for _, pm := range collect(m.routeLatency) {
		if h := pm.GetHistogram(); h != nil {
			durations[label(pm, "route")] = h
		}
	}
	for _, pm := range collect(m.integrationErr) {
		route := label(pm, "route")
		if errs[route] == nil {
			errs[route] = map[string]uint64{}
		}
		errs[route][label(pm, "kind")] += uint64(pm.GetCounter().GetValue())
	}
	return durations, errs
}

// collect reads every series of c.
func collect(c prometheus.Collector) []*dto.Metric {
	ch := make(chan prometheus.Metric, 16)
	go func() { c.Collect(ch); close(ch) }()
	var out []*dto.Metric
	for m := range ch {
		var pm dto.Metric
		if m.Write(&pm) == nil {
			out = append(out, &pm)
		}
	}
	return out
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// quantile estimates the q-quantile of h in seconds, interpolating
// linearly within the bucket it falls in (the first bucket starts at 0;
// one past the last bucket answers the last bound).
func quantile(h *dto.Histogram, q float64) float64 {
	total := h.GetSampleCount()
	if total == 0 {
		return 0
	}
	rank := q * float64(total)
	lower, below := 0.0, uint64(0)
	for _, b := range h.GetBucket() {
		upper, count := b.GetUpperBound(), b.GetCumulativeCount()
		if float64(count) >= rank {
			if count == below || math.IsInf(upper, 1) {
				return lower
			}
			return lower + (upper-lower)*(rank-float64(below))/float64(count-below)
		}
		lower, below = upper, count
	}
	return lower
}

// getRouteStats is GET /admin/api/routes.
func (g *Gateway) getRouteStats(w http.ResponseWriter, _ *http.Request) {
	durations, errs := g.metrics.routeFigures()
	rep := RoutesReport{Gateway: g.id, At: time.Now().UTC(), Routes: []RouteStats{}}
	seen := map[string]bool{}
	add := func(ri RouteInfo) {
		rs := RouteStats{RouteInfo: ri}
		if h := durations[ri.Key]; h != nil && h.GetSampleCount() > 0 {
			rs.Count = h.GetSampleCount()
			rs.MeanMs = h.GetSampleSum() / float64(rs.Count) * 1000
			rs.P50Ms = quantile(h, 0.5) * 1000
			rs.P99Ms = quantile(h, 0.99) * 1000
		}
		if len(errs[ri.Key]) > 0 {
			rs.ErrorsByKind = errs[ri.Key]
			for _, n := range rs.ErrorsByKind {
				rs.Errors += n
			}
		}
		seen[ri.Key] = true
		rep.Routes = append(rep.Routes, rs)
	}
	if g.routeFn != nil {
		for _, ri := range g.routeFn() {
			add(ri)
		}
	}
	// Figures of keys no configured route has (a protocol's own $connect,
	// a route removed by a reload) are shown too, without a target.
	var others []string
	for k := range durations {
		if !seen[k] {
			others = append(others, k)
		}
	}
	for k := range errs {
		if !seen[k] && durations[k] == nil {
			others = append(others, k)
		}
	}
	slices.Sort(others)
	for _, k := range others {
		add(RouteInfo{Key: k})
	}
	slices.SortStableFunc(rep.Routes, func(a, b RouteStats) int {
		return cmp.Or(cmp.Compare(a.Stage, b.Stage), cmp.Compare(a.Key, b.Key))
	})
	writeJSON(w, rep)
}
