package bridge

import (
	"math"
	"testing"

	dto "github.com/prometheus/client_model/go"
)

func TestConsoleRoutes(t *testing.T) {
	e := newEnv(t, consoleConfig())
	e.gw.routeFn = func() []RouteInfo { // before any request reads it
		return []RouteInfo{
			{Key: "say", Integration: "publish", Target: "chat.{body.room}"},
			{Key: "ask", Integration: "request", Target: "rpc.ask"},
			{Stage: "test", Key: "say", Integration: "publish", Target: "test.chat"},
		}
	}
	m := e.gw.Metrics()
	for _, s := range []float64{0.002, 0.002, 0.004} {
		m.RouteDone("say", s)
	}
	m.IntegrationError("say", "timeout")
	m.IntegrationError("say", "timeout")
	m.IntegrationError("ask", "no_responders")
	m.RouteDone("$connect", 0.01)

	var rep RoutesReport
	if code := e.adminGet("/admin/api/routes", consoleToken, &rep); code != 200 {
		t.Fatalf("routes: %d", code)
	}
	if rep.Gateway != e.gw.ID() || rep.At.IsZero() || len(rep.Routes) != 4 {
		t.Fatalf("routes: %+v", rep)
	}
	byKey := map[string]RouteStats{}
	for _, r := range rep.Routes {
		byKey[r.Stage+"/"+r.Key] = r
	}
	say := byKey["/say"]
	if say.Integration != "publish" || say.Target != "chat.{body.room}" || say.Count != 3 ||
		math.Abs(say.MeanMs-8.0/3) > 1e-6 || say.P50Ms <= 0 || say.P99Ms < say.P50Ms ||
		say.Errors != 2 || say.ErrorsByKind["timeout"] != 2 {
		t.Errorf("say: %+v", say)
	}
	if st := byKey["test/say"]; st.Count != 3 || st.Target != "test.chat" {
		t.Errorf("the stage's say shares the key's figures: %+v", st)
	}
	if ask := byKey["/ask"]; ask.Count != 0 || ask.MeanMs != 0 || ask.Errors != 1 || ask.ErrorsByKind["no_responders"] != 1 {
		t.Errorf("ask: %+v", ask)
	}
	if c := byKey["/$connect"]; c.Count != 1 || c.Integration != "" || math.Abs(c.MeanMs-10) > 1e-6 {
		t.Errorf("$connect, a key with figures and no configured route: %+v", c)
	}
}

func TestQuantile(t *testing.T) {
	u := func(n uint64) *uint64 { return &n }
	f := func(x float64) *float64 { return &x }
	h := &dto.Histogram{SampleCount: u(20), Bucket: []*dto.Bucket{
		{UpperBound: f(1), CumulativeCount: u(10)},
		{UpperBound: f(2), CumulativeCount: u(18)},
		{UpperBound: f(4), CumulativeCount: u(18)},
	}}
	for _, tc := range []struct{ q, want float64 }{
		{0.5, 1},    // the 10th of 20: the first bucket's top
		{0.25, 0.5}, // half way into the first bucket
		{0.7, 1.5},  // the 14th: half way into (1, 2]
		{0.95, 4},   // beyond the last bucket: its bound
	} {
		if got := quantile(h, tc.q); math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("quantile %v: %v, want %v", tc.q, got, tc.want)
		}
	}
	if got := quantile(&dto.Histogram{}, 0.5); got != 0 {
		t.Errorf("quantile of nothing: %v", got)
	}
}
