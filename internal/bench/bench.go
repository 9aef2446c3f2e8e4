package bench

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"
)

// Options of a benchmark run.
type Options struct {
	Scenarios       []string      // fanout, pairs, idle, connect, crowd, qos1, qos2
	Targets         []string      // wsgate, nats-server
	Subscribers     int           // fan-out subscribers
	Publishers      int           // pairs: publishers, each on a subject of its own
	PairSubscribers int           // pairs: subscribers on each publisher's subject
	WSPublisher     bool          // fanout: publish over WebSocket in the target's protocol, not on NATS
	Size            int           // payload bytes
	Duration        time.Duration // measuring time
	Window          int           // messages in flight per publisher; 0: the scenario's default (see window)
	Rate            int           // fan-out publishes per second; 0: as fast as the window allows
	Idle            int           // idle connections
	IdleSubscribe   bool          // subscribe each idle connection to a subject of its own
	PersistentSub   bool          // qos1/qos2: the subscriber has a persistent session
	Connects        int           // connections opened in the connect scenario
	Crowd           int           // crowd: clients joining one subject
	CrowdRate       int           // crowd: publishes per second while they join
	Concurrency     int           // dialers at once
	SIONodeDir      string        // socketio-node: the directory of its server.mjs; "": found from the working directory
	Compress        bool          // clients offer permessage-deflate; nats-server compresses too
	Filler          string        // payload filler: "x" or "records" (see filler)
	TLS             bool          // the started servers serve wss:// on a self-signed certificate
	GC              bool          // idle: the started servers collect their garbage before each memory reading
	LameDuckWindow  time.Duration // rolling: the first gateway's gateway.lame_duck_window (beside 0)
	Out             io.Writer

	// An already running gateway to measure instead of starting one.
	URL       string
	NATSURL   string
	RabbitURL string // Web-STOMP endpoint of the rabbitmq target
	Kind      string // client protocol of the external gateway
	PID       int
	PIDs      []int         // --pid with commas: every gateway's process
	Hold      time.Duration // keep the idle connections open this long (for profiling)

	cert *benchCert // --tls: the servers' certificate
}

