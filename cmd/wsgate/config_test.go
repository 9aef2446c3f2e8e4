package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeConfig writes text to a config file in a temporary directory.
func writeConfig(t *testing.T, text string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "wsgate.yaml")
	if err := os.WriteFile(f, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// checkConfig loads text and validates it, as load does.
func checkConfig(t *testing.T, text string) (*config, error) {
	t.Helper()
	c, err := loadConfig(writeConfig(t, text))
	if err != nil {
		return nil, err
	}
	return c, c.validate()
}

func TestReadHeaderTimeout(t *testing.T) {
	c, err := checkConfig(t, "gateway:\n  read_header_timeout: 3s\n")
	if err != nil {
		t.Fatal(err)
	}
	if c.Gateway.ReadHeaderTimeout != 3*time.Second {
		t.Errorf("read_header_timeout %s, want 3s", c.Gateway.ReadHeaderTimeout)
	}
	if d := (&config{}).Gateway.WithDefaults().ReadHeaderTimeout; d != 10*time.Second {
		t.Errorf("default %s, want 10s", d)
	}
	_, err = checkConfig(t, "gateway:\n  read_header_timeout: -1s\n")
	if err == nil || !strings.Contains(err.Error(), "gateway.read_header_timeout: -1s must not be negative") {
		t.Errorf("negative: %v", err)
	}
}

// TestGhostTimeoutDefault: liveness is on by default when the gateway
// shares NATS, off with a standalone embedded server, and what the config
// says otherwise.
func TestGhostTimeoutDefault(t *testing.T) {
	for _, tc := range []struct {
		url     string
		cluster bool
		set     time.Duration
		want    time.Duration
	}{
		{"", false, 0, -1},
		{"nats://a:4222", false, 0, 0}, // bridge's default, 15s
		{"", true, 0, 0},
		{"", false, 5 * time.Second, 5 * time.Second},
		{"nats://a:4222", false, -time.Second, -time.Second},
	} {
		var c config
		c.NATS.URL = tc.url
		if tc.cluster {
			c.NATS.Cluster.Name, c.NATS.Cluster.Listen = "c", "127.0.0.1:6222"
		}
		c.Gateway.GhostTimeout = tc.set
		if got := c.gatewayConfig().GhostTimeout; got != tc.want {
			t.Errorf("url %q cluster %v set %v: %v, want %v", tc.url, tc.cluster, tc.set, got, tc.want)
		}
	}
}
