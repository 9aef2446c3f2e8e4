package e2e

import (
	"encoding/json"
	"maps"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
	"go.yaml.in/yaml/v3"
)

// The deployment files are checked against the code here, without a Docker
// engine: what they set must exist, what they name must be there, and the
// topology must hang together. compose_test.go then runs it natively.

// TestDeployDockerfile: the image is built as the README says (static,
// trimmed, version stamped where `wsgate version` reads it), runs as a
// non-root user on distroless, exposes the gateway's default ports, and
// checks its health with `wsgate healthcheck`.
func TestDeployDockerfile(t *testing.T) {
	stages := parseDockerfile(t)
	cli := runHelp(t)

	build := stageNamed(stages, "build")
	if build == nil {
		t.Fatal("no build stage")
	}
	goMod := readRepoFile(t, "go.mod")
	goVersion := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindStringSubmatch(goMod)
	if want := "golang:" + goVersion[1]; build.from != want {
		t.Errorf("build stage FROM %s, want %s (go.mod's go %s)", build.from, want, goVersion[1])
	}
	runs := strings.Join(all([]*dockerStage{build}, "RUN"), "\n")
	env := imageEnv([]*dockerStage{build})
	if env["CGO_ENABLED"] != "0" && !strings.Contains(runs, "CGO_ENABLED=0") {
		t.Error("build: CGO_ENABLED is not 0: the binary would not be static for distroless")
	}
	wsgateBuild := regexp.MustCompile(`go build -trimpath -ldflags "([^"]*)" -o (\S+) \./cmd/wsgate`).FindStringSubmatch(runs)
	if wsgateBuild == nil {
		t.Fatalf("build: no `go build -trimpath -ldflags \"...\" -o OUT ./cmd/wsgate` in:\n%s", runs)
	}
	ld := wsgateBuild[1]
	if !strings.Contains(ld, "-s -w") || !strings.Contains(ld, "-X main.version=") {
		t.Errorf("build: ldflags %q: want -s -w and -X main.version=", ld)
	}
	if !regexp.MustCompile(`(?m)^var version = "`).MatchString(readRepoFile(t, "cmd/wsgate/main.go")) {
		t.Error("cmd/wsgate/main.go has no package-level `var version`: -X main.version stamps nothing")
	}
	binOut := wsgateBuild[2]

	final := stages[len(stages)-1]
	c := chain(stages, final)
	if base := c[0].from; !(strings.HasPrefix(base, "gcr.io/distroless/static") && strings.HasSuffix(base, ":nonroot")) && base != "scratch" {
		t.Errorf("the image is FROM %s, want distroless static (nonroot) or scratch", base)
	}
	user := last(c, "USER")
	if uid, _, _ := strings.Cut(user, ":"); user == "" || uid == "0" || uid == "root" {
		t.Errorf("the image runs as %q, want a non-root user", user)
	}
	entry := execForm(t, "ENTRYPOINT", last(c, "ENTRYPOINT"))
	if cmd := execForm(t, "CMD", last(c, "CMD")); !slices.Equal(cmd, []string{"run"}) {
		t.Errorf("CMD %q, want [run]", cmd)
	}
	copied := false
	for _, cp := range all(c, "COPY") {
		f := strings.Fields(cp)
		if slices.Contains(f, "--from=build") && f[len(f)-2] == binOut && f[len(f)-1] == entry[0] {
			copied = true
		}
	}
	if !copied {
		t.Errorf("ENTRYPOINT %s is not the wsgate built as %s", entry[0], binOut)
	}
	hc := last(c, "HEALTHCHECK")
	_, hcCmd, ok := strings.Cut(hc, "CMD ")
	if !ok {
		t.Fatalf("HEALTHCHECK %q, want one with CMD", hc)
	}
	if h := execForm(t, "HEALTHCHECK CMD", hcCmd); !slices.Equal(h, []string{entry[0], "healthcheck"}) {
		t.Errorf("HEALTHCHECK runs %q, want %q healthcheck", h, entry[0])
	}
	exposed := strings.Fields(strings.Join(all(c, "EXPOSE"), " "))
	for _, f := range []string{"listen", "nats-listen"} {
		if p := port(t, cli.defaults[f]); !slices.Contains(exposed, p) {
			t.Errorf("EXPOSE %v lacks %s, the default of --%s (%s)", exposed, p, f, cli.defaults[f])
		}
	}
	if sig := last(c, "STOPSIGNAL"); sig != "" && sig != "SIGTERM" {
		t.Errorf("STOPSIGNAL %s: wsgate stops gracefully on SIGTERM", sig)
	}
	if !strings.Contains(readRepoFile(t, "cmd/wsgate/run.go"), "signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)") {
		t.Error("cmd/wsgate/run.go no longer shuts down on SIGTERM, which docker stop sends")
	}
	// The data dir the image names for the embedded server is the user's.
	imgEnv := imageEnv(c)
	if dir := imgEnv["WSGATE_DATA_DIR"]; dir != "" {
		if _, known := cli.env["WSGATE_DATA_DIR"]; !known {
			t.Error("ENV WSGATE_DATA_DIR is not a variable wsgate reads")
		}
		owned := false
		for _, cp := range all(c, "COPY") {
			f := strings.Fields(cp)
			uid, _, _ := strings.Cut(user, ":")
			if f[len(f)-1] == dir && slices.ContainsFunc(f, func(s string) bool { return strings.HasPrefix(s, "--chown="+uid) }) {
				owned = true
			}
		}
		if !owned {
			t.Errorf("the data dir %s is not made owned by the image's user %s", dir, user)
		}
	}
	for k := range imgEnv {
		if _, known := cli.env[k]; strings.HasPrefix(k, "WSGATE_") && !known {
			t.Errorf("ENV %s: wsgate reads no such variable", k)
		}
	}
	// The chat stage has the chat page where the compose config serves it.
	if chat := stageNamed(stages, "chat"); chat == nil {
		t.Error("no chat stage")
	} else if src := copySource(stages, chat, "/srv/chat"); src != "examples/chat/web" {
		t.Errorf("the chat stage's /srv/chat comes from %q, want examples/chat/web", src)
	}
	// The build context keeps what the build needs and drops node_modules.
	ignore := readRepoFile(t, ".dockerignore")
	if !strings.Contains(ignore, "**/node_modules") {
		t.Error(".dockerignore does not keep node_modules out of the build context")
	}
	for line := range strings.SplitSeq(ignore, "\n") {
		line = strings.TrimSpace(line)
		for _, need := range []string{"go.mod", "go.sum", "cmd", "bridge", "examples", "examples/chat/web/package-lock.json"} {
			if m, _ := filepath.Match(strings.TrimPrefix(line, "/"), need); m && line != "" && line[0] != '#' {
				t.Errorf(".dockerignore drops %s, which the build needs", need)
			}
		}
	}
}