// Run is the `wsgate bench` command.
func Run(args []string) error {
	o := Options{Out: os.Stdout}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	scen := fs.String("scenarios", "fanout,idle,connect", "comma-separated: fanout, pairs, idle, connect, crowd, qos1, qos2 (MQTT targets), calls (wsgate-wamp, wsgate), rolling (wsgate: a rolling restart's reconnect curve)")
	targets := fs.String("targets", "wsgate,nats-server", "servers to measure side by side: wsgate (JSON), wsgate-stomp, wsgate-mqtt, wsgate-wamp, wsgate-wamp-msgpack, wsgate-socketio, socketio-node (the Node socket.io server), nats-server (NATS protocol), nats-server-mqtt, rabbitmq (Web-STOMP, already running)")
	fs.IntVar(&o.Subscribers, "subscribers", 1000, "fan-out subscribers on one subject")
	fs.IntVar(&o.Size, "size", 64, "payload bytes (at least 34)")
	fs.IntVar(&o.Publishers, "publishers", 200, "pairs: publishers, each on a subject of its own")
	fs.IntVar(&o.PairSubscribers, "pair-subscribers", 1, "pairs: subscribers on each publisher's subject")
	fs.BoolVar(&o.WSPublisher, "ws-publisher", false, "fanout: publish over WebSocket in the target's protocol instead of on NATS")
	fs.DurationVar(&o.Duration, "duration", 10*time.Second, "measuring time of fanout, pairs, qos1 and qos2")
	fs.IntVar(&o.Window, "window", 0, "messages in flight per publisher (0: the scenario's default: fanout 256, pairs 10, qos1 and qos2 100)")
	fs.IntVar(&o.Rate, "rate", 0, "fan-out publishes per second (0: as fast as the window allows); latency is meaningful at a rate the server sustains")
	fs.IntVar(&o.Idle, "idle", 10000, "idle connections to hold")
	fs.BoolVar(&o.IdleSubscribe, "idle-subscribe", false, "subscribe each idle connection to a subject of its own")
	fs.BoolVar(&o.PersistentSub, "persistent-sub", false, "qos1, qos2: give the subscriber a persistent session (Clean Session 0)")
	fs.IntVar(&o.Connects, "connects", 5000, "connections to open in the connect scenario")
	fs.IntVar(&o.Crowd, "crowd", 10000, "crowd: clients that join one subject at once, then leave at once")
	fs.IntVar(&o.CrowdRate, "crowd-rate", 10, "crowd: messages per second published while the crowd joins")
	fs.IntVar(&o.Concurrency, "concurrency", 64, "connections dialled at once")
	fs.DurationVar(&o.LameDuckWindow, "lame-duck-window", 5*time.Second, "rolling: the gateway.lame_duck_window measured beside 0")
	fs.StringVar(&o.SIONodeDir, "socketio-node-dir", "", "socketio-node: `directory` of server.mjs, with its node_modules (npm ci --prefix internal/bench/socketio-node); default: "+socketIONodeDir+" in the working directory or a parent")
	fs.BoolVar(&o.Compress, "compress", false, "clients offer permessage-deflate (gorilla's EnableCompression), and nats-server's WebSocket compression is on")
	fs.StringVar(&o.Filler, "filler", "x", "what pads a payload to --size: x (one letter, which compresses to nothing) or records (JSON-like records of random values, which compress about as real JSON does)")
	fs.BoolVar(&o.TLS, "tls", false, "serve every started target (wsgate*, nats-server*) over TLS, wss://, with a self-signed certificate made for the run; clients do not verify it")
	fs.BoolVar(&o.GC, "gc", false, "idle: make each started server (wsgate*, nats-server*) collect its garbage before each memory reading, through a pprof endpoint the bench gives it, so that garbage not yet collected (TLS handshakes leave much) is not counted")
	fs.StringVar(&o.URL, "url", "", "measure the running gateway at this ws:// `URL` (target \"external\"); several, comma-separated, are the gateways of one deployment: connections are spread over them in turn (pairs: a publisher and its subscriber on different gateways)")
	fs.StringVar(&o.RabbitURL, "rabbitmq-url", "ws://127.0.0.1:15674/ws", "Web-STOMP `URL` of the rabbitmq target")
	fs.StringVar(&o.Kind, "kind", "json", "client protocol for --url: json, stomp, mqtt, wamp, wamp-msgpack, socketio (a ws:// URL with /socket.io/?EIO=4&transport=websocket) or nats")
	fs.StringVar(&o.NATSURL, "nats", "", "NATS `URL` of the external gateway")
	pids := fs.String("pid", "", "process id of the external gateway, for its CPU and memory; with several --url gateways, their ids, comma-separated, whose CPU and memory add up")
	fs.DurationVar(&o.Hold, "hold", 0, "hold idle connections open this long before closing (for profiling)")
	if err := fs.Parse(args); err != nil {
		return err // flag.ErrHelp too: `wsgate bench -h` prints its help and exits 0
	}
	for _, p := range strings.Split(*pids, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		n, err := strconv.Atoi(p)
		if err != nil || n <= 0 {
			return fmt.Errorf("--pid: %q is not a process id", p)
		}
		o.PIDs = append(o.PIDs, n)
	}
	if len(o.PIDs) > 0 {
		o.PID = o.PIDs[0]
	}
	o.Scenarios = strings.Split(*scen, ",")
	o.Targets = strings.Split(*targets, ",")
	if o.URL != "" {
		o.Targets = []string{"external"}
	}
	if o.Filler != "x" && o.Filler != "records" {
		return fmt.Errorf("--filler: %q is not x or records", o.Filler)
	}
	if o.TLS {
		c, err := newBenchCert()
		if err != nil {
			return err
		}
		defer c.remove()
		o.cert = c
	}
	return o.run()
}

