package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
)

// routes is the gateway's HTTP surface on its main port: the WebSocket
// endpoint and health, plus the operator endpoints unless they have an
// address of their own.
func (g *Gateway) routes() *http.ServeMux {
	mux := http.NewServeMux()
	g.health(mux)
	if g.cfg.Admin.Listen == "" {
		g.operator(mux, false)
	}
	for pattern, h := range g.extra {
		mux.Handle(pattern, h)
	}
	mux.HandleFunc("/", g.serveWS)
	return mux
}

// AdminHandler serves the operator endpoints and health, for
// Config.Admin.Listen.
func (g *Gateway) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	g.health(mux)
	g.operator(mux, true)
	return mux
}

func (g *Gateway) health(mux *http.ServeMux) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", g.ready)
}

// operator registers the connection API and metrics behind adminOnly.
func (g *Gateway) operator(mux *http.ServeMux, adminPort bool) {
	guard := func(h http.Handler) http.Handler { return g.adminOnly(h, adminPort) }
	mux.Handle("GET /@connections", guard(http.HandlerFunc(g.listConnections)))
	mux.Handle("GET /admin/routes", guard(http.HandlerFunc(g.listRoutes)))
	mux.Handle("POST /@connections/{id}", guard(http.HandlerFunc(g.postConnection)))
	mux.Handle("GET /@connections/{id}", guard(http.HandlerFunc(g.getConnection)))
	mux.Handle("DELETE /@connections/{id}", guard(http.HandlerFunc(g.deleteConnection)))
	mux.Handle("GET /metrics", guard(g.metricsHandler()))
	if g.reload != nil {
		mux.Handle("POST /admin/reload", guard(http.HandlerFunc(g.postReload)))
	}
	if g.cfg.Admin.Console {
		g.console(mux)
	}
}

// adminOnly lets operators through: anyone in dev mode; otherwise a bearer
// token matching Admin.TokenHash, or, with no token configured, anyone who
// reaches the separate admin address. A client's credentials never open
// these endpoints.
func (g *Gateway) adminOnly(h http.Handler, adminPort bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case g.devMode:
		case g.cfg.Admin.TokenHash != "":
			if !g.adminToken(r) {
				w.Header().Set("WWW-Authenticate", `Bearer realm="wsgate-admin"`)
				writeJSONError(w, http.StatusUnauthorized, "operator endpoint: admin token required")
				return
			}
		case adminPort:
		default:
			writeJSONError(w, http.StatusForbidden, "operator endpoints are closed on this port: set gateway.admin.listen or gateway.admin.token_hash")
			return
		}
		h.ServeHTTP(w, r)
	})
}

// validConnID accepts what newID makes, so an id from a URL can never add a
// token or a wildcard to a control subject.
func validConnID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// control requests a verb of whichever gateway holds the connection.
func (g *Gateway) controlRequest(w http.ResponseWriter, r *http.Request, verb string, body []byte) (*nats.Msg, bool) {
	id := r.PathValue("id")
	if !validConnID(id) {
		writeJSONError(w, http.StatusBadRequest, "invalid connection id")
		return nil, false
	}
	ctx, cancel := context.WithTimeout(context.Background(), g.cfg.RequestTimeout)
	defer cancel()
	m, err := g.askConnection(ctx, id, verb, nil, body)
	switch {
	case errors.Is(err, ErrNotHere):
		writeJSONError(w, http.StatusGone, "connection "+id+" is gone")
		return nil, false
	case errors.Is(err, context.DeadlineExceeded):
		writeJSONError(w, http.StatusGatewayTimeout, "the gateway holding the connection did not answer")
		return nil, false
	case err != nil:
		writeJSONError(w, http.StatusBadGateway, err.Error())
		return nil, false
	}
	return m, true
}

func (g *Gateway) postConnection(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, g.cfg.MaxMessageBytes))
	if err != nil {
		writeJSONError(w, http.StatusRequestEntityTooLarge, "body larger than "+strconv.FormatInt(g.cfg.MaxMessageBytes, 10)+" bytes")
		return
	}
	if _, ok := g.controlRequest(w, r, "send", body); ok {
		w.WriteHeader(http.StatusOK)
	}
}

func (g *Gateway) getConnection(w http.ResponseWriter, r *http.Request) {
	if m, ok := g.controlRequest(w, r, "info", nil); ok {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(m.Data)
	}
}

// deleteConnection closes a connection; ?code=4001&reason=... (or the same
// as a JSON body) set the close frame.
func (g *Gateway) deleteConnection(w http.ResponseWriter, r *http.Request) {
	var req closeRequest
	if c := r.URL.Query().Get("code"); c != "" {
		n, err := strconv.Atoi(c)
		if err != nil || !validCloseCode(n) {
			writeJSONError(w, http.StatusBadRequest, "code must be 1000 or 3000-4999")
			return
		}
		req.Code = n
	}
	req.Reason = r.URL.Query().Get("reason")
	if req.Code != 0 && !validCloseCode(req.Code) {
		writeJSONError(w, http.StatusBadRequest, "code must be 1000 or 3000-4999")
		return
	}
	body, _ := json.Marshal(req)
	if _, ok := g.controlRequest(w, r, "close", body); ok {
		w.WriteHeader(http.StatusNoContent)
	}
}

func writeJSONError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"message": msg})
}

// ready answers 200 when NATS is connected and JetStream answers.
func (g *Gateway) ready(w http.ResponseWriter, r *http.Request) {
	if g.lameDuck.Load() || g.draining.Load() {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	if !g.nc.IsConnected() {
		http.Error(w, "NATS not connected", http.StatusServiceUnavailable)
		return
	}
	js, err := g.nc.JetStream(nats.MaxWait(time.Second))
	if err == nil {
		_, err = js.AccountInfo()
	}
	if err != nil {
		http.Error(w, "JetStream not ready: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	_, _ = io.WriteString(w, "ready\n")
}

func itoa(n int) string { return strconv.Itoa(n) }
