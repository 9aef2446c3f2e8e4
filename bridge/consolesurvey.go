package bridge

import (
	"cmp"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// The admin console's cluster-wide questions go to every gateway alive as
// surveys (survey.go), on <reserved>.survey.admin.counts and
// <reserved>.survey.admin.connections: a console on one gateway shows the
// connections of all of them. Each answer is computed on a NATS callback
// from the gateway's session table, with no I/O.
const (
	surveyCounts      = "admin.counts"
	surveyConnections = "admin.connections"
)

// Search bounds: a search answers at most maxSearchResults connections per
// gateway (defaultSearchResults unless ?limit= says).
const (
	defaultSearchResults = 50
	maxSearchResults     = 200
)

// GatewayCounts is one gateway's open connections, in GET
// /admin/api/counts.
type GatewayCounts struct {
	Gateway string `json:"gateway"`
	Total   int    `json:"total"`
	// Protocols counts connections by protocol, every protocol the
	// gateway speaks included, at zero if need be.
	Protocols map[string]int `json:"protocols"`
}

// CountsReport is the answer of GET /admin/api/counts.
type CountsReport struct {
	// Gateway is the gateway that answered the request.
	Gateway string `json:"gateway"`
	// Total and Protocols sum every gateway's counts.
	Total     int            `json:"total"`
	Protocols map[string]int `json:"protocols"`
	// Gateways are the gateways that answered, by id.
	Gateways []GatewayCounts `json:"gateways"`
	// Complete says whether every gateway alive answered in time.
	Complete bool `json:"complete"`
}

// SearchReport is the answer of GET /admin/api/connections.
type SearchReport struct {
	Connections []ConnInfo `json:"connections"`
	// Gateways is how many gateways answered; Complete whether every one
	// alive did.
	Gateways int  `json:"gateways"`
	Complete bool `json:"complete"`
	// Truncated says that a gateway had more matches than the limit.
	Truncated bool `json:"truncated"`
}

// connQuery is a connection search: every field set must match. ID
// matches a connection id exactly or as its prefix, Principal a part of
// the principal's id (any case), IP a source address exactly or as its
// prefix ("10.1."), Protocol exactly.
type connQuery struct {
	ID        string `json:"id,omitempty"`
	Principal string `json:"principal,omitempty"`
	// Exact: Principal is the principal's id, whole, as GET /@connections
	// filters; otherwise any part of it, in any case, as the console does.
	Exact    bool   `json:"exact,omitempty"`
	IP       string `json:"ip,omitempty"`
	Protocol string `json:"protocol,omitempty"`
	Limit    int    `json:"limit"`
}

// connAnswer is one gateway's answer to a search.
type connAnswer struct {
	Connections []ConnInfo `json:"connections"`
	Truncated   bool       `json:"truncated,omitempty"`
}

func (q *connQuery) match(s *Session) bool {
	switch {
	case q.ID != "" && !strings.HasPrefix(s.id, q.ID),
		q.IP != "" && !strings.HasPrefix(s.sourceIP, q.IP),
		q.Protocol != "" && s.proto.Name() != q.Protocol:
		return false
	case q.Principal != "" && q.Exact:
		return s.Principal().ID == q.Principal
	case q.Principal != "":
		return strings.Contains(strings.ToLower(s.Principal().ID), strings.ToLower(q.Principal))
	}
	return true
}

// consoleSurveys are the gateway's own survey answers.
func (g *Gateway) consoleSurveys() map[string]func([]byte) []byte {
	return map[string]func([]byte) []byte{
		surveyCounts: func([]byte) []byte {
			b, _ := json.Marshal(g.counts())
			return b
		},
		surveyConnections: func(question []byte) []byte {
			var q connQuery
			if json.Unmarshal(question, &q) != nil {
				return []byte(`{"connections":[]}`)
			}
			b, _ := json.Marshal(g.search(q))
			return b
		},
	}
}

// counts are this gateway's open connections by protocol.
func (g *Gateway) counts() GatewayCounts {
	c := GatewayCounts{Gateway: g.id, Protocols: make(map[string]int, len(g.protos))}
	for _, p := range g.protos {
		c.Protocols[p.Name()] = 0
	}
	for _, s := range g.snapshot() {
		if s.attached.Load() {
			c.Protocols[s.proto.Name()]++
			c.Total++
		}
	}
	return c
}

// search lists this gateway's connections that match q, oldest first, at
// most q.Limit of them.
func (g *Gateway) search(q connQuery) connAnswer {
	limit := q.Limit
	if limit <= 0 || limit > maxSearchResults {
		limit = maxSearchResults
	}
	var found []*Session
	for _, s := range g.snapshot() {
		if s.attached.Load() && q.match(s) {
			found = append(found, s)
		}
	}
	slices.SortFunc(found, func(a, b *Session) int {
		return cmp.Or(a.started.Compare(b.started), cmp.Compare(a.id, b.id))
	})
	a := connAnswer{Connections: make([]ConnInfo, 0, min(len(found), limit))}
	if len(found) > limit {
		found, a.Truncated = found[:limit], true
	}
	for _, s := range found {
		a.Connections = append(a.Connections, s.info())
	}
	return a
}

// getCounts is GET /admin/api/counts: every gateway's connections.
func (g *Gateway) getCounts(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), g.cfg.RequestTimeout)
	defer cancel()
	answers, complete, err := g.survey(ctx, surveyCounts, nil)
	if err != nil {
		writeJSONError(w, http.StatusBadGateway, err.Error())
		return
	}
	rep := CountsReport{Gateway: g.id, Protocols: map[string]int{}, Gateways: []GatewayCounts{}, Complete: complete}
	for _, b := range answers {
		var c GatewayCounts
		if json.Unmarshal(b, &c) != nil {
			continue
		}
		rep.Gateways = append(rep.Gateways, c)
		rep.Total += c.Total
		for p, n := range c.Protocols {
			rep.Protocols[p] += n
		}
	}
	slices.SortFunc(rep.Gateways, func(a, b GatewayCounts) int { return cmp.Compare(a.Gateway, b.Gateway) })
	writeJSON(w, rep)
}