// servers is how the bench starts its servers.
func (o *Options) servers() serverOpts { return serverOpts{cert: o.cert, gc: o.GC} }

// window is the --window a scenario uses: the flag, or when it is 0 the
// scenario's default.
func (o *Options) window(scenario string) int {
	if o.Window != 0 {
		return o.Window
	}
	switch scenario {
	case "pairs":
		return 10
	case "qos":
		return 100
	}
	return 256
}

// result is one scenario's figures for one target.
type result struct {
	target, scenario string
	params           string // how it was run, for the result line (window, publisher)
	figures          []figure
}

type figure struct {
	name  string
	value float64
	unit  string
}

func (o *Options) run() error {
	var results []result
	for _, sc := range o.Scenarios {
		for _, tn := range o.Targets {
			r, err := o.runOne(strings.TrimSpace(sc), strings.TrimSpace(tn))
			if err != nil {
				if len(r.figures) > 0 { // what was measured before it failed
					printResult(o.Out, r)
				}
				return fmt.Errorf("%s on %s: %w", sc, tn, err)
			}
			results = append(results, r)
			printResult(o.Out, r)
		}
	}
	printRatios(o.Out, results)
	return nil
}

func (o *Options) runOne(scenario, targetName string) (result, error) {
	var t *target
	var err error
	switch targetName {
	case "wsgate":
		dir, derr := os.MkdirTemp("", "wsgate-bench")
		if derr != nil {
			return result{}, derr
		}
		defer os.RemoveAll(dir)
		t, err = startWsgate(dir, "", o.servers())
	case "wsgate-stomp":
		dir, derr := os.MkdirTemp("", "wsgate-bench")
		if derr != nil {
			return result{}, derr
		}
		defer os.RemoveAll(dir)
		if t, err = startWsgate(dir, "", o.servers()); err == nil {
			t.name, t.kind, t.wsURL = "wsgate-stomp", "stomp", t.wsURL+"stomp"
		}
	case "wsgate-mqtt":
		dir, derr := os.MkdirTemp("", "wsgate-bench")
		if derr != nil {
			return result{}, derr
		}
		defer os.RemoveAll(dir)
		if t, err = startWsgate(dir, "", o.servers()); err == nil {
			t.name, t.kind, t.wsURL = "wsgate-mqtt", "mqtt", t.wsURL+"mqtt"
		}
	case "wsgate-wamp":
		dir, derr := os.MkdirTemp("", "wsgate-bench")
		if derr != nil {
			return result{}, derr
		}
		defer os.RemoveAll(dir)
		if t, err = startWsgate(dir, "", o.servers()); err == nil {
			t.name, t.kind, t.wsURL = "wsgate-wamp", "wamp", t.wsURL+"wamp"
		}
	case "wsgate-wamp-msgpack":
		dir, derr := os.MkdirTemp("", "wsgate-bench")
		if derr != nil {
			return result{}, derr
		}
		defer os.RemoveAll(dir)
		if t, err = startWsgate(dir, "", o.servers()); err == nil {
			t.name, t.kind, t.wsURL = "wsgate-wamp-msgpack", kindWAMPMsgpack, t.wsURL+"wamp"
		}
	case "wsgate-socketio":
		dir, derr := os.MkdirTemp("", "wsgate-bench")
		if derr != nil {
			return result{}, derr
		}
		defer os.RemoveAll(dir)
		t, err = startSocketIO(dir, o.servers())
	case "socketio-node":
		if o.TLS {
			return result{}, errors.New("socketio-node: no --tls")
		}
		t, err = startSocketIONode(o.SIONodeDir)
	case "nats-server-mqtt":
		if t, err = startNATSReference(o.Compress, o.servers()); err == nil {
			t.name, t.kind, t.wsURL = "nats-server-mqtt", "mqtt", t.wsURL+"mqtt"
		}
	case "rabbitmq":
		if o.TLS {
			return result{}, errors.New("rabbitmq: no --tls (measure a wss:// endpoint with --url)")
		}
		// A RabbitMQ with rabbitmq_web_stomp, started beforehand (README).
		pid, perr := pidOf("beam.smp")
		if perr != nil {
			return result{}, fmt.Errorf("rabbitmq: %w (start it first, see README)", perr)
		}
		t = &target{name: "rabbitmq", kind: "stomp", wsURL: o.RabbitURL, pid: pid}
	case "nats-server":
		t, err = startNATSReference(o.Compress, o.servers())
	case "external":
		urls := strings.Split(o.URL, ",")
		t = &target{name: "external", kind: o.Kind, wsURL: urls[0], natsURL: o.NATSURL, pid: o.PID, pids: o.PIDs}
		if len(urls) > 1 {
			t.urls = urls
		}
	default:
		return result{}, fmt.Errorf("unknown target %q", targetName)
	}
	if err != nil {
		return result{}, err
	}
	defer t.stop()
	t.compress = o.Compress
	r := result{target: t.name, scenario: scenario}
	switch scenario {
	case "fanout":
		r.figures, r.params, err = o.fanout(t)
	case "pairs":
		r.figures, r.params, err = o.pairs(t)
	case "idle":
		r.figures, err = o.idle(t)
	case "connect":
		r.figures, err = o.connect(t)
	case "crowd":
		r.figures, r.params, err = o.crowd(t)
	case "qos1":
		r.params = fmt.Sprintf("window=%d", o.window("qos"))
		r.figures, err = o.qos(t, 1)
	case "qos2":
		r.params = fmt.Sprintf("window=%d", o.window("qos"))
		r.figures, err = o.qos(t, 2)
	case "calls":
		r.figures, err = o.calls(t)
	case "rolling":
		r.figures, r.params, err = o.rolling(t)
	default:
		err = fmt.Errorf("unknown scenario %q", scenario)
	}
	return r, err
}

