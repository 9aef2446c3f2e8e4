package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-stomp/stomp/v3"
)

// TestComposeNative runs docker-compose.yml's topology without Docker: its
// three NATS nodes as nats-server processes (built from go.mod's module)
// with the compose file's own command lines, its two gateways with their
// environment and config, and the chat worker with its command; each
// service's address in the compose network is mapped onto a free loopback
// port, and the gateways' config gets a durable STOMP queue for the
// checks. The gateways must then behave as one (checkScaleOut), serve the
// chat page, run the chat across each other, and pass the image's
// health check with their environment. HAProxy, Prometheus and Grafana
// are not run: deploycompose_test.go and deploymonitor_test.go check
// their configs.
func TestComposeNative(t *testing.T) {
	long(t)
	p := loadCompose(t, "docker-compose.yml")
	stages := parseDockerfile(t)
	bin := t.TempDir()
	natsServer := goBuild(t, bin, "nats-server", "github.com/nats-io/nats-server/v2")
	chatWorker := goBuild(t, bin, "chat-worker", "./examples/chat/worker")

	// Every NATS node's ports, in the compose network and here.
	var nodes []string
	addrs := map[string]string{} // "nats-1:6222" → "127.0.0.1:40123"
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for n, s := range p.Services {
			if strings.HasPrefix(s.Image, "nats:") && !yield(n) {
				return
			}
		}
	}) {
		nodes = append(nodes, name)
		a := natsArgs(t, p.Services[name].Command)
		if a["--cluster"] == "" || a["--http_port"] == "" {
			t.Fatalf("%s: no --cluster or --http_port", name)
		}
		free := freeAddrs(t, 3)
		for i, pt := range []string{cmpOr(a["--port"], "4222"), port(t, a["--cluster"]), a["--http_port"]} {
			addrs[name+":"+pt] = free[i]
		}
	}
	hostPort := regexp.MustCompile(`\b([a-z0-9.-]+):(\d+)\b`)
	// here maps a service's compose command line or variable onto this
	// machine: service:port to its loopback address, and 0.0.0.0:port to
	// self's.
	here := func(self, s string) string {
		return hostPort.ReplaceAllStringFunc(s, func(m string) string {
			host, pt, _ := strings.Cut(m, ":")
			if host == "0.0.0.0" {
				host = self
			}
			if a, ok := addrs[host+":"+pt]; ok {
				return a
			}
			return m
		})
	}

	var clients []string // each node's client URL here
	var procs []*process
	for _, name := range nodes {
		a := natsArgs(t, p.Services[name].Command)
		var args []string
		for _, arg := range p.Services[name].Command {
			args = append(args, here(name, arg))
		}
		for i := range args {
			switch args[i] {
			case "--http_port":
				args[i+1] = port(t, addrs[name+":"+a["--http_port"]])
			case "--store_dir":
				args[i+1] = t.TempDir()
			}
		}
		client := addrs[name+":"+cmpOr(a["--port"], "4222")]
		clients = append(clients, "nats://"+client)
		args = append(args, "--addr", "127.0.0.1", "--port", port(t, client))
		procs = append(procs, startProcess(t, name, natsServer, args, os.Interrupt))
	}
	// The nodes are healthy, as their compose healthcheck asks, once
	// JetStream has a meta leader.
	for i, name := range nodes {
		hz := "http://" + addrs[name+":"+natsArgs(t, p.Services[name].Command)["--http_port"]] + "/healthz"
		eventually(t, 30*time.Second, func() error {
			procs[i].running(t)
			resp, err := http.Get(hz)
			if err != nil {
				return err
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("%s: %d %s", hz, resp.StatusCode, b)
			}
			return nil
		})
	}

	var gws []*gateway
	var gwEnv [][]string
	natsURL := ""
	for _, name := range []string{"wsgate-1", "wsgate-2"} {
		s := p.Services[name]
		var env []string
		for k, v := range s.Environment {
			switch k {
			case "WSGATE_CONFIG":
				file := ""
				for _, vol := range s.Volumes {
					if vol.Target == *v {
						file = vol.Source
					}
				}
				// The compose config, plus a durable STOMP queue for
				// checkScaleOut (the chat needs none).
				f := hostConfig(t, stages, file)
				b, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				if bytes.Contains(b, []byte("\nstomp:")) {
					t.Fatal("the compose config has a stomp block: merge scaleOutConfig into it")
				}
				env = append(env, k+"="+writeFile(t, "wsgate.yaml", string(b)+scaleOutConfig))
			default:
				env = append(env, k+"="+here(name, *v))
			}
			if k == "WSGATE_NATS_URL" {
				natsURL = here(name, *v)
			}
		}
		gws = append(gws, startGateway(t, gwOpts{Env: env}))
		gwEnv = append(gwEnv, env)
	}
	w := p.Services["chat-worker"]
	var wargs []string
	for _, a := range w.Command {
		wargs = append(wargs, here(w.Name, a))
	}
	worker := startProcess(t, w.Name, chatWorker, wargs, os.Interrupt)

	checkScaleOut(t, gws[0], gws[1], natsURL, len(nodes))

	t.Run("the chat page", func(t *testing.T) {
		for _, g := range gws {
			status, b := g.httpDo(t, "GET", "/", "")
			if status != http.StatusOK || !bytes.Contains(b, []byte("<title>wsgate chat</title>")) {
				t.Errorf("GET / on %s: %d %.80q", g.Addr, status, b)
			}
		}
	})

	t.Run("the chat across both gateways", func(t *testing.T) {
		worker.running(t)
		checkChat(t, gws[0], gws[1], clients)
	})

	t.Run("the image's health check", func(t *testing.T) {
		for i, g := range gws {
			cmd := exec.Command(binary, "healthcheck", "--listen", g.Addr) // the port: the harness's
			cmd.Env = append(raceEnv(), gwEnv[i]...)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("wsgate healthcheck, %s's environment: %v\n%s", g.Addr, err, out)
			}
		}
	})
}