// getConnections is GET /admin/api/connections?id=&principal=&ip=&protocol=&limit=:
// the matching connections of every gateway (connQuery), oldest first.
func (g *Gateway) getConnections(w http.ResponseWriter, r *http.Request) {
	qs := r.URL.Query()
	q := connQuery{ID: qs.Get("id"), Principal: qs.Get("principal"), IP: qs.Get("ip"),
		Protocol: qs.Get("protocol"), Limit: defaultSearchResults}
	if l := qs.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > maxSearchResults {
			writeJSONError(w, http.StatusBadRequest, "limit must be 1 to "+itoa(maxSearchResults))
			return
		}
		q.Limit = n
	}
	if q.ID != "" && !validConnID(q.ID) {
		writeJSONError(w, http.StatusBadRequest, "invalid connection id")
		return
	}
	rep, err := g.searchCluster(r.Context(), q)
	if err != nil {
		writeJSONError(w, http.StatusBadGateway, err.Error())
		return
	}
	writeJSON(w, rep)
}

// searchCluster asks every gateway alive for its connections that match
// q, and returns them together, oldest first.
func (g *Gateway) searchCluster(ctx context.Context, q connQuery) (SearchReport, error) {
	question, _ := json.Marshal(q)
	ctx, cancel := context.WithTimeout(ctx, g.cfg.RequestTimeout)
	defer cancel()
	answers, complete, err := g.survey(ctx, surveyConnections, question)
	if err != nil {
		return SearchReport{}, err
	}
	rep := SearchReport{Connections: []ConnInfo{}, Gateways: len(answers), Complete: complete}
	for _, b := range answers {
		var a connAnswer
		if json.Unmarshal(b, &a) != nil {
			continue
		}
		rep.Connections = append(rep.Connections, a.Connections...)
		rep.Truncated = rep.Truncated || a.Truncated
	}
	slices.SortFunc(rep.Connections, func(a, b ConnInfo) int {
		return cmp.Or(a.ConnectedAt.Compare(b.ConnectedAt), cmp.Compare(a.ConnectionID, b.ConnectionID))
	})
	return rep, nil
}

// writeJSON answers 200 with v as JSON.
func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(v)
}
