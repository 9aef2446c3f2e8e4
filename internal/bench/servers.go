package bench

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	_ "net/http/pprof" // --gc collects the reference server's garbage through it
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// target is one server under test.
type target struct {
	name     string // "wsgate" or "nats-server"
	kind     string // client protocol: "json" or "nats"
	wsURL    string
	natsURL  string
	pid      int    // 0 when the server is not ours to measure
	compress bool   // clients offer permessage-deflate (--compress)
	pprof    string // address of the server's pprof endpoint, for --gc; "" without
	cmd      *exec.Cmd

	// An external deployment of several gateways (--url with commas):
	// every gateway's WebSocket URL, wsURL first, over which connections
	// are spread by their index, and every gateway's process id, whose
	// CPU and memory add up.
	urls []string
	pids []int
}

// at is the target connection i dials: t itself, or, over several
// gateways, t with the i-th URL (round robin).
func (t *target) at(i int) *target {
	if len(t.urls) < 2 {
		return t
	}
	c := *t
	c.wsURL = t.urls[i%len(t.urls)]
	return &c
}

// shifted is t with its gateways rotated by k, so that connection i of
// one group lands on another gateway than connection i of another group
// (pairs: a publisher and its subscriber).
func (t *target) shifted(k int) *target {
	if len(t.urls) < 2 {
		return t
	}
	c := *t
	c.urls = append(slices.Clone(t.urls[k%len(t.urls):]), t.urls[:k%len(t.urls)]...)
	return &c
}

// allPIDs are the processes whose CPU and memory a figure counts.
func (t *target) allPIDs() []int {
	if len(t.pids) > 0 {
		return t.pids
	}
	if t.pid != 0 {
		return []int{t.pid}
	}
	return nil
}

// serverOpts is how the bench starts its servers.
type serverOpts struct {
	cert *benchCert // TLS on the WebSocket port (--tls)
	gc   bool       // a pprof endpoint, through which the bench collects the server's garbage (--gc)
}

// pprofEnv gives cmd a pprof endpoint (WSGATE_PPROF) when so.gc is set and
// returns its address.
func (so serverOpts) pprofEnv(cmd *exec.Cmd) (string, error) {
	if !so.gc {
		return "", nil
	}
	addr, err := freePort()
	if err != nil {
		return "", err
	}
	cmd.Env = append(os.Environ(), "WSGATE_PPROF="+addr)
	return addr, nil
}

// collectGarbage makes the server run a garbage collection (through its
// pprof endpoint, whose heap profile with gc=1 does); nothing without --gc.
func (t *target) collectGarbage() error {
	if t.pprof == "" {
		return nil
	}
	resp, err := httpClient.Get("http://" + t.pprof + "/debug/pprof/heap?gc=1")
	if err != nil {
		return fmt.Errorf("--gc: %w", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return nil
}

func (t *target) stop() {
	if t.cmd == nil || t.cmd.Process == nil {
		return
	}
	_ = t.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = t.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = t.cmd.Process.Kill()
		<-done
	}
}

// twoPorts finds free loopback addresses for a WebSocket and a NATS port.
func twoPorts() (ws, nt string, err error) {
	if ws, err = freePort(); err == nil {
		nt, err = freePort()
	}
	return ws, nt, err
}

func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// startWsgate runs this binary as a gateway with embedded NATS, with config
// (YAML, may be empty) and so.
func startWsgate(dataDir, config string, so serverOpts) (*target, error) {
	return startWsgateOn(dataDir, config, "", so)
}

// startWsgateOn is startWsgate on the NATS at natsURL ("": embedded).
func startWsgateOn(dataDir, config, natsURL string, so serverOpts) (*target, error) {
	cert := so.cert
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	ws, nt, err := twoPorts()
	if err != nil {
		return nil, err
	}
	args := []string{"run", "--listen", ws, "--nats-listen", nt, "--data-dir", dataDir, "--log-level", "error"}
	if natsURL != "" {
		args = []string{"run", "--listen", ws, "--nats-url", natsURL, "--log-level", "error"}
		nt = strings.TrimPrefix(natsURL, "nats://")
	}
	if cert != nil {
		config += cert.yaml()
	}
	if config != "" {
		file := filepath.Join(dataDir, "wsgate.yaml")
		if err := os.WriteFile(file, []byte(config), 0o600); err != nil {
			return nil, err
		}
		args = append(args, "--config", file)
	}
	cmd := exec.Command(self, args...)
	cmd.Stderr = os.Stderr
	pp, err := so.pprofEnv(cmd)
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	scheme := "ws://"
	if cert != nil {
		scheme = "wss://"
	}
	t := &target{name: "wsgate", kind: "json", wsURL: scheme + ws + "/", natsURL: "nats://" + nt, pid: cmd.Process.Pid, pprof: pp, cmd: cmd}
	base, _ := httpBase(t.wsURL)
	if err := waitHTTP(base+"/readyz", 20*time.Second); err != nil {
		t.stop()
		return nil, fmt.Errorf("wsgate did not get ready: %w", err)
	}
	return t, nil
}

// startNATSReference runs this binary's hidden bench-nats-server command:
// nats-server with its WebSocket listener, no auth; compress turns its
// WebSocket compression on.
func startNATSReference(compress bool, so serverOpts) (*target, error) {
	cert := so.cert
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	ws, nt, err := twoPorts()
	if err != nil {
		return nil, err
	}
	args := []string{"bench-nats-server", "--listen", nt, "--ws", ws}
	if compress {
		args = append(args, "--compress")
	}
	scheme := "ws://"
	if cert != nil {
		args = append(args, "--tls-cert", cert.certFile, "--tls-key", cert.keyFile)
		scheme = "wss://"
	}
	cmd := exec.Command(self, args...)
	pp, err := so.pprofEnv(cmd)
	if err != nil {
		return nil, err
	}
	if err := startReady(cmd, "nats-server reference"); err != nil {
		return nil, err
	}
	return &target{name: "nats-server", kind: "nats", wsURL: scheme + ws + "/", natsURL: "nats://" + nt, pid: cmd.Process.Pid, pprof: pp, cmd: cmd}, nil
}

// startReady starts a peer server and waits, at most 20 s, for the line
// "ready" on its standard output, its sign that it accepts connections.
// Its standard error is ours.
func startReady(cmd *exec.Cmd, name string) error {
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if sc.Text() == "ready" {
				close(ready)
			}
		}
	}()
	select {
	case <-ready:
		return nil
	case <-time.After(20 * time.Second):
		(&target{cmd: cmd}).stop()
		return errors.New(name + " did not get ready")
	}
}

