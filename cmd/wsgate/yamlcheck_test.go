package main

import (
	"strings"
	"testing"
	"time"
)

// TestConfigYAMLErrors checks that a config file's mistakes are reported
// with their line and key path, in the file's terms, never Go types.
func TestConfigYAMLErrors(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       []string // the lines of the error, after the file name
	}{
		{"unknown top-level key", "listne: :1\n", []string{"line 1: listne: unknown key (did you mean listen?)"}},
		{"unknown nested key", "gateway:\n  pingg_interval: 1s\n", []string{"line 2: gateway.pingg_interval: unknown key (did you mean ping_interval?)"}},
		{"unknown key, nothing near", "gateway:\n  frobnicate: 1\n", []string{"line 2: gateway.frobnicate: unknown key"}},
		{"unknown key in a map value", "json:\n  routes:\n    say:\n      integration: publish\n      subjekt: a\n", []string{"line 5: json.routes.say.subjekt: unknown key (did you mean subject?)"}},
		{"unknown key in a list item", "auth:\n  authenticators:\n    - type: api_keys\n      api_keyz: {}\n", []string{"line 4: auth.authenticators[0].api_keyz: unknown key (did you mean api_keys?)"}},
		{"unknown key of an inline block", "nats:\n  data_dirr: /x\n", []string{"line 2: nats.data_dirr: unknown key (did you mean data_dir?)"}},
		{"wrong case", "Listen: :1\n", []string{"line 1: Listen: unknown key (did you mean listen?)"}},
		{"duration as a number", "gateway:\n  ping_interval: 30\n", []string{"line 2: gateway.ping_interval: 30 is not a duration (write 30s)"}},
		{"duration as a fraction", "stomp:\n  heartbeat_send: 1.5\n", []string{"line 2: stomp.heartbeat_send: 1.5 is not a duration (write 1.5s)"}},
		{"duration as a quoted number", "mqtt:\n  connect_timeout: \"10\"\n", []string{"line 2: mqtt.connect_timeout: 10 is not a duration (write 10s)"}},
		{"duration in words", "json:\n  request_timeout: 10 secs\n", []string{`line 2: json.request_timeout: "10 secs" is not a duration (like 30s, 1m30s or 250ms)`}},
		{"duration as a list", "gateway:\n  write_timeout: [1s]\n", []string{"line 2: gateway.write_timeout: expected a single value, got a list"}},
		{"text for a number", "gateway:\n  max_message_bytes: lots\n", []string{"line 2: gateway.max_message_bytes: lots is not a whole number"}},
		{"fraction for a whole number", "mqtt:\n  max_inflight: 1.5\n", []string{"line 2: mqtt.max_inflight: 1.5 is not a whole number"}},
		{"text for a rate", "gateway:\n  limits:\n    message_rate: fast\n", []string{"line 3: gateway.limits.message_rate: fast is not a number"}},
		{"text for a bool", "gateway:\n  insecure_skip_origin_check: maybe\n", []string{"line 2: gateway.insecure_skip_origin_check: maybe is not true or false"}},
		{"a value for a list", "gateway:\n  allowed_origins: https://a\n", []string{"line 2: gateway.allowed_origins: expected a list, got a single value"}},
		{"a value for a block", "gateway: 5\n", []string{"line 1: gateway: expected keys (a mapping), got a single value"}},
		{"a list for the file", "- a\n", []string{"line 1: config: expected keys (a mapping), got a list"}},
		{"too big for the field", "mqtt:\n  max_packet_size: 99999999999999999999\n", []string{"line 2: mqtt.max_packet_size: 99999999999999999999 is out of range"}},
		{"a key twice", "stomp:\n  max_headers: 1\nstomp:\n  max_headers: 2\n", []string{"line 3: stomp: given twice (first on line 1)"}},
		{"a route twice", "json:\n  routes:\n    a: {integration: publish, subject: a}\n    a: {integration: publish, subject: b}\n", []string{"line 4: json.routes.a: given twice (first on line 3)"}},
		{"every problem at once", "listne: :1\ngateway:\n  ping_interval: 30\n  idle_timeout: forever\n",
			[]string{"line 1: listne: unknown key (did you mean listen?)", "line 3: gateway.ping_interval: 30 is not a duration (write 30s)", "line 4: gateway.idle_timeout: forever is not a duration (like 30s, 1m30s or 250ms)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := writeConfig(t, tc.yaml)
			_, err := loadConfig(f)
			if err == nil {
				t.Fatal("no error")
			}
			want := "config " + f + ":\n" + strings.Join(tc.want, "\n")
			if err.Error() != want {
				t.Errorf("got\n%s\nwant\n%s", err, want)
			}
			if strings.Contains(err.Error(), "main.") || strings.Contains(err.Error(), "time.Duration") {
				t.Errorf("a Go type in %q", err)
			}
		})
	}
}

func TestConfigYAMLAccepted(t *testing.T) {
	c, err := loadConfig(writeConfig(t, `
listen: 127.0.0.1:1
gateway:
  idle_timeout: 0
  ping_interval: -1s
  max_connection_duration: "0"
  insecure_skip_origin_check: yes
  max_message_bytes: 1e6
  limits:
    message_rate: 2
json:
  routes:
    say: &say
      integration: publish
      subject: a
      timeout: 1m30s
    again:
      <<: *say
      subject: b
auth:
  authenticators:
    - type: api_keys
      api_keys:
        keys:
          - id: k
            hash: sha256:00
            claims: {any: [thing, 1]}
`))
	if err != nil {
		t.Fatal(err)
	}
	g := c.Gateway
	if g.IdleTimeout != 0 || g.PingInterval != -time.Second || !g.InsecureSkipOriginCheck || g.MaxMessageBytes != 1e6 || g.Limits.MessageRate != 2 {
		t.Errorf("gateway %+v", g)
	}
	if r := c.JSON.Routes["again"]; r.Subject != "b" || r.Timeout != 90*time.Second || r.Integration != "publish" {
		t.Errorf("merged route %+v", r)
	}
	if c, err := loadConfig(writeConfig(t, "")); err != nil || c.Listen != "" {
		t.Errorf("empty file: %+v, %v", c, err)
	}
	if c, err := loadConfig(writeConfig(t, "# nothing\n")); err != nil || c.Listen != "" {
		t.Errorf("only a comment: %+v, %v", c, err)
	}
}

func TestEditDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		d    int
	}{
		{"listen", "listen", 0}, {"listne", "listen", 1}, {"lisen", "listen", 1},
		{"routez", "routes", 1}, {"", "abc", 3}, {"ping_intervall", "ping_interval", 1},
		{"url", "tls", 3},
	} {
		if d := editDistance(tc.a, tc.b); d != tc.d {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tc.a, tc.b, d, tc.d)
		}
	}
}