// openConns dials n connections, concurrency at a time, optionally
// subscribing each.
func (o *Options) openConns(t *target, n int, subject func(i int) string) ([]*conn, time.Duration, error) {
	return o.openConnsWith(dial, t, n, subject)
}

// openConnsWith is openConns with the dial function dialFn.
func (o *Options) openConnsWith(dialFn func(context.Context, *target) (*conn, error), t *target, n int, subject func(i int) string) ([]*conn, time.Duration, error) {
	conns := make([]*conn, n)
	g, ctx := errgroup.WithContext(context.Background())
	g.SetLimit(o.Concurrency)
	start := time.Now()
	for i := range n {
		g.Go(func() error {
			c, err := dialFn(ctx, t.at(i))
			if err != nil {
				return fmt.Errorf("connection %d: %w", i, err)
			}
			conns[i] = c
			if subject != nil {
				return c.subscribe(subject(i))
			}
			return nil
		})
	}
	err := g.Wait()
	elapsed := time.Since(start)
	if err != nil {
		closeAll(conns)
	}
	return conns, elapsed, err
}

func closeAll(conns []*conn) {
	for _, c := range conns {
		if c != nil {
			c.close()
		}
	}
}

// cpuOf is the CPU time the target's processes have used.
func cpuOf(t *target) (sum time.Duration) {
	for _, pid := range t.allPIDs() {
		d, _ := procCPU(pid)
		sum += d
	}
	return sum
}

// rssOf is the target's processes' resident memory, added up.
func rssOf(t *target) (sum int64) {
	for _, pid := range t.allPIDs() {
		rss, _ := procRSS(pid)
		sum += rss
	}
	return sum
}

