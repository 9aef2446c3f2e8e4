package bench

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"github.com/gorilla/websocket"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"golang.org/x/sync/errgroup"
)

// Options of a benchmark run.
type Options struct {
	Scenarios     []string      // fanout, idle, connect
	Targets       []string      // wsgate, nats-server
	Subscribers   int           // fan-out subscribers
	Size          int           // payload bytes
	Duration      time.Duration // fan-out measuring time
	Window        int           // fan-out messages in flight
	Rate          int           // fan-out publishes per second; 0: as fast as the window allows
	Idle          int           // idle connections
	IdleSubscribe bool          // subscribe each idle connection to a subject of its own
	PersistentSub bool          // qos1/qos2: the subscriber has a persistent session
	Connects      int           // connections opened in the connect scenario
	Concurrency   int           // dialers at once
	Out           io.Writer

	// An already running gateway to measure instead of starting one.
	URL       string
	NATSURL   string
	RabbitURL string // Web-STOMP endpoint of the rabbitmq target
	Kind      string // client protocol of the external gateway
	PID       int
	Hold      time.Duration // keep the idle connections open this long (for profiling)
}

// Run is the `wsgate bench` command.
func Run(args []string) error {
	o := Options{Out: os.Stdout}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	scen := fs.String("scenarios", "fanout,idle,connect", "comma-separated: fanout, idle, connect, qos1, qos2 (MQTT targets), calls (wsgate-wamp)")
	targets := fs.String("targets", "wsgate,nats-server", "servers to measure side by side: wsgate (JSON), wsgate-stomp, wsgate-mqtt, wsgate-wamp, nats-server (NATS protocol), nats-server-mqtt, rabbitmq (Web-STOMP, already running)")
	fs.IntVar(&o.Subscribers, "subscribers", 1000, "fan-out subscribers on one subject")
	fs.IntVar(&o.Size, "size", 64, "payload bytes (at least 34)")
	fs.DurationVar(&o.Duration, "duration", 10*time.Second, "fan-out measuring time")
	fs.IntVar(&o.Window, "window", 256, "fan-out messages in flight")
	fs.IntVar(&o.Rate, "rate", 0, "fan-out publishes per second (0: as fast as the window allows); latency is meaningful at a rate the server sustains")
	fs.IntVar(&o.Idle, "idle", 10000, "idle connections to hold")
	fs.BoolVar(&o.IdleSubscribe, "idle-subscribe", false, "subscribe each idle connection to a subject of its own")
	fs.BoolVar(&o.PersistentSub, "persistent-sub", false, "qos1, qos2: give the subscriber a persistent session (Clean Session 0)")
	fs.IntVar(&o.Connects, "connects", 5000, "connections to open in the connect scenario")
	fs.IntVar(&o.Concurrency, "concurrency", 64, "connections dialled at once")
	fs.StringVar(&o.URL, "url", "", "measure the running gateway at this ws:// `URL` (target \"external\")")
	fs.StringVar(&o.RabbitURL, "rabbitmq-url", "ws://127.0.0.1:15674/ws", "Web-STOMP `URL` of the rabbitmq target")
	fs.StringVar(&o.Kind, "kind", "json", "client protocol for --url: json, stomp, mqtt, wamp or nats")
	fs.StringVar(&o.NATSURL, "nats", "", "NATS `URL` of the external gateway")
	fs.IntVar(&o.PID, "pid", 0, "process id of the external gateway, for its CPU and memory")
	fs.DurationVar(&o.Hold, "hold", 0, "hold idle connections open this long before closing (for profiling)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	o.Scenarios = strings.Split(*scen, ",")
	o.Targets = strings.Split(*targets, ",")
	if o.URL != "" {
		o.Targets = []string{"external"}
	}
	return o.run()
}

// result is one scenario's figures for one target.
type result struct {
	target, scenario string
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
		t, err = startWsgate(dir, nil)
	case "wsgate-stomp":
		dir, derr := os.MkdirTemp("", "wsgate-bench")
		if derr != nil {
			return result{}, derr
		}
		defer os.RemoveAll(dir)
		if t, err = startWsgate(dir, nil); err == nil {
			t.name, t.kind, t.wsURL = "wsgate-stomp", "stomp", t.wsURL+"stomp"
		}
	case "wsgate-mqtt":
		dir, derr := os.MkdirTemp("", "wsgate-bench")
		if derr != nil {
			return result{}, derr
		}
		defer os.RemoveAll(dir)
		if t, err = startWsgate(dir, nil); err == nil {
			t.name, t.kind, t.wsURL = "wsgate-mqtt", "mqtt", t.wsURL+"mqtt"
		}
	case "wsgate-wamp":
		dir, derr := os.MkdirTemp("", "wsgate-bench")
		if derr != nil {
			return result{}, derr
		}
		defer os.RemoveAll(dir)
		if t, err = startWsgate(dir, nil); err == nil {
			t.name, t.kind, t.wsURL = "wsgate-wamp", "wamp", t.wsURL+"wamp"
		}
	case "nats-server-mqtt":
		if t, err = startNATSReference(); err == nil {
			t.name, t.kind, t.wsURL = "nats-server-mqtt", "mqtt", t.wsURL+"mqtt"
		}
	case "rabbitmq":
		// A RabbitMQ with rabbitmq_web_stomp, started beforehand (README).
		pid, perr := pidOf("beam.smp")
		if perr != nil {
			return result{}, fmt.Errorf("rabbitmq: %w (start it first, see README)", perr)
		}
		t = &target{name: "rabbitmq", kind: "stomp", wsURL: o.RabbitURL, pid: pid}
	case "nats-server":
		t, err = startNATSReference()
	case "external":
		t = &target{name: "external", kind: o.Kind, wsURL: o.URL, natsURL: o.NATSURL, pid: o.PID}
	default:
		return result{}, fmt.Errorf("unknown target %q", targetName)
	}
	if err != nil {
		return result{}, err
	}
	defer t.stop()
	r := result{target: t.name, scenario: scenario}
	switch scenario {
	case "fanout":
		r.figures, err = o.fanout(t)
	case "idle":
		r.figures, err = o.idle(t)
	case "connect":
		r.figures, err = o.connect(t)
	case "qos1":
		r.figures, err = o.qos(t, 1)
	case "qos2":
		r.figures, err = o.qos(t, 2)
	case "calls":
		r.figures, err = o.calls(t)
	default:
		err = fmt.Errorf("unknown scenario %q", scenario)
	}
	return r, err
}

