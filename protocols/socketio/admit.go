package socketio

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/wsgate/wsgate/bridge"
)

// ConnectEvent is the body of the $connect route's request: a namespace
// CONNECT, once its credentials are accepted.
type ConnectEvent struct {
	ConnectionID string          `json:"connectionId"`
	Namespace    string          `json:"namespace"`
	Principal    string          `json:"principal,omitempty"`
	Identity     bridge.Identity `json:"identity"`
	// Auth is CONNECT's auth object without its token.
	Auth map[string]json.RawMessage `json:"auth,omitempty"`
}

// ConnectReply is the $connect worker's answer, the JSON protocol's
// contract: an empty reply or a 2xx statusCode admits; any other refuses,
// with body as the CONNECT_ERROR message.
type ConnectReply struct {
	StatusCode int    `json:"statusCode"`
	Body       string `json:"body,omitempty"`
}

// admitConnect runs the $connect route, if there is one, for a CONNECT to
// namespace ns. It returns "" to admit, else the refusal's message. It
// fails closed: no worker, a timeout or a reply that is not JSON refuse.
func (c *conn) admitConnect(ns string, authData []byte) string {
	r := c.p.routes[routeConnect]
	if r == nil {
		return ""
	}
	ev := ConnectEvent{ConnectionID: c.s.ID(), Namespace: ns, Principal: c.s.Principal().ID, Identity: c.s.Info().Identity}
	if authData != nil {
		_ = json.Unmarshal(authData, &ev.Auth) // an object, checked by the decoder
		delete(ev.Auth, "token")
	}
	body, err := json.Marshal(ev)
	if err != nil {
		return "connect integration failed"
	}
	tok, _ := namespaceToken(ns)
	subject, err := r.subject.Expand(func(v string) (string, bool) { return c.lookup(tok, nil, v) })
	if err != nil {
		return "connect integration failed"
	}
	timeout := r.timeout
	if timeout == 0 {
		timeout = c.p.cfg.RequestTimeout
	}
	hdr := c.s.Headers(bridge.EventConnect, routeConnect)
	hdr[HeaderNamespace] = []string{ns}
	m, err := c.s.Request(context.Background(), subject, routeConnect, hdr, body, timeout)
	if err != nil {
		c.s.Metrics().IntegrationError(routeConnect, "request")
		c.s.Logger().Info("socketio $connect failed", "namespace", ns, "err", err)
		return "connect integration failed"
	}
	if len(m.Data) == 0 {
		return ""
	}
	var rep ConnectReply
	if err := json.Unmarshal(m.Data, &rep); err != nil {
		c.s.Metrics().IntegrationError(routeConnect, "reply")
		return "connect integration failed"
	}
	if rep.StatusCode == 0 || rep.StatusCode/100 == 2 {
		return ""
	}
	if rep.Body == "" {
		return fmt.Sprintf("refused (%d)", rep.StatusCode)
	}
	return short(rep.Body)
}