// checkChat runs the chat example's conversation over STOMP as its page
// does: bob, on gateway b, joins a room and gets its history from the
// worker; alice, on gateway a, sees him join, and her "!time" reaches bob
// with the bot's answer. nodes are the NATS nodes' client URLs.
func checkChat(t *testing.T, a, b *gateway, nodes []string) {
	room := fmt.Sprintf("room%d", time.Now().UnixNano())
	alice, bob := dialSTOMP(t, a), dialSTOMP(t, b)
	aliceRoom, err := alice.Subscribe("/topic/chat.rooms."+room, stomp.AckAuto)
	if err != nil {
		t.Fatal(err)
	}
	bobRoom, err := bob.Subscribe("/topic/chat.rooms."+room, stomp.AckAuto)
	if err != nil {
		t.Fatal(err)
	}
	history, err := bob.Subscribe("/temp-queue/history", stomp.AckAuto)
	if err != nil {
		t.Fatal(err)
	}
	// The room's subscriptions are known on every node once a message
	// published on each reaches both.
	for _, n := range nodes {
		nc := natsConn(t, n)
		probe := []byte(`{"user":"probe","text":"` + n + `"}`)
		for _, sub := range []*stomp.Subscription{aliceRoom, bobRoom} {
			eventually(t, 10*time.Second, func() error {
				if err := nc.Publish("chat.rooms."+room, probe); err != nil {
					return err
				}
				select {
				case m := <-sub.C:
					if m.Err != nil || !bytes.Equal(m.Body, probe) {
						return fmt.Errorf("got %q, %v", m.Body, m.Err)
					}
					return nil
				case <-time.After(200 * time.Millisecond):
					return fmt.Errorf("no probe from %s", n)
				}
			})
		}
	}
	drain := func(sub *stomp.Subscription) {
		for {
			select {
			case <-sub.C:
			case <-time.After(100 * time.Millisecond):
				return
			}
		}
	}
	drain(aliceRoom)
	drain(bobRoom)

	// Bob joins: his request goes to the worker through gateway b; the
	// answer comes back to his private reply queue. Asked again until it
	// does: his reply subscription reaches the worker's node a moment
	// after his SUBSCRIBE.
	var h struct {
		Messages []json.RawMessage `json:"messages"`
		Present  []string          `json:"present"`
	}
	join := []byte(`{"room":"` + room + `","user":"bob"}`)
	eventually(t, 10*time.Second, func() error {
		if err := bob.Send("chat.history", "application/json", join, stomp.SendOpt.Header("reply-to", "/temp-queue/history")); err != nil {
			return err
		}
		select {
		case m := <-history.C:
			if m.Err != nil {
				return m.Err
			}
			return json.Unmarshal(m.Body, &h)
		case <-time.After(500 * time.Millisecond):
			return fmt.Errorf("no history for bob")
		}
	})
	if !slices.Contains(h.Present, "bob") {
		t.Errorf("history says present: %v, want bob among them", h.Present)
	}
	waitChat(t, aliceRoom, chatWant{"alice sees bob join", func(m chatMessage) bool { return m.System && m.Text == "bob joined" }})
	if err := alice.Send("/topic/chat.rooms."+room, "application/json", []byte(`{"user":"alice","text":"!time"}`)); err != nil {
		t.Fatal(err)
	}
	// Alice's message and the bot's answer come by different ways (the bot
	// is a worker on any node), in either order.
	waitChat(t, bobRoom,
		chatWant{"bob gets alice's message", func(m chatMessage) bool { return m.User == "alice" && m.Text == "!time" }},
		chatWant{"bob gets the bot's answer", func(m chatMessage) bool { return m.User == "bot" && strings.HasPrefix(m.Text, "it is ") }})
}