// openConns dials n connections, concurrency at a time, optionally
// subscribing each.
func (o *Options) openConns(t *target, n int, subject func(i int) string) ([]*conn, time.Duration, error) {
	conns := make([]*conn, n)
	g, ctx := errgroup.WithContext(context.Background())
	g.SetLimit(o.Concurrency)
	start := time.Now()
	for i := range n {
		g.Go(func() error {
			c, err := dial(ctx, t)
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

// fanout measures one publisher to many subscribers on one subject.
func (o *Options) fanout(t *target) ([]figure, error) {
	const subject = "bench.fanout"
	n := o.Subscribers
	conns, _, err := o.openConns(t, n, func(int) string { return subject })
	if err != nil {
		return nil, err
	}
	defer closeAll(conns)

	w := o.Window
	slots := make([]atomic.Int32, w)
	tokens := make(chan struct{}, w)
	for range w {
		tokens <- struct{}{}
	}
	var hist histogram
	counts := make([]atomic.Uint64, n)
	var readers sync.WaitGroup
	for i, c := range conns {
		readers.Add(1)
		go func() {
			defer readers.Done()
			k := 0
			_ = c.readPayloads(func(p []byte) {
				seq, sent, ok := parsePayload(p)
				if !ok {
					return
				}
				counts[i].Add(1)
				if k++; k%8 == 0 {
					hist.record(time.Duration(time.Now().UnixNano() - sent))
				}
				if slots[seq%uint64(w)].Add(1) == int32(n) {
					slots[seq%uint64(w)].Store(0)
					tokens <- struct{}{}
				}
			})
		}()
	}

	send, closePub, err := o.publisher(t, subject)
	if err != nil {
		return nil, err
	}
	defer closePub()

	var published uint64
	var stalled bool
	publish := func(until time.Time) {
		start, sent := time.Now(), 0
		for time.Now().Before(until) {
			if o.Rate > 0 {
				next := start.Add(time.Duration(sent) * time.Second / time.Duration(o.Rate))
				if d := time.Until(next); d > 0 {
					time.Sleep(d)
				}
				sent++
			}
			select {
			case <-tokens:
			case <-time.After(5 * time.Second):
				stalled = true
				return
			}
			if err := send(makePayload(o.Size, published, time.Now().UnixNano())); err != nil {
				stalled = true
				return
			}
			published++
		}
	}
	publish(time.Now().Add(time.Second)) // warm up
	if stalled {
		return nil, errors.New("deliveries stalled during warm-up: messages were lost")
	}
	sum := func() (s uint64) {
		for i := range counts {
			s += counts[i].Load()
		}
		return s
	}
	hist = histogram{}
	d0, cpu0 := sum(), cpuOf(t)
	start := time.Now()
	publish(start.Add(o.Duration))
	elapsed := time.Since(start)
	d1, cpu1 := sum(), cpuOf(t)
	// Let what is in flight arrive, then count losses.
	deadline := time.Now().Add(5 * time.Second)
	for sum() < published*uint64(n) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	lost := published*uint64(n) - sum()
	closeAll(conns)
	readers.Wait()

	deliveries := float64(d1 - d0)
	figs := []figure{
		{"deliveries/s", deliveries / elapsed.Seconds(), ""},
		{"p50 latency", float64(hist.percentile(0.50).Microseconds()), "µs"},
		{"p99 latency", float64(hist.percentile(0.99).Microseconds()), "µs"},
		{"lost", float64(lost), "deliveries"},
	}
	if cpu1 > 0 {
		figs = append(figs, figure{"server CPU/delivery", float64((cpu1 - cpu0).Nanoseconds()) / deliveries / 1000, "µs"})
	}
	if stalled {
		figs = append(figs, figure{"stalled", 1, ""})
	}
	return figs, nil
}

// publisher publishes on NATS, or, for a server without NATS (RabbitMQ),
// with STOMP SEND frames on a connection of its own.
func (o *Options) publisher(t *target, subject string) (send func([]byte) error, closeFn func(), err error) {
	if t.natsURL != "" {
		nc, err := nats.Connect(t.natsURL, nats.Name("wsgate-bench-publisher"))
		if err != nil {
			return nil, nil, err
		}
		return func(p []byte) error { return nc.Publish(subject, p) }, nc.Close, nil
	}
	c, err := dial(context.Background(), t)
	if err != nil {
		return nil, nil, err
	}
	head := "SEND\ndestination:/topic/" + subject + "\ncontent-length:"
	return func(p []byte) error {
		f := make([]byte, 0, len(head)+len(p)+8)
		f = append(f, head...)
		f = strconv.AppendInt(f, int64(len(p)), 10)
		f = append(f, "\n\n"...)
		f = append(f, p...)
		f = append(f, 0)
		return c.ws.WriteMessage(websocket.TextMessage, f)
	}, c.close, nil
}

func cpuOf(t *target) time.Duration {
	if t.pid == 0 {
		return 0
	}
	d, _ := procCPU(t.pid)
	return d
}

// idle measures the memory each open, subscribed, quiet connection costs.
func (o *Options) idle(t *target) ([]figure, error) {
	settle := func() int64 {
		time.Sleep(3 * time.Second)
		rss, _ := procRSS(t.pid)
		return rss
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

// connect measures how fast new connections are accepted.
func (o *Options) connect(t *target) ([]figure, error) {
	conns, elapsed, err := o.openConns(t, o.Connects, nil)
	if err != nil {
		return nil, err
	}
	closeAll(conns)
	return []figure{
		{"connections", float64(o.Connects), ""},
		{"connections/s", float64(o.Connects) / elapsed.Seconds(), ""},
	}, nil
}

func printResult(w io.Writer, r result) {
	fmt.Fprintf(w, "%-8s %-12s", r.scenario, r.target)
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
	for _, pair := range [][2]string{{"wsgate", "nats-server"}, {"wsgate-mqtt", "nats-server-mqtt"}, {"wsgate-stomp", "wsgate"}, {"wsgate-stomp", "rabbitmq"}} {
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
