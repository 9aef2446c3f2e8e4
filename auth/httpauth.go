package auth

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// HTTPAuthorizerConfig configures type http: the AuthorizerRequest is
// POSTed as JSON to URL. A 200 answer carries an AuthorizerReply; a 401 or
// 403 refuses the client (not cached); any other status, a redirect
// included, is a failure: the client is refused and the cause logged.
//
//   - type: http
//     http:
//     url: "https://authz.internal/wsgate"
//     headers: {X-Api-Key: "…"}
//     timeout: 2s
//     max_ttl: 1m
type HTTPAuthorizerConfig struct {
	// URL is the http or https endpoint. Required.
	URL string `yaml:"url"`
	// Headers are added to every request, for instance to authenticate
	// the gateway to the authorizer. Default none.
	Headers map[string]string `yaml:"headers"`
	// AuthorizerOptions, inline: timeout, identity_sources, max_ttl,
	// cache_size.
	AuthorizerOptions `yaml:",inline"`
}

// newHTTPAuthorizer checks c and builds the authorizer; errors name their
// key under prefix.
func newHTTPAuthorizer(c HTTPAuthorizerConfig, prefix string, d Deps) (*authorizer, []error) {
	var errs []error
	u, err := url.Parse(c.URL)
	switch {
	case c.URL == "":
		errs = append(errs, fmt.Errorf("%s.url: required", prefix))
	case err != nil:
		errs = append(errs, fmt.Errorf("%s.url: %w", prefix, err))
	case u.Scheme != "http" && u.Scheme != "https" || u.Host == "":
		errs = append(errs, fmt.Errorf("%s.url: %q is not an http or https URL", prefix, c.URL))
	}
	hdr := make(http.Header, len(c.Headers)+1)
	for k, v := range c.Headers {
		if k == "" || strings.ContainsAny(k, " :\r\n") || strings.ContainsAny(v, "\r\n") {
			errs = append(errs, fmt.Errorf("%s.headers: %q is not a valid header", prefix, k))
			continue
		}
		hdr.Set(k, v)
	}
	hdr.Set("Content-Type", "application/json")
	a, aerrs := newAuthorizer(TypeHTTP, c.URL, c.AuthorizerOptions, prefix, d)
	errs = append(errs, aerrs...)
	if len(errs) > 0 {
		return nil, errs
	}
	// A redirect would resend the client's credentials elsewhere: refuse.
	client := *d.HTTPClient
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	target := c.URL
	a.call = func(ctx context.Context, body []byte) ([]byte, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
		if err != nil {
			return nil, fmt.Errorf("build request: %w", err)
		}
		for k, v := range hdr {
			req.Header[k] = v
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		data, err := io.ReadAll(io.LimitReader(resp.Body, maxReplyBytes+1))
		if err != nil {
			return nil, fmt.Errorf("read answer: %w", err)
		}
		switch resp.StatusCode {
		case http.StatusOK:
			return data, nil
		case http.StatusUnauthorized, http.StatusForbidden:
			return nil, &refusal{reason: fmt.Sprintf("status %d", resp.StatusCode)}
		}
		return nil, fmt.Errorf("status %d", resp.StatusCode)
	}
	return a, nil
}