// idle measures the memory each open, subscribed, quiet connection costs.
func (o *Options) idle(t *target) ([]figure, error) {
	var gcErr error
	settle := func() int64 {
		if err := t.collectGarbage(); err != nil {
			gcErr = err
		}
		time.Sleep(3 * time.Second)
		return rssOf(t)
	}
	before := settle()
	m0 := goMemory(t)
	var subject func(int) string
	if o.IdleSubscribe {
		subject = func(i int) string { return fmt.Sprintf("bench.idle.%d", i) }
	}
	conns, _, err := o.openConns(t, o.Idle, subject)
	if err != nil {
		return nil, err
	}
	defer closeAll(conns)
	after := settle()
	m1 := goMemory(t)
	if gcErr != nil {
		return nil, gcErr
	}
	time.Sleep(o.Hold)
	n := float64(o.Idle)
	figs := []figure{
		{"connections", n, ""},
		{"RSS before", float64(before) / (1 << 20), "MiB"},
		{"RSS after", float64(after) / (1 << 20), "MiB"},
		{"RSS per connection", float64(after-before) / n / 1024, "KiB"},
	}
	for _, k := range []string{"go_memstats_heap_inuse_bytes", "go_memstats_stack_inuse_bytes", "go_goroutines"} {
		if v0, ok := m0[k]; ok {
			unit, div := "KiB", 1024.0
			if k == "go_goroutines" {
				unit, div = "", 1
			}
			figs = append(figs, figure{k + " per connection", (m1[k] - v0) / n / div, unit})
		}
	}
	return figs, nil
}

// connect measures how fast new connections are accepted. A Socket.IO
// target is measured twice: over a WebSocket from the start, then as
// socket.io-client connects by default, over HTTP long-polling upgraded to
// a WebSocket (dialSIOPolling).
func (o *Options) connect(t *target) ([]figure, error) {
	conns, elapsed, err := o.openConns(t, o.Connects, nil)
	if err != nil {
		return nil, err
	}
	closeAll(conns)
	figs := []figure{
		{"connections", float64(o.Connects), ""},
		{"connections/s", float64(o.Connects) / elapsed.Seconds(), ""},
	}
	if t.kind != "socketio" {
		return figs, nil
	}
	time.Sleep(2 * time.Second) // let the server close the first batch
	conns, elapsed, err = o.openConnsWith(dialSIOPolling, t, o.Connects, nil)
	sioHTTP.CloseIdleConnections()
	if err != nil {
		return figs, fmt.Errorf("polling+upgrade: %w", err)
	}
	closeAll(conns)
	return append(figs, figure{"polling connections/s", float64(o.Connects) / elapsed.Seconds(), ""}), nil
}

func printResult(w io.Writer, r result) {
	fmt.Fprintf(w, "%-8s %-16s", r.scenario, r.target)
	if r.params != "" {
		fmt.Fprintf(w, "  %s", r.params)
	}
	for _, f := range r.figures {
		fmt.Fprintf(w, "  %s=%.1f%s", f.name, f.value, f.unit)
	}
	fmt.Fprintln(w)
}

// printRatios compares wsgate with nats-server for each figure.
func printRatios(w io.Writer, rs []result) {
	by := map[string]map[string]float64{}
	for _, r := range rs {
		for _, f := range r.figures {
			k := r.scenario + " " + f.name
			if by[k] == nil {
				by[k] = map[string]float64{}
			}
			by[k][r.target] = f.value
		}
	}
	for _, pair := range [][2]string{{"wsgate", "nats-server"}, {"wsgate-mqtt", "nats-server-mqtt"}, {"wsgate-stomp", "wsgate"}, {"wsgate-wamp", "wsgate"}, {"wsgate-wamp-msgpack", "wsgate"}, {"wsgate-socketio", "wsgate"}, {"wsgate-socketio", "socketio-node"}, {"wsgate-stomp", "rabbitmq"}} {
		header := false
		for _, r := range rs {
			if r.target != pair[0] {
				continue
			}
			for _, f := range r.figures {
				k := r.scenario + " " + f.name
				ref, ok := by[k][pair[1]]
				if !ok || ref == 0 {
					continue
				}
				if !header {
					fmt.Fprintf(w, "\n%s / %s:\n", pair[0], pair[1])
					header = true
				}
				fmt.Fprintf(w, "  %-32s %.2fx\n", k, f.value/ref)
			}
		}
	}
}
