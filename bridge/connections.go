package bridge

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
)

// routes is the gateway's HTTP surface on its one port.
func (g *Gateway) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /@connections/{id}", g.postConnection)
	mux.HandleFunc("GET /@connections/{id}", g.getConnection)
	mux.HandleFunc("DELETE /@connections/{id}", g.deleteConnection)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", g.ready)
	mux.Handle("GET /metrics", g.metricsHandler())
	mux.HandleFunc("/", g.serveWS)
	return mux
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
	m, err := g.nc.Request(g.cfg.ReservedPrefix+".conn."+id+"."+verb, body, g.cfg.RequestTimeout)
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		writeJSONError(w, http.StatusGone, "connection "+id+" is gone")
		return nil, false
	case errors.Is(err, nats.ErrTimeout):
		writeJSONError(w, http.StatusGatewayTimeout, "the gateway holding the connection did not answer")
		return nil, false
	case err != nil:
		writeJSONError(w, http.StatusBadGateway, err.Error())
		return nil, false
	}
	if bytes.Equal(m.Data, goneReply) {
		writeJSONError(w, http.StatusGone, "connection "+id+" is gone")
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
	if g.draining.Load() {
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
