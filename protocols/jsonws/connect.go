package jsonws

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/wsgate/wsgate/bridge"
)

// ConnectEvent is the body of the $connect integration's message: what the
// managed gateway's requestContext tells a $connect handler.
type ConnectEvent struct {
	ConnectionID string              `json:"connectionId"`
	Protocol     string              `json:"protocol"`
	Principal    string              `json:"principal,omitempty"`
	Identity     bridge.Identity     `json:"identity"`
	Headers      map[string][]string `json:"headers"`
	Query        map[string][]string `json:"query"`
	Path         string              `json:"path"`
	Stage        string              `json:"stage,omitempty"`
}

// ConnectReply is what a $connect worker (request) or endpoint (http)
// answers. An empty reply admits. StatusCode 2xx (or 0) admits; anything else
// refuses the upgrade with that HTTP status and Body. Context is attached to
// the connection: to every later message as Wsgate-Context-<key> headers and
// to templates as {context.<key>}.
type ConnectReply struct {
	StatusCode int               `json:"statusCode"`
	Body       string            `json:"body,omitempty"`
	Context    map[string]string `json:"context,omitempty"`
}

// admit runs the $connect route r for a connection being upgraded.
func (p *Protocol) admit(ctx context.Context, r *route, req *bridge.ConnectRequest) (map[string]string, error) {
	s := req.Session
	hr := req.Request
	ev := ConnectEvent{
		ConnectionID: req.ConnID,
		Protocol:     req.Protocol,
		Principal:    s.Principal().ID,
		Identity:     s.Info().Identity,
		Headers:      hr.Header,
		Query:        hr.URL.Query(),
		Path:         hr.URL.Path,
	}
	ev.Stage, _ = s.Stage()
	body, err := json.Marshal(ev)
	if err != nil {
		return nil, fmt.Errorf("$connect event: %w", err)
	}
	hdr := s.Headers(bridge.EventConnect, routeConnect)
	var reply []byte
	switch r.kind {
	case kindPublish:
		subj, err := (&conn{p: p, s: s}).subject(r, nil)
		if err == nil {
			err = s.PublishContext(ctx, subj, routeConnect, hdr, body)
		}
		if err != nil {
			s.Metrics().IntegrationError(routeConnect, "publish")
			return nil, &bridge.AdmitError{Status: http.StatusInternalServerError, Body: "connect integration failed"}
		}
		return nil, nil
	case kindHTTP:
		c := &conn{p: p, s: s}
		reply, err = p.postStatus(ctx, r, func(n string) (string, bool) { return c.lookup(r, nil, n) }, hdr, body)
	default: // request
		var subj string
		if subj, err = (&conn{p: p, s: s}).subject(r, nil); err == nil {
			var m *bridge.Message
			if m, err = s.Request(ctx, subj, routeConnect, hdr, body, r.timeout); err == nil {
				reply = m.Data
			}
		}
	}
	if err != nil {
		var ae *bridge.AdmitError
		if errors.As(err, &ae) {
			return nil, ae
		}
		status := http.StatusBadGateway
		switch bridge.KindOf(err) {
		case bridge.KindTimeout:
			status = http.StatusGatewayTimeout
		case bridge.KindNoResponders:
			status = http.StatusServiceUnavailable
		}
		s.Metrics().IntegrationError(routeConnect, http.StatusText(status))
		s.Logger().Warn("$connect integration failed: refusing", "status", status, "err", err)
		return nil, &bridge.AdmitError{Status: status, Body: "connect integration failed"}
	}
	if len(reply) == 0 {
		return nil, nil
	}
	var cr ConnectReply
	if err := json.Unmarshal(reply, &cr); err != nil {
		s.Metrics().IntegrationError(routeConnect, "bad_reply")
		s.Logger().Warn("$connect reply is not JSON: refusing", "err", err)
		return nil, &bridge.AdmitError{Status: http.StatusBadGateway, Body: "connect integration answered nonsense"}
	}
	if cr.StatusCode != 0 && (cr.StatusCode < 200 || cr.StatusCode > 299) {
		if cr.StatusCode < 300 || cr.StatusCode > 599 {
			cr.StatusCode = http.StatusForbidden
		}
		return nil, &bridge.AdmitError{Status: cr.StatusCode, Body: cr.Body}
	}
	return cr.Context, nil
}
