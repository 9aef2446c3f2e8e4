package jsonws

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/wsgate/wsgate/bridge"
)

// errUpstream marks a failed http integration.
var errUpstream = errors.New("jsonws: integration failed")

// maxHTTPReply bounds what an http integration may answer.
const maxHTTPReply = 1 << 20

// post runs an http integration: the payload is POSTed with the connection's
// Wsgate-* headers; a 2xx answer's body is the reply.
func (p *Protocol) post(ctx context.Context, r *route, hdr bridge.Header, payload []byte) ([]byte, error) {
	status, body, err := p.do(ctx, r, hdr, payload)
	if err != nil {
		return nil, err
	}
	if status < 200 || status > 299 {
		return nil, fmt.Errorf("%w: %s answered HTTP %d", errUpstream, r.url, status)
	}
	return body, nil
}

// postStatus is post for $connect: the endpoint's status decides, so a 401
// or 403 refuses the upgrade with that status.
func (p *Protocol) postStatus(ctx context.Context, r *route, hdr bridge.Header, payload []byte) ([]byte, error) {
	status, body, err := p.do(ctx, r, hdr, payload)
	if err != nil {
		return nil, err
	}
	if status < 200 || status > 299 {
		var cr ConnectReply
		if json.Unmarshal(body, &cr) != nil || cr.Body == "" {
			cr.Body = http.StatusText(status)
		}
		if status < 400 || status > 599 {
			status = http.StatusBadGateway
		}
		return nil, &bridge.AdmitError{Status: status, Body: cr.Body}
	}
	return body, nil
}

func (p *Protocol) do(ctx context.Context, r *route, hdr bridge.Header, payload []byte) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.url, bytes.NewReader(payload))
	if err != nil {
		return 0, nil, fmt.Errorf("%w: %v", errUpstream, err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	ct := "application/octet-stream"
	if json.Valid(payload) {
		ct = "application/json"
	}
	req.Header.Set("Content-Type", ct)
	resp, err := p.http.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return 0, nil, fmt.Errorf("%w after %s on %s", bridge.ErrTimeout, r.timeout, r.url)
		}
		return 0, nil, fmt.Errorf("%w: %v", errUpstream, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxHTTPReply))
	if err != nil {
		return 0, nil, fmt.Errorf("%w: reading %s: %v", errUpstream, r.url, err)
	}
	return resp.StatusCode, body, nil
}
