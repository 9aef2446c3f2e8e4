package e2e

import (
	"net/http"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
)

// TestHandshakeRefusals: an upgrade that no protocol of the gateway can take
// is refused with an HTTP status and a text that says what would work. A
// 101 without a subprotocol to a client that offered some is what browsers
// and the ws library report as a failed handshake with no reason at all.
func TestHandshakeRefusals(t *testing.T) {
	g := startGateway(t, gwOpts{})
	tests := []struct {
		name   string
		path   string
		offer  []string
		status int
		says   []string
		hides  string
	}{
		{"unknown subprotocol", "/", []string{"graphql-ws"}, http.StatusBadRequest,
			[]string{"(graphql-ws) is spoken here", "mqtt", "v12.stomp", "wsgate.json"}, ""},
		{"only a credential token", "/", []string{"bearer.s3cret-token"}, http.StatusBadRequest,
			[]string{"(bearer.…)", "wsgate.json"}, "s3cret-token"},
		{"no protocol at the path", "/nothing", nil, http.StatusNotFound,
			[]string{"use one of /, /mqtt, /socket.io/, /stomp", "/ws,", "wsgate.json"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := websocket.Dialer{Subprotocols: tc.offer}
			status, body, _ := tryDial(t, &d, g.WS(tc.path), nil)
			if status != tc.status {
				t.Fatalf("HTTP %d %q, want %d", status, body, tc.status)
			}
			for _, s := range tc.says {
				if !strings.Contains(body, s) {
					t.Errorf("%q does not say %q", body, s)
				}
			}
			if tc.hides != "" && strings.Contains(body, tc.hides) {
				t.Errorf("%q names %q", body, tc.hides)
			}
		})
	}
}
