package auth

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestHTTPAuthorizer(t *testing.T) {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" || r.Header.Get("X-Api-Key") != "gw-secret" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		var req AuthorizerRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		switch req.Token {
		case "good":
			io.WriteString(w, `{"allow":true,"principal":"u-`+req.Protocol+`","context":{"k":"v"},"ttl":"1m"}`)
		case "denied":
			io.WriteString(w, `{"allow":false,"reason":"nope"}`)
		case "forbidden":
			http.Error(w, "forbidden", http.StatusForbidden)
		case "unauthorized":
			w.WriteHeader(http.StatusUnauthorized)
		case "broken":
			http.Error(w, "boom", http.StatusInternalServerError)
		case "redirect":
			http.Redirect(w, r, "https://evil.example/steal", http.StatusTemporaryRedirect)
		case "slow":
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		case "huge":
			io.WriteString(w, `{"allow":false,"reason":"`+strings.Repeat("x", maxReplyBytes)+`"}`)
		case "html":
			io.WriteString(w, "<html>OK</html>")
		}
	}))
	t.Cleanup(srv.Close)

	tests := []struct {
		token  string
		id     string // "": refused
		failed bool   // logged as a failure
		reason string
	}{
		{token: "good", id: "u-json"},
		{token: "denied", reason: "nope"},
		{token: "forbidden", reason: "status 403"},
		{token: "unauthorized", reason: "status 401"},
		{token: "broken", failed: true, reason: "status 500"},
		{token: "redirect", failed: true, reason: "status 307"},
		{token: "slow", failed: true, reason: "deadline exceeded"},
		{token: "huge", failed: true, reason: "max"},
		{token: "html", failed: true, reason: "malformed answer"},
	}
	for _, tt := range tests {
		t.Run(tt.token, func(t *testing.T) {
			var logs logBuffer
			d := Deps{HTTPClient: srv.Client(), Logger: logs.logger(), Now: func() time.Time { return testNow }}.withDefaults()
			// Only the slow case waits out its timeout; the others get time
			// to spare on a loaded machine (a 1 MiB answer included).
			timeout := 10 * time.Second
			if tt.token == "slow" {
				timeout = 100 * time.Millisecond
			}
			a, errs := newHTTPAuthorizer(HTTPAuthorizerConfig{
				URL: srv.URL + "/authorize", Headers: map[string]string{"X-Api-Key": "gw-secret"},
				AuthorizerOptions: AuthorizerOptions{Timeout: timeout},
			}, "http", d)
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			p, err := a.Authenticate(context.Background(), &Credentials{Protocol: "json", Token: tt.token})
			if tt.id != "" {
				if err != nil {
					t.Fatal(err)
				}
				if p.ID != tt.id || p.Context["k"] != "v" {
					t.Errorf("principal %+v", p)
				}
				return
			}
			if !errors.Is(err, ErrDenied) || !strings.Contains(err.Error(), tt.reason) {
				t.Fatalf("err = %v, want ErrDenied with %q", err, tt.reason)
			}
			if logged := strings.Contains(logs.String(), "authorizer failed"); logged != tt.failed {
				t.Errorf("logged %v, want %v: %s", logged, tt.failed, logs.String())
			}
			if tt.failed && !strings.Contains(logs.String(), "target="+srv.URL) {
				t.Errorf("log lacks the URL: %s", logs.String())
			}
		})
	}
}
