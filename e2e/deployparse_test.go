package e2e

// Readers for the deployment files (Dockerfile, docker-compose*.yml, the
// configs under deploy/) and for what the code says they must agree with
// (the CLI's flags and environment, the metrics bridge/metrics.go
// registers, the series prometheus-nats-exporter makes of a NATS server).
// No Docker engine runs here: deploy*_test.go check the files with them,
// and compose_test.go runs the same topology natively.

import (
	"context"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/nats-io/nats-server/v2/server"
)

// repoRoot is the repository's top folder: the tests run in e2e/.
const repoRoot = ".."

// repoFile is the path of a file of the repository.
func repoFile(name string) string { return filepath.Join(repoRoot, filepath.FromSlash(name)) }

func readRepoFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(repoFile(name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// loadCompose reads a compose file as docker compose does, checked against
// the compose specification's schema, without the environment's say.
func loadCompose(t *testing.T, name string) *types.Project {
	t.Helper()
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	o, err := cli.NewProjectOptions([]string{filepath.Join(root, name)},
		cli.WithWorkingDirectory(root), cli.WithInterpolation(false), cli.WithResolvedPaths(true))
	if err != nil {
		t.Fatal(err)
	}
	p, err := o.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return p
}

// cliSurface is what `wsgate run --help` says: its flags, the WSGATE_*
// variables they read, and their defaults.
type cliSurface struct {
	flags    map[string]bool
	env      map[string]string // variable → flag
	defaults map[string]string // flag → default
}

var helpLine = regexp.MustCompile(`^\s+--([a-z-]+) .*\(env (WSGATE_[A-Z_]+)(?:; default ([^)]+))?\)`)

func runHelp(t *testing.T) cliSurface {
	t.Helper()
	out, _, code := runCLI(t, "run", "--help")
	if code != 0 {
		t.Fatalf("wsgate run --help: exit %d", code)
	}
	s := cliSurface{flags: map[string]bool{}, env: map[string]string{}, defaults: map[string]string{}}
	for line := range strings.SplitSeq(out, "\n") {
		if m := helpLine.FindStringSubmatch(line); m != nil {
			s.flags[m[1]] = true
			s.env[m[2]] = m[1]
			if m[3] != "" {
				s.defaults[m[1]] = m[3]
			}
		}
	}
	for _, f := range []string{"config", "listen", "nats-url", "nats-listen"} {
		if !s.flags[f] {
			t.Fatalf("run --help has no --%s with its environment variable:\n%s", f, out)
		}
	}
	return s
}

// port is the port of a host:port address.
func port(t *testing.T, addr string) string {
	t.Helper()
	i := strings.LastIndexByte(addr, ':')
	if i < 0 {
		t.Fatalf("%q has no port", addr)
	}
	return addr[i+1:]
}

// A dockerStage is one FROM of the Dockerfile with its instructions.
type dockerStage struct {
	name   string
	from   string // an image, or an earlier stage's name
	instrs []dockerInstr
}

type dockerInstr struct{ op, args string }

// parseDockerfile reads the Dockerfile's stages: continuation lines are
// joined, comments dropped, and the ARGs before the first FROM expanded in
// FROM lines.
func parseDockerfile(t *testing.T) []*dockerStage {
	t.Helper()
	args := map[string]string{}
	var stages []*dockerStage
	var cur *dockerStage
	logical := ""
	for line := range strings.SplitSeq(readRepoFile(t, "Dockerfile"), "\n") {
		s := strings.TrimSpace(line)
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		if strings.HasSuffix(s, `\`) {
			logical += strings.TrimSuffix(s, `\`) + " "
			continue
		}
		logical += s
		op, rest, _ := strings.Cut(logical, " ")
		op, rest, logical = strings.ToUpper(op), strings.TrimSpace(rest), ""
		switch {
		case op == "ARG" && cur == nil:
			k, v, _ := strings.Cut(rest, "=")
			args[k] = v
		case op == "FROM":
			f := strings.Fields(os.Expand(rest, func(k string) string { return args[k] }))
			st := &dockerStage{from: f[0]}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				st.name = f[2]
			}
			stages = append(stages, st)
			cur = st
		case cur == nil:
			t.Fatalf("Dockerfile: %s before FROM", op)
		default:
			cur.instrs = append(cur.instrs, dockerInstr{op, rest})
		}
	}
	if len(stages) == 0 {
		t.Fatal("Dockerfile: no FROM")
	}
	return stages
}

func stageNamed(stages []*dockerStage, name string) *dockerStage {
	for _, s := range stages {
		if s.name == name {
			return s
		}
	}
	return nil
}

// chain is a stage and the earlier stages it is built FROM, base first.
func chain(stages []*dockerStage, s *dockerStage) []*dockerStage {
	var c []*dockerStage
	for s != nil {
		c = append([]*dockerStage{s}, c...)
		s = stageNamed(stages, s.from)
	}
	return c
}

// last is the last instruction op in a chain of stages, as the image
// built from it has it: "" if none.
func last(c []*dockerStage, op string) string {
	v := ""
	for _, s := range c {
		for _, in := range s.instrs {
			if in.op == op {
				v = in.args
			}
		}
	}
	return v
}

// all are the arguments of every instruction op in a chain.
func all(c []*dockerStage, op string) []string {
	var v []string
	for _, s := range c {
		for _, in := range s.instrs {
			if in.op == op {
				v = append(v, in.args)
			}
		}
	}
	return v
}

// execForm decodes an instruction's JSON array (exec form).
func execForm(t *testing.T, op, args string) []string {
	t.Helper()
	var a []string
	if err := json.Unmarshal([]byte(args), &a); err != nil || len(a) == 0 {
		t.Fatalf("Dockerfile: %s %s is not in exec form (a JSON array): %v", op, args, err)
	}
	return a
}

// imageEnv is the environment a chain of stages sets (ENV K=V ...).
func imageEnv(c []*dockerStage) map[string]string {
	env := map[string]string{}
	for _, e := range all(c, "ENV") {
		for _, kv := range strings.Fields(e) {
			if k, v, ok := strings.Cut(kv, "="); ok {
				env[k] = v
			}
		}
	}
	return env
}

// copySource is the repository folder whose files a stage has at dir: a
// COPY --from of another stage, followed into that stage, to a COPY from
// the build context. "" if the stage has no such copy.
func copySource(stages []*dockerStage, s *dockerStage, dir string) string {
	workdir := "/"
	for _, in := range s.instrs {
		if in.op == "WORKDIR" {
			workdir = in.args
		}
		if in.op != "COPY" {
			continue
		}
		f := strings.Fields(in.args)
		from := ""
		var paths []string
		for _, x := range f {
			if v, ok := strings.CutPrefix(x, "--from="); ok {
				from = v
			} else if !strings.HasPrefix(x, "--") {
				paths = append(paths, x)
			}
		}
		if len(paths) != 2 {
			continue
		}
		src, dst := strings.TrimSuffix(paths[0], "/"), paths[1]
		if !strings.HasPrefix(dst, "/") {
			dst = filepath.Join(workdir, dst)
		}
		if filepath.Clean(dst) != filepath.Clean(dir) {
			continue
		}
		if from == "" {
			return src
		}
		if fs := stageNamed(stages, from); fs != nil {
			return copySource(stages, fs, src)
		}
	}
	return ""
}

// natsArgs reads a nats-server command line: --flag value, or a flag
// alone for the boolean ones.
func natsArgs(t *testing.T, args []string) map[string]string {
	t.Helper()
	booleans := map[string]bool{"--jetstream": true, "-js": true, "-D": true, "-V": true, "-DV": true}
	m := map[string]string{}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") {
			t.Fatalf("nats-server argument %q is not a flag (in %q)", a, args)
		}
		if k, v, ok := strings.Cut(a, "="); ok {
			m[k] = v
		} else if booleans[a] {
			m[a] = "true"
		} else if i+1 < len(args) {
			m[a] = args[i+1]
			i++
		} else {
			t.Fatalf("nats-server flag %s has no value", a)
		}
	}
	return m
}

// haproxySections maps each section of haproxy.cfg ("backend wsgate") to
// its lines, comments and blank lines dropped.
func haproxySections(t *testing.T, text string) map[string][]string {
	t.Helper()
	secs := map[string][]string{}
	cur := ""
	for line := range strings.SplitSeq(text, "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		if strings.TrimSpace(line) == "" {
			continue
		}
		if line[0] != ' ' && line[0] != '\t' {
			cur = strings.Join(strings.Fields(line), " ")
			secs[cur] = nil
			continue
		}
		if cur == "" {
			t.Fatalf("haproxy.cfg: %q outside a section", line)
		}
		secs[cur] = append(secs[cur], strings.Join(strings.Fields(line), " "))
	}
	return secs
}

// gatewayMetrics are the series names bridge/metrics.go registers:
// Namespace and Name of every prometheus Opts literal (with _bucket, _sum
// and _count for a histogram).
func gatewayMetrics(t *testing.T) map[string]bool {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), repoFile("bridge/metrics.go"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	consts := map[string]string{}
	names := map[string]bool{}
	str := func(e ast.Expr) string {
		switch v := e.(type) {
		case *ast.BasicLit:
			s, _ := strconv.Unquote(v.Value)
			return s
		case *ast.Ident:
			return consts[v.Name]
		}
		return ""
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch v := n.(type) {
		case *ast.ValueSpec:
			for i, id := range v.Names {
				if i < len(v.Values) {
					consts[id.Name] = str(v.Values[i])
				}
			}
		case *ast.CompositeLit:
			sel, ok := v.Type.(*ast.SelectorExpr)
			if !ok || !strings.HasSuffix(sel.Sel.Name, "Opts") {
				return true
			}
			var ns, name string
			for _, el := range v.Elts {
				kv, ok := el.(*ast.KeyValueExpr)
				if !ok {
					continue
				}
				switch kv.Key.(*ast.Ident).Name {
				case "Namespace":
					ns = str(kv.Value)
				case "Name":
					name = str(kv.Value)
				}
			}
			if name == "" {
				return true
			}
			full := ns + "_" + name
			names[full] = true
			if sel.Sel.Name == "HistogramOpts" {
				for _, s := range []string{"_bucket", "_sum", "_count"} {
					names[full+s] = true
				}
			}
		}
		return true
	})
	if !names["wsgate_connections"] {
		t.Fatalf("bridge/metrics.go read as %v", names)
	}
	return names
}

// natsExporterMetrics are the gnatsd_<endpoint>_* series
// prometheus-nats-exporter makes of a NATS server of the version in
// go.mod, with JetStream: one per number in the endpoint's JSON, nested
// keys joined with _ (its collector's objectToMetrics and fqName).
func natsExporterMetrics(t *testing.T, endpoints ...string) map[string]bool {
	t.Helper()
	srv, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: server.RANDOM_PORT, HTTPHost: "127.0.0.1", HTTPPort: server.RANDOM_PORT,
		JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	defer func() { srv.Shutdown(); srv.WaitForShutdown() }()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	names := map[string]bool{}
	var flatten func(prefix string, m map[string]any)
	flatten = func(prefix string, m map[string]any) {
		for k, v := range m {
			switch x := v.(type) {
			case float64:
				names[prefix+k] = true
			case map[string]any:
				flatten(prefix+k+"_", x)
			}
		}
	}
	for _, ep := range endpoints {
		resp, err := http.Get(fmt.Sprintf("http://%s/%s", srv.MonitorAddr(), ep))
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("/%s: %v", ep, err)
		}
		flatten("gnatsd_"+ep+"_", m)
	}
	return names
}

// promMetric finds the series names a PromQL expression reads: the
// identifiers with a prefix of ours or of the NATS exporter.
var promMetric = regexp.MustCompile(`\b(?:wsgate|gnatsd|jetstream)_[a-z0-9_]+\b`)

// readmeServices are the services the README's Deploying section lists in
// its table of services (`name` in the first column).
func readmeServices(t *testing.T) []string {
	t.Helper()
	readme := readRepoFile(t, "README.md")
	_, sec, ok := strings.Cut(readme, "\n## Deploying")
	if !ok {
		t.Fatal("README.md has no Deploying section")
	}
	if i := strings.Index(sec, "\n## "); i >= 0 {
		sec = sec[:i]
	}
	var names []string
	inTable := false
	for line := range strings.SplitSeq(sec, "\n") {
		switch {
		case strings.HasPrefix(line, "| service |"):
			inTable = true
		case inTable && strings.HasPrefix(line, "|---"):
		case inTable && strings.HasPrefix(line, "| "):
			first := strings.Split(line, "|")[1]
			for _, m := range regexp.MustCompile("`([a-z0-9-]+)`").FindAllStringSubmatch(first, -1) {
				names = append(names, m[1])
			}
		default:
			inTable = false
		}
	}
	if len(names) == 0 {
		t.Fatal("README.md, Deploying: no table of services (| service | ... |)")
	}
	slices.Sort(names)
	return names
}