func waitHTTP(url string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		resp, err := httpClient.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
			err = fmt.Errorf("HTTP %d", resp.StatusCode)
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// RunNATSReference is the hidden `wsgate bench-nats-server` command: a
// nats-server with a WebSocket listener (TLS with --tls-cert), for
// side-by-side benchmarks. It
// prints "ready" on stdout when it accepts connections and stops on SIGTERM.
func RunNATSReference(args []string) error {
	fs := flag.NewFlagSet("bench-nats-server", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:4333", "client `address`")
	ws := fs.String("ws", "127.0.0.1:8433", "WebSocket `address`")
	compress := fs.Bool("compress", false, "answer permessage-deflate offers")
	certFile := fs.String("tls-cert", "", "PEM certificate `file` of the WebSocket listener (with --tls-key; default: no TLS)")
	keyFile := fs.String("tls-key", "", "PEM key `file` of the WebSocket listener")
	if err := fs.Parse(args); err != nil {
		return err
	}
	host, port, err := net.SplitHostPort(*listen)
	if err != nil {
		return err
	}
	wsHost, wsPort, err := net.SplitHostPort(*ws)
	if err != nil {
		return err
	}
	mq, err := freePort()
	if err != nil {
		return err
	}
	mqHost, mqPort, _ := net.SplitHostPort(mq)
	dir, err := os.MkdirTemp("", "nats-ref")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	// MQTT needs JetStream and a server name; its WebSocket clients use the
	// websocket port with the mqtt subprotocol.
	opts := &server.Options{Host: host, NoSigs: true, MaxPending: 256 << 20,
		ServerName: "bench-ref", JetStream: true, StoreDir: dir}
	opts.MQTT.Host = mqHost
	opts.MQTT.Port, _ = strconv.Atoi(mqPort)
	opts.Port, _ = strconv.Atoi(port)
	opts.Websocket.Host = wsHost
	opts.Websocket.Port, _ = strconv.Atoi(wsPort)
	opts.Websocket.NoTLS = true
	if *certFile != "" {
		cert, err := tls.LoadX509KeyPair(*certFile, *keyFile)
		if err != nil {
			return fmt.Errorf("--tls-cert: %w", err)
		}
		opts.Websocket.NoTLS = false
		opts.Websocket.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	}
	opts.Websocket.Compression = *compress
	srv, err := server.NewServer(opts)
	if err != nil {
		return err
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		return errors.New("nats-server not ready")
	}
	if addr := os.Getenv("WSGATE_PPROF"); addr != "" {
		// The bench's --gc: net/http/pprof's handlers on the default mux,
		// listening before "ready".
		pln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("pprof: %w", err)
		}
		defer pln.Close()
		go func() { _ = http.Serve(pln, nil) }()
	}
	fmt.Println("ready")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	srv.Shutdown()
	srv.WaitForShutdown()
	return nil
}
