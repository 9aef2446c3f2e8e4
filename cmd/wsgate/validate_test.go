package main

import (
	"strings"
	"testing"
)

// TestValidate checks that every block is validated, each problem naming
// its key.
func TestValidate(t *testing.T) {
	file := writeConfig(t, "not a directory")
	for _, tc := range []struct {
		name, yaml string
		want       string
	}{
		{"mqtt negative packet size", "mqtt:\n  max_packet_size: -1\n", "mqtt.max_packet_size: -1 must not be negative"},
		{"mqtt negative inflight", "mqtt:\n  max_inflight: -5\n", "mqtt.max_inflight: -5 must not be negative"},
		{"mqtt bucket name", "mqtt:\n  retained_bucket: bad bucket name!\n", `mqtt.retained_bucket: "bad bucket name!" is not a key-value bucket name`},
		{"mqtt stream name", "mqtt:\n  session_stream: A.B\n", `mqtt.session_stream: "A.B" is not a stream name`},
		{"stomp negative frame size", "stomp:\n  max_frame_bytes: -1\n", "stomp.max_frame_bytes: must not be negative"},
		{"json negative inflight", "json:\n  max_inflight: -1\n", "json.max_inflight: must not be negative"},
		{"stage path", "stages:\n  test:\n    path: test\n", `stages.test.path: "test" must be a path`},
		{"stage log level", "stages:\n  test:\n    path: /test\n    log_level: loud\n", "stages.test.log_level: "},
		{"stage unknown key", "stages:\n  test:\n    path: /test\n    varaibles: {a: b}\n", "line 4: stages.test.varaibles: unknown key (did you mean variables?)"},
		{"stage limits", "stages:\n  test:\n    path: /test\n    limits: {message_rate: -1}\n", "stages.test.limits: must not be negative"},
		{"stage variable without stages", "json:\n  routes:\n    x: {integration: publish, subject: \"a.{stage.tenant}\"}\n", "json.routes: {stage.tenant} is used, but there is no stages: block"},
		{"stage variable missing", "stages:\n  test: {path: /test, variables: {tenant: t}}\n  prod: {path: /prod}\njson:\n  routes:\n    x: {integration: http, url: \"http://h/{stage.tenant}\"}\n", "stages.prod.variables: no tenant, which the stage's json routes use as {stage.tenant}"},
		{"json stage unknown", "stages:\n  test: {path: /test}\njson:\n  stages:\n    prod:\n      routes:\n        x: {integration: publish, subject: a}\n", "json.stages.prod: no such stage in stages:"},
		{"json stage route error", "stages:\n  test: {path: /test}\njson:\n  stages:\n    test:\n      routes:\n        x: {integration: publish}\n", "json.stages.test.routes.x.subject: missing"},
		{"json jq syntax", "json:\n  routes:\n    x:\n      integration: publish\n      subject: a\n      when: |\n        .body.a > 1\n          and\n", "json.routes.x.when: jq: line 3, column 1: unexpected EOF"},
		{"json target jq", "json:\n  routes:\n    x:\n      targets:\n        - {integration: publish, subject: a, when: \".body | nosuch\"}\n", "json.routes.x.targets[0].when: jq: function not defined: nosuch/0"},
		{"json target unknown key", "json:\n  routes:\n    x:\n      targets:\n        - {integration: publish, subject: a, wehn: true}\n", "line 5: json.routes.x.targets[0].wehn: unknown key (did you mean when?)"},
		{"json http host variable", "json:\n  routes:\n    x:\n      integration: http\n      url: \"http://{body.host}/x\"\n", "json.routes.x.url: \"http://{body.host}/x\": the host cannot hold a variable"},
		{"json http retries on POST", "json:\n  routes:\n    x:\n      integration: http\n      url: http://h/x\n      retries: 2\n", "json.routes.x.retries: POST is not idempotent"},
		{"json http response status", "json:\n  routes:\n    x:\n      integration: http\n      url: http://h/x\n      proxy: false\n      responses: [{status: 4x}]\n", "json.routes.x.responses[0]: status: \"4x\""},
		{"json schema", "json:\n  routes:\n    x:\n      integration: publish\n      subject: a\n      schema: {type: 5}\n", "json.routes.x.schema: "},
		{"json schema ref", "json:\n  routes:\n    x:\n      integration: publish\n      subject: a\n      schema: {$ref: \"http://h/s.json\"}\n", "json.routes.x.schema: "},
		{"json schema on $connect", "json:\n  routes:\n    $connect:\n      integration: request\n      subject: a\n      schema: {type: object}\n", "json.routes.$connect.schema: $connect carries no client message to check"},
		{"asyncapi path", "asyncapi:\n  path: asyncapi.json\n", `asyncapi.path: "asyncapi.json" must be a path`},
		{"asyncapi path taken", "asyncapi:\n  path: /mqtt\n", `asyncapi.path: "/mqtt" is taken by /mqtt`},
		{"asyncapi path under admin", "asyncapi:\n  path: /admin/api.json\n", `asyncapi.path: "/admin/api.json" is taken by /admin`},
		{"asyncapi path under a stage", "stages:\n  test: {path: /test}\nasyncapi:\n  path: /test/asyncapi.json\n", `asyncapi.path: "/test/asyncapi.json" is taken by /test`},
		{"asyncapi host", "asyncapi:\n  host: wss://api.example.com\n", `asyncapi.host: "wss://api.example.com" must be host or host:port`},
		{"asyncapi unknown key", "asyncapi:\n  serv: true\n", "line 2: asyncapi.serv: unknown key (did you mean serve?)"},
		{"negative message size", "gateway:\n  max_message_bytes: -1\n", "gateway.max_message_bytes: -1 must not be negative"},
		{"negative limit", "gateway:\n  limits:\n    max_connections: -1\n", "gateway.limits.max_connections: -1 must not be negative"},
		{"compression mode", "gateway:\n  compression: maybe\n", "gateway.compression: \"maybe\" is not off, on or no_context_takeover"},
		{"negative compression threshold", "gateway:\n  compression_min_bytes: -1\n", "gateway.compression_min_bytes: -1 must not be negative"},
		{"negative rate", "gateway:\n  limits:\n    message_rate: -0.5\n", "gateway.limits.message_rate: -0.5 must not be negative"},
		{"negative subscriptions", "gateway:\n  limits:\n    max_subscriptions: -3\n", "gateway.limits.max_subscriptions: -3 must not be negative"},
		{"negative shutdown timeout", "gateway:\n  shutdown_timeout: -1s\n", "gateway.shutdown_timeout: -1s must not be negative"},
		{"negative lame duck delay", "gateway:\n  lame_duck_delay: -1s\n", "gateway.lame_duck_delay: -1s must not be negative"},
		{"lame duck beyond shutdown", "gateway:\n  lame_duck_delay: 6s\n  lame_duck_window: 4s\n", "gateway.lame_duck_delay + gateway.lame_duck_window: 10s must be less than gateway.shutdown_timeout (10s)"},
		{"negative idle timeout", "gateway:\n  idle_timeout: -1s\n", "gateway.idle_timeout: -1s must not be negative"},
		{"origin star", "gateway:\n  allowed_origins: [https://a, \"*\"]\n", `gateway.allowed_origins[1]: "*" is not accepted`},
		{"admin console without token", "gateway:\n  admin:\n    console: true\n", "gateway.admin.console: needs gateway.admin.token_hash"},
		{"admin listen", "gateway:\n  admin:\n    listen: localhost\n", `gateway.admin.listen: "localhost" is not host:port`},
		{"listen", "listen: 8080\n", `listen: "8080" is not host:port`},
		{"listen port", "listen: \":99999\"\n", `listen: ":99999": "99999" is not a port`},
		{"nats listen", "nats:\n  listen: 4222\n", `nats.listen: "4222" is not host:port`},
		{"nats url scheme", "nats:\n  url: http://a:4222\n", `nats.url: "http://a:4222": scheme "http" is not nats, tls, ws or wss`},
		{"nats url empty entry", "nats:\n  url: nats://a:4222,\n", "nats.url: empty URL in the list"},
		{"nats server name", "nats:\n  server_name: my server\n", `nats.server_name: "my server" must not contain spaces`},
		{"stream replicas negative", "nats:\n  url: nats://a:4222\n  stream_replicas: -1\n", "nats.stream_replicas: -1 is not 1 to 5"},
		{"stream replicas over 5", "nats:\n  url: nats://a:4222\n  stream_replicas: 6\n", "nats.stream_replicas: 6 is not 1 to 5"},
		{"stream replicas embedded", "nats:\n  stream_replicas: 3\n", "nats.stream_replicas: 3 needs a NATS cluster"},
		{"stream replicas not a number", "nats:\n  stream_replicas: three\n", "line 2: nats.stream_replicas: three is not a whole number"},
		{"stream replicas embedded cluster ok but no name", "nats:\n  stream_replicas: 3\n  cluster:\n    listen: 0.0.0.0:6222\n    routes: [nats-route://a:6222]\n", "nats.cluster.name: required with nats.cluster"},
		{"cluster without server name", "nats:\n  cluster:\n    name: c\n    listen: 0.0.0.0:6222\n    routes: [nats-route://a:6222]\n", "nats.server_name: required with nats.cluster"},
		{"cluster name spaces", "nats:\n  server_name: a\n  cluster:\n    name: my cluster\n    listen: 0.0.0.0:6222\n    routes: [nats-route://a:6222]\n", `nats.cluster.name: "my cluster" must not contain spaces`},
		{"cluster without listen", "nats:\n  server_name: a\n  cluster:\n    name: c\n    routes: [nats-route://a:6222]\n", "nats.cluster.listen: required"},
		{"cluster listen", "nats:\n  server_name: a\n  cluster:\n    name: c\n    listen: 6222\n    routes: [nats-route://a:6222]\n", `nats.cluster.listen: "6222" is not host:port`},
		{"cluster without routes", "nats:\n  server_name: a\n  cluster:\n    name: c\n    listen: :6222\n", "nats.cluster.routes: required with nats.cluster"},
		{"cluster route scheme", "nats:\n  server_name: a\n  cluster:\n    name: c\n    listen: :6222\n    routes: [nats-route://a:6222, http://b:6222]\n", `nats.cluster.routes[1]: "http://b:6222": scheme "http" is not nats-route, nats, tls`},
		{"cluster route bare", "nats:\n  server_name: a\n  cluster:\n    name: c\n    listen: :6222\n    routes: [b:6222]\n", `nats.cluster.routes[0]: "b:6222" is not a URL (write nats-route://host:port)`},
		{"cluster route port", "nats:\n  server_name: a\n  cluster:\n    name: c\n    listen: :6222\n    routes: [nats-route://b]\n", `nats.cluster.routes[0]: "nats-route://b" has no port`},
		{"cluster routes not a list", "nats:\n  server_name: a\n  cluster:\n    name: c\n    listen: :6222\n    routes: nats-route://b:6222\n", "line 6: nats.cluster.routes: expected a list"},
		{"cluster unknown key", "nats:\n  cluster:\n    rotues: []\n", "line 3: nats.cluster.rotues: unknown key (did you mean routes?)"},
		{"cluster with url", "nats:\n  url: nats://x:4222\n  server_name: a\n  cluster:\n    name: c\n    listen: :6222\n    routes: [nats-route://a:6222]\n", "nats.cluster: only an embedded server clusters"},
		{"cluster without client port", "nats:\n  listen: \"-\"\n  server_name: a\n  cluster:\n    name: c\n    listen: :6222\n    routes: [nats-route://a:6222]\n", `nats.listen: "-" cannot be used with nats.cluster`},
		{"leafnode remote scheme", "nats:\n  leafnode:\n    remotes: [nats-leaf://hub:7422, http://hub:7422]\n", `nats.leafnode.remotes[1]: "http://hub:7422": scheme "http" is not nats-leaf, nats, tls, ws, wss`},
		{"leafnode remote host", "nats:\n  leafnode:\n    remotes: [\"nats-leaf://:7422\"]\n", `nats.leafnode.remotes[0]: "nats-leaf://:7422" has no host`},
		{"leafnode with url", "nats:\n  url: nats://x:4222\n  leafnode:\n    remotes: [nats-leaf://hub:7422]\n", "nats.leafnode: only an embedded server is a leaf node"},
		{"nats log level", "nats:\n  log_level: loud\n", "nats.log_level: "},
		{"nats data dir", "nats:\n  data_dir: " + file + "\n", "nats.data_dir: " + `"` + file + `" is not a directory`},
		{"tracing exporter", "tracing:\n  enabled: true\n  exporter: zipkin\n", `tracing.exporter: "zipkin" is not otlp-http or otlp-grpc`},
		{"tracing ratio zero", "tracing:\n  ratio: 0\n", "tracing.ratio: 0 is not more than 0 and at most 1"},
		{"tracing ratio over one", "tracing:\n  ratio: 1.5\n", "tracing.ratio: 1.5 is not more than 0 and at most 1"},
		{"tracing ratio negative", "tracing:\n  ratio: -0.1\n", "tracing.ratio: -0.1 is not more than 0 and at most 1"},
		{"tracing ratio not a number", "tracing:\n  ratio: half\n", "line 2: tracing.ratio: "},
		{"tracing endpoint bare", "tracing:\n  endpoint: collector:4318\n", `tracing.endpoint: "collector:4318" is not a URL (write http://host:port)`},
		{"tracing endpoint scheme", "tracing:\n  endpoint: grpc://collector:4317\n", `tracing.endpoint: "grpc://collector:4317": scheme "grpc" is not http or https`},
		{"tracing endpoint host", "tracing:\n  endpoint: \"http://:4318\"\n", `tracing.endpoint: "http://:4318" has no host`},
		{"tracing unknown key", "tracing:\n  enabeld: true\n", "line 2: tracing.enabeld: unknown key (did you mean enabled?)"},
		{"tracing service name", "tracing:\n  service_name: \"a\\tb\"\n", `tracing.service_name: "a\tb" has control characters`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := checkConfig(t, tc.yaml)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want %q", err, tc.want)
			}
		})
	}

	good := `
listen: 127.0.0.1:8080
nats:
  url: "nats://a:4222, tls://b:4222,c:4222,ws://d"
  listen: "-"
  server_name: gw-1
  log_level: trace
  stream_replicas: 3
gateway:
  ping_interval: -1s
  read_timeout: -1s
  admin:
    listen: 127.0.0.1:9090
mqtt:
  outbound_topic_aliases: -1
  retained_bucket: my_retained
stomp:
  heartbeat_send: -1s
tracing:
  enabled: true
  exporter: otlp-grpc
  endpoint: https://collector.example.com:4317
  ratio: 0.01
  service_name: edge-gateway
  deliveries: true
`
	if _, err := checkConfig(t, good); err != nil {
		t.Errorf("good config: %v", err)
	}
	node := `
nats:
  listen: 0.0.0.0:4222
  server_name: gw-2
  stream_replicas: 3
  cluster:
    name: wsgate
    listen: 0.0.0.0:6222
    routes: [nats-route://gw-1:6222, nats-route://gw-2:6222, "tls://gw-3:6222"]
  leafnode:
    remotes: [nats-leaf://hub:7422, wss://hub.example.com]
`
	c, err := checkConfig(t, node)
	if err != nil {
		t.Fatalf("cluster node config: %v", err)
	}
	if cl := c.NATS.Cluster; cl.Name != "wsgate" || cl.Listen != "0.0.0.0:6222" || len(cl.Routes) != 3 ||
		len(c.NATS.LeafNode.Remotes) != 2 || c.NATS.StreamReplicas != 3 {
		t.Errorf("cluster node config read as %+v", c.NATS)
	}
}
