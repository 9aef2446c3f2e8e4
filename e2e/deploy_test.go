package e2e

import (
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

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
	// SIGTERM, then shutdown_timeout to close connections, then the NATS
	// drain: Docker's own 10s would cut it short.
	shutdown := readmeDefault(t, "shutdown_timeout")
	if s.StopGracePeriod == nil || time.Duration(*s.StopGracePeriod) <= shutdown {
		t.Errorf("%s: stop_grace_period %v, want more than gateway.shutdown_timeout (%s)", s.Name, s.StopGracePeriod, shutdown)
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

// readmeDefault is a gateway duration's default as the README's complete
// config gives it.
func readmeDefault(t *testing.T, key string) time.Duration {
	t.Helper()
	m := regexp.MustCompile(`(?m)^  ` + key + `: (\S+)`).FindStringSubmatch(readRepoFile(t, "README.md"))
	if m == nil {
		t.Fatalf("README.md's complete config has no gateway.%s", key)
	}
	d, err := time.ParseDuration(m[1])
	if err != nil {
		t.Fatal(err)
	}
	return d
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

// TestDeployREADMEConfig: the README's complete config and the configs its
// Deploying section shows pass `wsgate validate`, and the complete config
// has the keys of a scale-out.
func TestDeployREADMEConfig(t *testing.T) {
	readme := readRepoFile(t, "README.md")
	block := regexp.MustCompile("(?s)```yaml\n(.*?)```")
	section := func(title string) string {
		_, s, ok := strings.Cut(readme, "\n## "+title+"\n")
		if !ok {
			t.Fatalf("README.md has no %s section", title)
		}
		if i := strings.Index(s, "\n## "); i >= 0 {
			s = s[:i]
		}
		return s
	}
	complete := block.FindStringSubmatch(section("Configuration"))
	if complete == nil || !strings.HasPrefix(complete[1], "listen:") {
		t.Fatal("README.md, Configuration: no complete config")
	}
	var doc struct {
		NATS map[string]any `yaml:"nats"`
	}
	if err := yaml.Unmarshal([]byte(complete[1]), &doc); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"stream_replicas", "cluster.name", "cluster.listen", "cluster.routes", "leafnode.remotes"} {
		m, found := doc.NATS, false
		for k := range strings.SplitSeq(key, ".") {
			var v any
			v, found = m[k]
			m, _ = v.(map[string]any)
		}
		if !found {
			t.Errorf("README.md's complete config has no nats.%s", key)
		}
	}
	configs := []string{complete[1]}
	for _, m := range block.FindAllStringSubmatch(section("Deploying"), -1) {
		configs = append(configs, m[1])
	}
	if len(configs) < 3 {
		t.Fatalf("README.md, Deploying: %d configs, want the cluster node's and the leaf node's", len(configs)-1)
	}
	for _, c := range configs {
		out, stderr, code := runCLI(t, "validate", "--config", writeFile(t, "wsgate.yaml", c))
		if code != 0 {
			t.Errorf("wsgate validate: exit %d %s%s\n%s", code, out, stderr, c)
		}
	}
}
