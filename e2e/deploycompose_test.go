package e2e

import (
	"maps"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
	"go.yaml.in/yaml/v3"
)

// TestDeployCompose checks docker-compose.yml against the code and itself:
// three NATS nodes with JetStream routing to each other, two gateways on
// all three with their streams replicated on all three, HAProxy in front
// of both and health-checking /readyz, the chat worker, Prometheus
// scraping every gateway and every node's exporter, and Grafana with a
// dashboard whose queries name series that exist.
func TestDeployCompose(t *testing.T) {
	p := loadCompose(t, "docker-compose.yml")
	stages := parseDockerfile(t)
	cli := runHelp(t)

	if want, got := readmeServices(t), slices.Sorted(maps.Keys(p.Services)); !slices.Equal(want, got) {
		t.Errorf("README.md, Deploying, lists the services %v; docker-compose.yml has %v", want, got)
	}
	for _, s := range p.Services {
		for _, pt := range s.Ports {
			if pt.HostIP != "127.0.0.1" {
				t.Errorf("%s publishes %s on %q: the gateways run without auth, so every port is for this machine only", s.Name, pt.Published, pt.HostIP)
			}
		}
	}

	// NATS: three nodes of one cluster, each routing to the others, with
	// JetStream on a volume, and the version this repository is tested
	// against.
	natsVersion := regexp.MustCompile(`github.com/nats-io/nats-server/v2 v(\S+)`).FindStringSubmatch(readRepoFile(t, "go.mod"))[1]
	type natsNode struct{ client, cluster, http string }
	nodes := map[string]natsNode{}
	args := map[string]map[string]string{}
	for _, s := range p.Services {
		if !strings.HasPrefix(s.Image, "nats:") {
			continue
		}
		if tag := strings.TrimPrefix(s.Image, "nats:"); tag != natsVersion && !strings.HasPrefix(tag, natsVersion+"-") {
			t.Errorf("%s: image %s, want nats-server %s as go.mod has (what the tests run)", s.Name, s.Image, natsVersion)
		}
		a := natsArgs(t, s.Command)
		args[s.Name] = a
		u, err := url.Parse(a["--cluster"])
		if err != nil || u.Port() == "" {
			t.Fatalf("%s: --cluster %q", s.Name, a["--cluster"])
		}
		n := natsNode{client: "4222", cluster: u.Port(), http: a["--http_port"]}
		if v := a["--port"]; v != "" {
			n.client = v
		}
		nodes[s.Name] = n
		if a["--name"] != s.Name {
			t.Errorf("%s: --name %q: each node its own name, the service's", s.Name, a["--name"])
		}
		if a["--jetstream"] == "" || a["--store_dir"] == "" {
			t.Errorf("%s: JetStream is not on (--jetstream, --store_dir)", s.Name)
		}
		if !slices.ContainsFunc(s.Volumes, func(v types.ServiceVolumeConfig) bool { return v.Type == "volume" && v.Target == a["--store_dir"] }) {
			t.Errorf("%s: --store_dir %s is not on a volume", s.Name, a["--store_dir"])
		}
		if n.http == "" {
			t.Errorf("%s: no monitoring port (--http_port)", s.Name)
		}
		if hc := s.HealthCheck; hc == nil || !strings.Contains(strings.Join(hc.Test, " "), ":"+n.http+"/healthz") {
			t.Errorf("%s: healthcheck is not the monitoring port's /healthz", s.Name)
		}
	}
	if len(nodes) != 3 {
		t.Fatalf("%d NATS nodes, want 3", len(nodes))
	}
	clusterName := ""
	for name, a := range args {
		if clusterName == "" {
			clusterName = a["--cluster_name"]
		}
		if a["--cluster_name"] == "" || a["--cluster_name"] != clusterName {
			t.Errorf("%s: --cluster_name %q, want one name for all", name, a["--cluster_name"])
		}
		routes := strings.Split(a["--routes"], ",")
		for other, n := range nodes {
			if other != name && !slices.Contains(routes, "nats-route://"+other+":"+n.cluster) {
				t.Errorf("%s: --routes %q lacks nats-route://%s:%s", name, a["--routes"], other, n.cluster)
			}
		}
	}

	// Two gateways, each on all three nodes, replicating on all three.
	var gws []composeGateway
	for _, s := range p.Services {
		if s.Build == nil || !gatewayStage(stages, s.Build.Target) {
			continue
		}
		g := checkGatewayService(t, stages, cli, s)
		gws = append(gws, g)
		var urls []string
		for u := range strings.SplitSeq(g.env["WSGATE_NATS_URL"], ",") {
			urls = append(urls, strings.TrimSpace(u))
		}
		for name, n := range nodes {
			if !slices.Contains(urls, "nats://"+name+":"+n.client) {
				t.Errorf("%s: WSGATE_NATS_URL %q lacks nats://%s:%s", s.Name, g.env["WSGATE_NATS_URL"], name, n.client)
			}
			if dep, ok := s.DependsOn[name]; !ok || dep.Condition != types.ServiceConditionHealthy {
				t.Errorf("%s: does not wait for %s to be healthy", s.Name, name)
			}
		}
		if g.config == "" {
			t.Errorf("%s: no config file: nats.stream_replicas cannot be set", s.Name)
			continue
		}
		var file struct {
			NATS struct {
				StreamReplicas int `yaml:"stream_replicas"`
			} `yaml:"nats"`
		}
		b, _ := os.ReadFile(g.config)
		if err := yaml.Unmarshal(b, &file); err != nil {
			t.Fatal(err)
		}
		if file.NATS.StreamReplicas != len(nodes) {
			t.Errorf("%s: nats.stream_replicas %d, want %d: one copy on each NATS node", s.Name, file.NATS.StreamReplicas, len(nodes))
		}
	}
	if len(gws) != 2 {
		t.Fatalf("%d gateways, want 2", len(gws))
	}

	// HAProxy: the published port in front of both gateways, in rotation
	// while their /readyz says 200.
	t.Run("haproxy", func(t *testing.T) {
		s, ok := p.Services["haproxy"]
		if !ok {
			t.Fatal("no haproxy service")
		}
		cfg := ""
		for _, v := range s.Volumes {
			if v.Target == "/usr/local/etc/haproxy/haproxy.cfg" {
				cfg = v.Source
			}
		}
		if cfg != mustAbs(t, repoFile("deploy/haproxy/haproxy.cfg")) {
			t.Fatalf("haproxy does not mount deploy/haproxy/haproxy.cfg as its config: %q", cfg)
		}
		b, err := os.ReadFile(cfg)
		if err != nil {
			t.Fatal(err)
		}
		secs := haproxySections(t, string(b))
		var binds, servers []string
		var backend []string
		for name, lines := range secs {
			for _, l := range lines {
				if v, ok := strings.CutPrefix(l, "bind "); ok && strings.HasPrefix(name, "frontend ") {
					binds = append(binds, port(t, strings.Fields(v)[0]))
				}
				if v, ok := strings.CutPrefix(l, "server "); ok && strings.HasPrefix(name, "backend ") {
					servers = append(servers, strings.Fields(v)[1])
					backend = lines
				}
			}
		}
		var want []string
		for _, g := range gws {
			want = append(want, g.name+":"+port(t, g.listen))
			if dep, ok := s.DependsOn[g.name]; !ok || dep.Condition != types.ServiceConditionHealthy {
				t.Errorf("haproxy does not wait for %s to be healthy", g.name)
			}
		}
		slices.Sort(servers)
		slices.Sort(want)
		if !slices.Equal(servers, want) {
			t.Errorf("haproxy backend servers %v, want the gateways %v", servers, want)
		}
		for _, need := range []string{"option httpchk", "http-check send meth GET uri /readyz", "http-check expect status 200"} {
			if !slices.Contains(backend, need) {
				t.Errorf("haproxy backend lacks %q: %q", need, backend)
			}
		}
		if !slices.ContainsFunc(secs["defaults"], func(l string) bool { return strings.HasPrefix(l, "timeout tunnel ") }) {
			t.Error("haproxy: no timeout tunnel: upgraded WebSockets would be cut at the server timeout")
		}
		if len(s.Ports) != 1 || s.Ports[0].Published != "8080" || !slices.Contains(binds, strings.TrimSpace(u32(s.Ports[0].Target))) {
			t.Errorf("haproxy publishes %+v, binds %v: want localhost:8080 onto its bind port", s.Ports, binds)
		}
		if out, _, _ := runCLI(t, "healthcheck", "--help"); !strings.Contains(out, "GET /readyz") {
			t.Error("haproxy checks /readyz, and wsgate healthcheck no longer says it does")
		}
	})

	t.Run("chat worker", func(t *testing.T) {
		s, ok := p.Services["chat-worker"]
		if !ok {
			t.Fatal("no chat-worker service")
		}
		if s.Build == nil || stageNamed(stages, s.Build.Target) == nil {
			t.Fatalf("chat-worker: build target is no Dockerfile stage: %+v", s.Build)
		}
		if !strings.Contains(strings.Join(all([]*dockerStage{stageNamed(stages, "build")}, "RUN"), " "), "./examples/chat/worker") {
			t.Error("the build stage does not build ./examples/chat/worker")
		}
		if len(s.Command) != 2 || s.Command[0] != "-nats" {
			t.Fatalf("chat-worker command %q, want -nats URLS", s.Command)
		}
		if !strings.Contains(readRepoFile(t, "examples/chat/worker/main.go"), `flag.String("nats"`) {
			t.Error("the chat worker has no -nats flag")
		}
		for name, n := range nodes {
			if !strings.Contains(s.Command[1], "nats://"+name+":"+n.client) {
				t.Errorf("chat-worker: -nats %q lacks %s", s.Command[1], name)
			}
		}
	})

	// Prometheus scrapes every gateway and every node's exporter; Grafana
	// shows it.
	dash := dashboardQueries(t, p)
	t.Run("prometheus", func(t *testing.T) {
		s, ok := p.Services["prometheus"]
		if !ok {
			t.Fatal("no prometheus service")
		}
		cfg := ""
		for _, v := range s.Volumes {
			if v.Target == "/etc/prometheus/prometheus.yml" {
				cfg = v.Source
			}
		}
		b, err := os.ReadFile(cfg)
		if err != nil {
			t.Fatalf("prometheus config %q: %v", cfg, err)
		}
		var pc struct {
			ScrapeConfigs []struct {
				JobName       string `yaml:"job_name"`
				MetricsPath   string `yaml:"metrics_path"`
				StaticConfigs []struct {
					Targets []string `yaml:"targets"`
				} `yaml:"static_configs"`
			} `yaml:"scrape_configs"`
		}
		if err := yaml.Unmarshal(b, &pc); err != nil {
			t.Fatal(err)
		}
		targets := map[string]string{} // target → metrics path
		for _, sc := range pc.ScrapeConfigs {
			for _, st := range sc.StaticConfigs {
				for _, tg := range st.Targets {
					targets[tg] = cmpOr(sc.MetricsPath, "/metrics")
				}
			}
		}
		for _, g := range gws {
			if path, ok := targets[g.name+":"+port(t, g.listen)]; !ok || path != "/metrics" {
				t.Errorf("prometheus does not scrape %s:%s/metrics: %v", g.name, port(t, g.listen), targets)
			}
		}
		natsFlags := map[string]bool{}
		for m := range dash {
			if rest, ok := strings.CutPrefix(m, "gnatsd_"); ok {
				ep, _, _ := strings.Cut(rest, "_")
				natsFlags["-"+ep] = true
			}
		}
		covered := map[string]bool{}
		for _, s := range p.Services {
			if !strings.HasPrefix(s.Image, "natsio/prometheus-nats-exporter:") {
				continue
			}
			u, err := url.Parse(s.Command[len(s.Command)-1])
			if err != nil || nodes[u.Hostname()].http == "" || u.Port() != nodes[u.Hostname()].http {
				t.Errorf("%s: reads %q, not a NATS node's monitoring port", s.Name, s.Command[len(s.Command)-1])
				continue
			}
			covered[u.Hostname()] = true
			for f := range natsFlags {
				if !slices.Contains(s.Command, f) {
					t.Errorf("%s: without %s, the dashboard's gnatsd_%s_* series do not exist", s.Name, f, f[1:])
				}
			}
			if _, ok := targets[s.Name+":7777"]; !ok {
				t.Errorf("prometheus does not scrape %s:7777", s.Name)
			}
		}
		if len(covered) != len(nodes) {
			t.Errorf("exporters read %v, want every NATS node", slices.Sorted(maps.Keys(covered)))
		}
	})
}
