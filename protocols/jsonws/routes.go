package jsonws

import (
	"cmp"
	"slices"

	"github.com/wsgate/wsgate/bridge"
)

// Routes lists the routes as they are now (after any Reload): the shared
// ones, then each stage's own, by key; for GET /admin/routes.
func (p *Protocol) Routes() []bridge.RouteInfo {
	cfg := p.cur().cfg
	info := func(stage, key string, rc RouteConfig) bridge.RouteInfo {
		target := rc.Subject
		if rc.Integration == kindHTTP {
			target = rc.URL
		}
		if target == "" && len(rc.Targets) > 0 {
			target = "(chosen by condition)"
		}
		return bridge.RouteInfo{Stage: stage, Key: key, Integration: rc.Integration, Target: target}
	}
	var out []bridge.RouteInfo
	for key, rc := range cfg.Routes {
		out = append(out, info("", key, rc))
	}
	for stage, st := range cfg.Stages {
		for key, rc := range st.Routes {
			out = append(out, info(stage, key, rc))
		}
	}
	slices.SortFunc(out, func(a, b bridge.RouteInfo) int {
		return cmp.Or(cmp.Compare(a.Stage, b.Stage), cmp.Compare(a.Key, b.Key))
	})
	return out
}
