package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestReadyURL(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, want, err string
	}{
		{"default", "", "http://127.0.0.1:8080/readyz", ""},
		{"any address", "listen: 0.0.0.0:9000\n", "http://127.0.0.1:9000/readyz", ""},
		{"any v6 address", "listen: \"[::]:9000\"\n", "http://127.0.0.1:9000/readyz", ""},
		{"one address", "listen: 10.1.2.3:9000\n", "http://10.1.2.3:9000/readyz", ""},
		{"v6 address", "listen: \"[::1]:9000\"\n", "http://[::1]:9000/readyz", ""},
		{"admin port first", "listen: :8080\ngateway:\n  admin:\n    listen: 127.0.0.1:9090\n", "http://127.0.0.1:9090/readyz", ""},
		{"port 0", "listen: 127.0.0.1:0\n", "", "port 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := checkConfig(t, tc.yaml)
			if err != nil {
				t.Fatal(err)
			}
			if c.Listen == "" {
				c.Listen = ":8080" // as settings.apply
			}
			got, err := readyURL(c)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Errorf("got %q, %v; want an error with %q", got, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
	c := &config{Listen: ":8443", TLS: tlsConfig{CertFile: "c", KeyFile: "k"}}
	if got, _ := readyURL(c); got != "https://127.0.0.1:8443/readyz" {
		t.Errorf("TLS: %q", got)
	}
}

// TestHealthcheck runs the command against a stand-in for the gateway:
// 200 exits 0, anything else or nobody there exits 1, each saying so;
// WSGATE_LISTEN finds the port as it does for run.
func TestHealthcheck(t *testing.T) {
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(status)
		if status == http.StatusOK {
			_, _ = w.Write([]byte("ready\n"))
		} else {
			_, _ = w.Write([]byte("JetStream not ready: timeout\n"))
		}
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	check := func(wantCode int, want string, args ...string) {
		t.Helper()
		var out, errOut bytes.Buffer
		code := dispatch(append([]string{"healthcheck"}, args...), &out, &errOut)
		if code != wantCode || !strings.Contains(out.String()+errOut.String(), want) {
			t.Errorf("healthcheck %v: exit %d, stdout %q, stderr %q; want %d and %q", args, code, out.String(), errOut.String(), wantCode, want)
		}
	}
	check(0, "/readyz: ready", "--listen", addr)
	t.Setenv("WSGATE_LISTEN", addr)
	check(0, "/readyz: ready")
	status = http.StatusServiceUnavailable
	check(1, "not ready: http://"+addr+"/readyz: JetStream not ready: timeout")
	srv.Close()
	check(1, "not ready:", "--timeout", "1s")
	check(2, `unexpected argument "x"`, "x")
}
