package bridge

import (
	"crypto/subtle"
	"embed"
	"errors"
	"net/http"
	"strings"

	"github.com/wsgate/wsgate/auth"
)

// The admin console (gateway.admin.console) is a page at /admin/ and a few
// JSON endpoints under /admin/api/, served where the other operator
// endpoints are. The page is plain HTML, CSS and JavaScript embedded in
// the binary (no build step, nothing fetched from elsewhere); it asks for
// the admin token, keeps it in the tab's sessionStorage and sends it as
// the bearer token the operator endpoints take.
//
//	GET /admin/api/counts       connections by gateway and protocol, cluster-wide
//	GET /admin/api/connections  search by id, principal, source IP, cluster-wide
//	GET /admin/api/routes       routes with their figures, this gateway's
//	GET /admin/api/errors       recent warnings, errors and closes, this gateway's
//	GET /admin/api/tap          a subject's messages as Server-Sent Events
//
// A connection's details and its close are GET and DELETE
// /@connections/{id}, as they are for any operator.

//go:embed console
var consoleFS embed.FS

// errConsoleToken refuses a console without an admin token.
var errConsoleToken = errors.New("bridge: admin.console needs admin.token_hash")

// console registers the console's page and endpoints.
func (g *Gateway) console(mux *http.ServeMux) {
	guard := func(h http.HandlerFunc) http.Handler { return g.consoleOnly(h) }
	mux.Handle("GET /admin/api/counts", guard(g.getCounts))
	mux.Handle("GET /admin/api/connections", guard(g.getConnections))
	mux.Handle("GET /admin/api/routes", guard(g.getRouteStats))
	mux.Handle("GET /admin/api/errors", guard(g.getErrors))
	mux.Handle("GET /admin/api/tap", guard(g.getTap))
	mux.Handle("GET /admin", http.RedirectHandler("/admin/", http.StatusMovedPermanently))
	mux.Handle("GET /admin/{$}", consoleFile("index.html", "text/html; charset=utf-8"))
	mux.Handle("GET /admin/console.js", consoleFile("console.js", "text/javascript; charset=utf-8"))
	mux.Handle("GET /admin/console.css", consoleFile("console.css", "text/css; charset=utf-8"))
}

// consoleFile serves one embedded file. The page may load only its own
// script and style and talk only to its own origin, and may not be
// framed.
func consoleFile(name, contentType string) http.Handler {
	b, err := consoleFS.ReadFile("console/" + name)
	if err != nil {
		panic("bridge: console file missing: " + name) // a build without it is broken
	}
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		h.Set("Content-Type", contentType)
		h.Set("Cache-Control", "no-cache")
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		_, _ = w.Write(b)
	})
}

// consoleOnly guards the console's endpoints: the admin token always,
// dev mode or not (New refuses a console without one).
func (g *Gateway) consoleOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !g.adminToken(r) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="wsgate-admin"`)
			writeJSONError(w, http.StatusUnauthorized, "admin console: admin token required")
			return
		}
		h.ServeHTTP(w, r)
	})
}

// adminToken reports whether r carries the admin token as a bearer token.
// The scheme is case-insensitive (RFC 7235, section 2.1), as
// credentialsFrom has it for clients.
func (g *Gateway) adminToken(r *http.Request) bool {
	if g.cfg.Admin.TokenHash == "" {
		return false
	}
	h := r.Header.Get("Authorization")
	ok := len(h) > 7 && strings.EqualFold(h[:7], "bearer ")
	return ok && subtle.ConstantTimeCompare([]byte(auth.HashKey(strings.TrimSpace(h[7:]))), []byte(g.cfg.Admin.TokenHash)) == 1
}

// endTaps ends every open message tap, at shutdown, before the HTTP
// server waits for its requests.
func (g *Gateway) endTaps() {
	g.tapsOnce.Do(func() { close(g.tapsQuit) })
}
