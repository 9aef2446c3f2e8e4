package bridge

import (
	"cmp"
	"encoding/json"
	"net/http"
	"slices"
)

// ConnList is the answer of GET /@connections: this gateway's open
// connections, oldest first. In a cluster, each gateway lists its own.
type ConnList struct {
	Gateway     string     `json:"gateway"`
	Connections []ConnInfo `json:"connections"`
}

// listConnections is GET /@connections; ?principal= and ?protocol= filter.
// ?scope=cluster lists every gateway's, through the survey the admin
// console's search uses (at most maxSearchResults a gateway; the answer is
// a SearchReport, which says whether every gateway answered and whether
// one had more).
func (g *Gateway) listConnections(w http.ResponseWriter, r *http.Request) {
	principal, protocol := r.URL.Query().Get("principal"), r.URL.Query().Get("protocol")
	switch r.URL.Query().Get("scope") {
	case "", "gateway":
	case "cluster":
		rep, err := g.searchCluster(r.Context(), connQuery{Principal: principal, Exact: true, Protocol: protocol, Limit: maxSearchResults})
		if err != nil {
			writeJSONError(w, http.StatusBadGateway, err.Error())
			return
		}
		writeJSON(w, rep)
		return
	default:
		writeJSONError(w, http.StatusBadRequest, "scope must be gateway or cluster")
		return
	}
	out := ConnList{Gateway: g.id, Connections: []ConnInfo{}}
	for _, s := range g.snapshot() {
		if !s.attached.Load() {
			continue // still being upgraded
		}
		info := s.info()
		if principal != "" && info.Principal != principal || protocol != "" && info.Protocol != protocol {
			continue
		}
		out.Connections = append(out.Connections, info)
	}
	slices.SortFunc(out.Connections, func(a, b ConnInfo) int {
		return cmp.Or(a.ConnectedAt.Compare(b.ConnectedAt), cmp.Compare(a.ConnectionID, b.ConnectionID))
	})
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

// RouteInfo is one route in GET /admin/routes.
type RouteInfo struct {
	// Stage is the stage whose route it is; "" for the shared routes.
	Stage string `json:"stage,omitempty"`
	// Key is the route key ($connect, $default, sendmessage, ...).
	Key string `json:"key"`
	// Integration is publish, request, http, subscribe or unsubscribe.
	Integration string `json:"integration"`
	// Target is the subject template, or the URL of an http route.
	Target string `json:"target"`
}

// listRoutes is GET /admin/routes.
func (g *Gateway) listRoutes(w http.ResponseWriter, _ *http.Request) {
	routes := []RouteInfo{}
	if g.routeFn != nil {
		routes = append(routes, g.routeFn()...)
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"routes": routes})
}
