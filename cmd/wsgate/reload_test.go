package main

import (
	"slices"
	"testing"
	"time"
)

func TestRestartNeeded(t *testing.T) {
	base := func() *config {
		c := &config{Listen: ":8080"}
		c.Gateway.AllowedOrigins = []string{"https://a.example"}
		return c
	}
	tests := []struct {
		name   string
		change func(c *config)
		want   []string
	}{
		{"nothing", func(*config) {}, nil},
		{"live settings only", func(c *config) {
			c.Gateway.AllowedOrigins = []string{"https://b.example"}
			c.Gateway.InsecureSkipOriginCheck = true
			c.Gateway.Limits.MaxSubscriptions = 3
			c.JSON.RequestTimeout = time.Second
			c.Auth.OnRevoke = "keep"
		}, nil},
		{"listen", func(c *config) { c.Listen = ":9090" }, []string{"listen"}},
		{"nats and tls", func(c *config) { c.NATS.URL = "nats://x:4222"; c.TLS.CertFile = "c.pem" }, []string{"nats", "tls"}},
		{"gateway fields", func(c *config) {
			c.Gateway.PingInterval = time.Second
			c.Gateway.Admin.TokenHash = "sha256:00"
		}, []string{"gateway.ping_interval", "gateway.admin"}},
		{"other protocols", func(c *config) { c.MQTT.MaxInflight = 3 }, []string{"mqtt"}},
		{"asyncapi", func(c *config) {
			c.AsyncAPI.Title = "live"
			c.AsyncAPI.Serve, c.AsyncAPI.Path = true, "/api.json"
		}, []string{"asyncapi.serve", "asyncapi.path"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := base()
			tt.change(c)
			if got := restartNeeded(base(), c); !slices.Equal(got, tt.want) {
				t.Errorf("restartNeeded = %q, want %q", got, tt.want)
			}
		})
	}
}
