package jsonws

import (
	"sort"
	"strings"
)

// StageVariables returns the names of the {stage.<name>} variables the
// templates (subjects, http URLs, queries and headers, cache keys) of the
// routes of stage use ("": the shared routes), sorted, so that a config can
// be checked against its stages. A config that does not compile uses none.
// jq's .stage is not included: it is data, and a missing member is null.
func (c Config) StageVariables(stage string) []string {
	cc, err := compile(c)
	if err != nil {
		return nil
	}
	seen := map[string]bool{}
	add := func(v string) {
		if name, ok := strings.CutPrefix(v, "stage."); ok {
			seen[name] = true
		}
	}
	var walk func(r *route)
	walk = func(r *route) {
		if r.subject != nil {
			for _, v := range r.subject.Vars() {
				add(v)
			}
		}
		if h := r.http; h != nil && h.url != nil {
			for _, seg := range h.url.segs {
				seg.vars(add)
			}
			for _, q := range h.url.query {
				q.value.vars(add)
			}
			for _, hp := range h.headers {
				hp.value.vars(add)
			}
		}
		r.cacheKey.vars(add)
		if r.xf != nil {
			for _, t := range r.xf.targets {
				walk(t)
			}
		}
	}
	for _, r := range cc.routesFor(stage) {
		walk(r)
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