type chatMessage struct {
	User   string `json:"user"`
	Text   string `json:"text"`
	System bool   `json:"system"`
}

// chatWant is a chat message a test waits for: what it is, and how to
// know it.
type chatWant struct {
	name  string
	match func(chatMessage) bool
}

// waitChat reads sub until each of wants has matched a message, in any
// order; it fails after 10s.
func waitChat(t *testing.T, sub *stomp.Subscription, wants ...chatWant) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for len(wants) > 0 {
		select {
		case m := <-sub.C:
			var c chatMessage
			if m.Err != nil || json.Unmarshal(m.Body, &c) != nil {
				continue
			}
			wants = slices.DeleteFunc(wants, func(w chatWant) bool { return w.match(c) })
		case <-deadline:
			for _, w := range wants {
				t.Errorf("%s: not within 10s", w.name)
			}
			t.FailNow()
		}
	}
}

// goBuild builds a main package (a path of this repository, or a module's)
// into dir.
func goBuild(t *testing.T, dir, name, pkg string) string {
	t.Helper()
	out := filepath.Join(dir, name)
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Dir = repoRoot
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
	return out
}

// A process is a service's program, running.
type process struct {
	name   string
	cmd    *exec.Cmd
	out    *lockedBuffer
	exited chan struct{}
}

// running fails the test at once if the process has exited (a command line
// it refused, say), with what it said.
func (p *process) running(t *testing.T) {
	t.Helper()
	select {
	case <-p.exited:
		t.Fatalf("%s exited:\n%s", p.name, p.out.String())
	default:
	}
}

// startProcess runs a service's program until the test ends, then stops it
// with stop; its output is shown if the test fails.
func startProcess(t *testing.T, name, path string, args []string, stop os.Signal) *process {
	t.Helper()
	out := &lockedBuffer{}
	cmd := exec.Command(path, args...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(stop)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Signal(syscall.SIGKILL)
			<-exited
			t.Errorf("%s did not stop within 10s", name)
		}
		if t.Failed() {
			t.Logf("%s %q:\n%s", name, args, out.String())
		}
	})
	return &process{name: name, cmd: cmd, out: out, exited: exited}
}

// stop ends the process with SIGTERM and waits for it.
func (p *process) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("stop %s: %v", p.name, err)
	}
	<-p.exited
}

// kill ends the process with SIGKILL, as a crash would, and waits for it.
func (p *process) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("kill %s: %v", p.name, err)
	}
	<-p.exited
}

// lockedBuffer is a bytes.Buffer that a process's output goroutines and
// the test may share.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
