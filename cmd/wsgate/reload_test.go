package main

import (
	"slices"
	"testing"
	"time"

	"github.com/wsgate/wsgate/protocols/jsonws"
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

// TestLiveView: the AsyncAPI document after a reload describes what runs:
// the new routes, auth and texts, the running listen, protocols, stages,
// credentials and route selection.
func TestLiveView(t *testing.T) {
	running := &config{Listen: ":8080"}
	running.JSON.RouteSelectionExpression = "$request.body.action"
	running.Gateway.Credentials.QueryParam = "token"
	running.AsyncAPI.Serve = true
	c := &config{Listen: ":9090"}
	c.JSON.RouteSelectionExpression = "$request.body.kind"
	c.JSON.Routes = map[string]jsonws.RouteConfig{"say": {Integration: "publish", Subject: "chat"}}
	c.Gateway.Credentials.QueryParam = "t"
	c.AsyncAPI.Title = "new"
	c.SocketIO.Path = "/sio/"
	v := liveView(running, c)
	if v.Listen != ":8080" || v.JSON.RouteSelectionExpression != "$request.body.action" || v.Gateway.Credentials.QueryParam != "token" ||
		v.SocketIO.Path != "" || !v.AsyncAPI.Serve {
		t.Errorf("restart-only settings not kept: %+v", v)
	}
	if v.JSON.Routes["say"].Subject != "chat" || v.AsyncAPI.Title != "new" {
		t.Errorf("live settings not taken: %+v", v)
	}
	if c.Listen != ":9090" {
		t.Error("liveView changed the config it was given")
	}
}