// gatewayStage reports whether a Dockerfile stage is the gateway's image:
// its ENTRYPOINT is wsgate.
func gatewayStage(stages []*dockerStage, target string) bool {
	s := stages[len(stages)-1]
	if target != "" {
		s = stageNamed(stages, target)
	}
	if s == nil {
		return false
	}
	e := last(chain(stages, s), "ENTRYPOINT")
	return strings.Contains(e, "/wsgate\"")
}

// composeGateway is what a compose file says of one gateway service.
type composeGateway struct {
	name   string
	env    map[string]string
	listen string // its main port's address, as it will listen
	config string // the config file on the host ("" without one)
}

// checkGatewayService checks a service that runs wsgate: it is built from
// the Dockerfile, sets only variables and flags wsgate has, its config
// file (if it mounts one) is valid as `wsgate validate` sees it, and its
// health is `wsgate healthcheck`.
func checkGatewayService(t *testing.T, stages []*dockerStage, cli cliSurface, s types.ServiceConfig) composeGateway {
	t.Helper()
	g := composeGateway{name: s.Name, env: map[string]string{}}
	if s.Build == nil || filepath.Clean(s.Build.Context) != mustAbs(t, repoRoot) || (s.Build.Dockerfile != "" && s.Build.Dockerfile != "Dockerfile") {
		t.Errorf("%s: not built from the top-level Dockerfile: %+v", s.Name, s.Build)
	}
	if s.Build != nil && s.Build.Target != "" && stageNamed(stages, s.Build.Target) == nil {
		t.Errorf("%s: build target %q is no stage of the Dockerfile", s.Name, s.Build.Target)
	}
	for k, v := range s.Environment {
		if v == nil {
			t.Errorf("%s: %s has no value", s.Name, k)
			continue
		}
		g.env[k] = *v
		if _, known := cli.env[k]; strings.HasPrefix(k, "WSGATE_") && !known {
			t.Errorf("%s: environment %s: wsgate reads no such variable (run --help names %v)", s.Name, k, slices.Sorted(maps.Keys(cli.env)))
		}
	}
	for _, a := range s.Command {
		if name, ok := strings.CutPrefix(a, "--"); ok {
			name, _, _ = strings.Cut(name, "=")
			if !cli.flags[name] {
				t.Errorf("%s: command flag --%s: wsgate run has no such flag", s.Name, name)
			}
		}
	}
	if len(s.Entrypoint) > 0 {
		t.Errorf("%s: entrypoint %q replaces wsgate's", s.Name, s.Entrypoint)
	}
	if s.HealthCheck != nil && (s.HealthCheck.Disable || !strings.Contains(strings.Join(s.HealthCheck.Test, " "), "healthcheck")) {
		t.Errorf("%s: healthcheck %q, want the image's (wsgate healthcheck)", s.Name, s.HealthCheck.Test)
	}
	g.listen = cli.defaults["listen"]
	if f := g.env["WSGATE_CONFIG"]; f != "" {
		for _, v := range s.Volumes {
			if v.Target == f {
				g.config = v.Source
			}
		}
		if g.config == "" {
			t.Fatalf("%s: WSGATE_CONFIG %s is not mounted", s.Name, f)
		}
		var file struct {
			Listen string `yaml:"listen"`
		}
		b, err := os.ReadFile(g.config)
		if err != nil {
			t.Fatal(err)
		}
		if err := yaml.Unmarshal(b, &file); err != nil {
			t.Fatalf("%s: %v", g.config, err)
		}
		if file.Listen != "" {
			g.listen = file.Listen
		}
		validateComposeConfig(t, stages, s.Name, g.config, g.env)
	}
	if l := g.env["WSGATE_LISTEN"]; l != "" {
		g.listen = l
	}
	return g
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// hostConfig is a compose gateway's config file as it can be used on this
// machine: gateway.static_dir, a folder of the image, becomes the
// repository folder the Dockerfile copies there.
func hostConfig(t *testing.T, stages []*dockerStage, file string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	text := string(b)
	if gw, ok := doc["gateway"].(map[string]any); ok {
		if dir, ok := gw["static_dir"].(string); ok {
			src := ""
			for _, s := range stages {
				if src = copySource(stages, s, dir); src != "" {
					break
				}
			}
			if src == "" {
				t.Fatalf("%s: gateway.static_dir %s: no Dockerfile stage puts anything there", file, dir)
			}
			text = strings.ReplaceAll(text, dir, mustAbs(t, repoFile(src)))
		}
	}
	return writeFile(t, "wsgate.yaml", text)
}

// validateComposeConfig runs `wsgate validate` on a gateway service's config
// with the service's environment, as the gateway would load them.
func validateComposeConfig(t *testing.T, stages []*dockerStage, service, file string, env map[string]string) {
	t.Helper()
	cmd := exec.Command(binary, "validate", "--config", hostConfig(t, stages, file))
	cmd.Env = raceEnv()
	for k, v := range env {
		if k != "WSGATE_CONFIG" {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("%s: wsgate validate %s: %v\n%s", service, file, err, out)
	}
}

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

// dashboardQueries checks Grafana's provisioning in compose project p and
// returns the series the dashboards' queries name, each checked to exist:
// ours in bridge/metrics.go, NATS's in what the exporter makes of a real
// nats-server's monitoring endpoints.
func dashboardQueries(t *testing.T, p *types.Project) map[string]bool {
	t.Helper()
	s, ok := p.Services["grafana"]
	if !ok {
		t.Fatal("no grafana service")
	}
	mounts := map[string]string{}
	for _, v := range s.Volumes {
		mounts[v.Target] = v.Source
	}
	prov := mounts["/etc/grafana/provisioning"]
	if prov == "" {
		t.Fatal("grafana: no provisioning mounted at /etc/grafana/provisioning")
	}
	var ds struct {
		Datasources []struct {
			UID, Type, URL string
		} `yaml:"datasources"`
	}
	b, err := os.ReadFile(filepath.Join(prov, "datasources", "prometheus.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &ds); err != nil || len(ds.Datasources) != 1 {
		t.Fatalf("grafana datasources: %v %+v", err, ds)
	}
	src := ds.Datasources[0]
	if u, err := url.Parse(src.URL); err != nil || src.Type != "prometheus" || u.Port() != "9090" || p.Services[u.Hostname()].Image == "" ||
		!strings.HasPrefix(p.Services[u.Hostname()].Image, "prom/prometheus:") {
		t.Errorf("grafana's datasource %+v is not the prometheus service on 9090", src)
	}
	var prv struct {
		Providers []struct {
			Options struct{ Path string } `yaml:"options"`
		} `yaml:"providers"`
	}
	if b, err = os.ReadFile(filepath.Join(prov, "dashboards", "wsgate.yml")); err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &prv); err != nil || len(prv.Providers) != 1 {
		t.Fatalf("grafana dashboard providers: %v %+v", err, prv)
	}
	dir := mounts[prv.Providers[0].Options.Path]
	if dir == "" {
		t.Fatalf("grafana: the dashboards' path %s is not mounted", prv.Providers[0].Options.Path)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	if len(files) == 0 {
		t.Fatalf("no dashboard in %s", dir)
	}
	ours := gatewayMetrics(t)
	theirs := natsExporterMetrics(t, "varz", "routez")
	named := map[string]bool{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d struct {
			Panels []struct {
				Type, Title string
				Datasource  *struct{ UID string } `json:"datasource"`
				Targets     []struct {
					Expr       string `json:"expr"`
					Datasource *struct{ UID string }
				} `json:"targets"`
			} `json:"panels"`
		}
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, pn := range d.Panels {
			if pn.Type == "row" {
				continue
			}
			if pn.Datasource == nil || pn.Datasource.UID != src.UID || len(pn.Targets) == 0 {
				t.Errorf("%s: panel %q: datasource %+v, %d queries; want %s", filepath.Base(f), pn.Title, pn.Datasource, len(pn.Targets), src.UID)
			}
			for _, q := range pn.Targets {
				ms := promMetric.FindAllString(q.Expr, -1)
				if len(ms) == 0 {
					t.Errorf("panel %q: %q names no series of ours or NATS's", pn.Title, q.Expr)
				}
				for _, m := range ms {
					named[m] = true
					if !ours[m] && !theirs[m] {
						t.Errorf("panel %q: %s exists neither in bridge/metrics.go nor in the NATS exporter's series", pn.Title, m)
					}
				}
			}
		}
	}
	// What the dashboard must show.
	for _, m := range []string{"wsgate_connections", "wsgate_messages_in_total", "wsgate_messages_out_total",
		"wsgate_route_duration_seconds_bucket", "wsgate_slow_consumer_disconnects_total", "wsgate_protocol_errors_total",
		"gnatsd_varz_in_msgs", "gnatsd_routez_num_routes"} {
		if !named[m] {
			t.Errorf("no panel shows %s", m)
		}
	}
	return named
}

// TestDeployComposeDev checks docker-compose.dev.yml: one gateway with NATS
// embedded, its JetStream on a volume, its ports published.
func TestDeployComposeDev(t *testing.T) {
	p := loadCompose(t, "docker-compose.dev.yml")
	stages := parseDockerfile(t)
	cli := runHelp(t)
	if len(p.Services) != 1 {
		t.Fatalf("%d services, want one", len(p.Services))
	}
	for _, s := range p.Services {
		if s.Build == nil || !gatewayStage(stages, s.Build.Target) {
			t.Fatalf("%s is not the gateway's image", s.Name)
		}
		g := checkGatewayService(t, stages, cli, s)
		if g.env["WSGATE_NATS_URL"] != "" {
			t.Error("WSGATE_NATS_URL set: nothing would be embedded")
		}
		natsListen := cmpOr(g.env["WSGATE_NATS_LISTEN"], cli.defaults["nats-listen"])
		if !strings.HasPrefix(natsListen, "0.0.0.0:") {
			t.Errorf("the embedded NATS listens on %s: workers outside the container cannot reach it", natsListen)
		}
		published := map[string]string{}
		for _, pt := range s.Ports {
			published[u32(pt.Target)] = pt.Published
			if pt.HostIP != "127.0.0.1" {
				t.Errorf("port %d published on %q, want 127.0.0.1 (dev mode: no auth)", pt.Target, pt.HostIP)
			}
		}
		for _, a := range []string{g.listen, natsListen} {
			if published[port(t, a)] == "" {
				t.Errorf("port %s (%s) is not published: %v", port(t, a), a, published)
			}
		}
		dir := cmpOr(g.env["WSGATE_DATA_DIR"], imageEnv(chain(stages, stages[len(stages)-1]))["WSGATE_DATA_DIR"])
		if dir == "" || !slices.ContainsFunc(s.Volumes, func(v types.ServiceVolumeConfig) bool { return v.Type == "volume" && v.Target == dir }) {
			t.Errorf("the JetStream data dir %q is not on a volume", dir)
		}
	}
}

func u32(n uint32) string { return strconv.FormatUint(uint64(n), 10) }

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
