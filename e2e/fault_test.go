package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	"github.com/go-stomp/stomp/v3"
	"github.com/gorilla/websocket"
	"github.com/nats-io/nats.go/jetstream"
)

// TestFaultNATSNodeKilled: on a three-node JetStream cluster with
// stream_replicas 3, two gateways under load (MQTT QoS 1 into a persistent
// session on the other gateway, STOMP sends with receipts into a durable
// queue read on the other gateway) lose no acknowledged message when a
// NATS node that is not the JetStream meta leader is killed (SIGKILL).
func TestFaultNATSNodeKilled(t *testing.T) {
	long(t)
	runFault(t, faultKill)
}

// TestFaultMetaLeaderKilled is TestFaultNATSNodeKilled with the JetStream
// meta leader killed: the other two nodes elect a new one.
func TestFaultMetaLeaderKilled(t *testing.T) {
	long(t)
	runFault(t, faultKillLeader)
}

// TestFaultNATSNodeStopped is TestFaultNATSNodeKilled with the node
// stopped (SIGSTOP) for 5 s, longer than the gateways' NATS ping interval
// (1 s here) allows, and then continued (SIGCONT): a node that hangs
// without closing its connections.
func TestFaultNATSNodeStopped(t *testing.T) {
	long(t)
	runFault(t, faultStop)
}

// The faults runFault makes.
const (
	faultKill       = iota // SIGKILL a node that is not the meta leader
	faultKillLeader        // SIGKILL the meta leader
	faultStop              // SIGSTOP a node for faultStopped, then SIGCONT
)

const faultStopped = 5 * time.Second

const faultConfig = `
nats:
  stream_replicas: 3
  ping_interval: 1s
stomp:
  durable_queues: ["/queue/fault"]
  durable_ack_wait: 5s
`

// runFault runs the load, kills a node (the meta leader or another) after
// faultBefore, goes on for faultAfter, then checks that everything
// acknowledged was delivered.
func runFault(t *testing.T, fault int) {
	killLeader := fault == faultKillLeader
	const faultBefore, faultAfter = 3 * time.Second, 6 * time.Second
	nodes := startNATSCluster(t, 3)
	var urls []string
	for _, n := range nodes {
		urls = append(urls, n.url)
	}
	natsURL := strings.Join(urls, ",")
	a := startGateway(t, gwOpts{NATSURL: natsURL, Config: faultConfig})
	b := startGateway(t, gwOpts{NATSURL: natsURL, Config: faultConfig})

	// The MQTT subscriber: a persistent session on B, QoS 1.
	sub := newFaultMQTT(t, b, "fault-sub")
	sub.subscribe(t, "fault/mqtt/#") // not "fault", the STOMP queue's subject
	js, err := jetstream.New(natsConn(t, natsURL))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	info, err := js.Stream(ctx, "WSGATE_MQTT_MSGS")
	cancel()
	if err != nil {
		t.Fatalf("the MQTT messages stream: %v", err)
	}
	if r := info.CachedInfo().Config.Replicas; r != 3 {
		t.Fatalf("WSGATE_MQTT_MSGS has %d replicas, want 3", r)
	}
	pub := newFaultMQTT(t, a, "fault-pub")
	// The session's consumer is known on A a moment after SUBACK: once a
	// warm-up message arrives, what A acknowledges is stored for it.
	eventually(t, 20*time.Second, func() error {
		if err := pub.publish("fault/mqtt/warm", "warm"); err != nil {
			return err
		}
		if sub.count("warm") == 0 {
			return errors.New("the warm-up message has not arrived")
		}
		return nil
	})

	// The STOMP producer on A stores a first message, then the consumer on
	// B reads the queue. (Both at once, on a fresh cluster, have left the
	// consumer's creation unanswered for request_timeout: not what this
	// test is about.)
	producer := dialSTOMP(t, a)
	if err := producer.Send("/queue/fault", "text/plain", []byte("warm"), stomp.SendOpt.Receipt); err != nil {
		t.Fatal(err)
	}
	consumer := dialSTOMP(t, b)
	qsub, err := consumer.Subscribe("/queue/fault", stomp.AckAuto)
	if err != nil {
		t.Fatal(err)
	}
	stompGot := &tally{n: map[string]int{}}
	go func() {
		for m := range qsub.C {
			if m.Err == nil {
				stompGot.add(string(m.Body))
			}
		}
	}()
	eventually(t, 10*time.Second, func() error {
		if len(stompGot.missing([]string{"warm"})) > 0 {
			return errors.New("the warm-up message has not arrived")
		}
		return nil
	})

	start := time.Now()
	stop := start.Add(faultBefore + faultAfter)
	var wg sync.WaitGroup
	mqttLoad := &load{}
	stompLoad := &load{}
	wg.Add(2)
	go func() {
		defer wg.Done()
		for n := 0; time.Now().Before(stop); n++ {
			err := pub.publish(fmt.Sprint("fault/mqtt/", n%10), strconv.Itoa(n))
			mqttLoad.attempt(err, strconv.Itoa(n))
			if err != nil {
				time.Sleep(50 * time.Millisecond) // a redial, perhaps
			}
		}
	}()
	go func() {
		defer wg.Done()
		for n := 0; time.Now().Before(stop); n++ {
			body := "s-" + strconv.Itoa(n)
			err := producer.Send("/queue/fault", "text/plain", []byte(body), stomp.SendOpt.Receipt)
			stompLoad.attempt(err, body)
			if errors.Is(err, stomp.ErrAlreadyClosed) || errors.Is(err, stomp.ErrClosedUnexpectedly) {
				t.Errorf("STOMP producer's connection closed: %v", err)
				return
			}
		}
	}()

	time.Sleep(faultBefore)
	leader := metaLeader(t, nodes)
	victim := -1
	for i, n := range nodes {
		if (n.name == leader) != killLeader {
			continue
		}
		// Of the candidates, the node with the most client connections:
		// likely one a gateway is on.
		if victim < 0 || n.clients(t) > nodes[victim].clients(t) {
			victim = i
		}
	}
	killed := time.Now()
	if fault == faultStop {
		p := nodes[victim].proc.cmd.Process
		if err := p.Signal(syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		t.Logf("stopped %s at +%s for %s (meta leader: %s)", nodes[victim].name, killed.Sub(start).Round(time.Millisecond), faultStopped, leader)
		time.Sleep(faultStopped)
		if err := p.Signal(syscall.SIGCONT); err != nil {
			t.Fatal(err)
		}
	} else {
		nodes[victim].proc.kill(t)
		t.Logf("killed %s at +%s (meta leader: %s)", nodes[victim].name, killed.Sub(start).Round(time.Millisecond), leader)
	}
	wg.Wait()
	if fault == faultStop {
		t.Logf("meta leader now: %s", metaLeader(t, nodes))
	} else if !killLeader {
		if l := metaLeader(t, nodes); l != leader {
			t.Errorf("meta leader %s, was %s", l, leader)
		}
	} else {
		t.Logf("new meta leader: %s", metaLeader(t, nodes))
	}

	// Every acknowledged message arrives. One that JetStream had sent
	// through the killed node comes back after its consumer's ack wait:
	// 30 s for an MQTT session's, durable_ack_wait (5 s here) for the
	// queue's.
	ended := time.Now()
	deadline := ended.Add(35 * time.Second)
	for time.Now().Before(deadline) && (len(sub.got.missing(mqttLoad.acked())) > 0 || len(stompGot.missing(stompLoad.acked())) > 0) {
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("everything acknowledged was delivered %s after the load ended", time.Since(ended).Round(100*time.Millisecond))
	for _, r := range []struct {
		what string
		l    *load
		got  *tally
	}{{"MQTT QoS 1", mqttLoad, sub.got}, {"STOMP durable queue", stompLoad, stompGot}} {
		acked := r.l.acked()
		lost := r.got.missing(acked)
		delivered, dups := r.got.stats()
		pause, errs, first := r.l.pause(killed)
		t.Logf("%s: published %d, acknowledged %d, refused %d, delivered %d (duplicates %d), lost %d; longest time without an acknowledgement %s",
			r.what, r.l.attempts(), len(acked), errs, delivered, dups, len(lost), pause.Round(time.Millisecond))
		if first != nil {
			t.Logf("%s: first refusal: %v", r.what, first)
		}
		if len(lost) > 0 {
			t.Errorf("%s: %d acknowledged messages not delivered: %.20q", r.what, len(lost), lost)
		}
		if len(acked) < 100 {
			t.Errorf("%s: only %d messages acknowledged in %s", r.what, len(acked), faultBefore+faultAfter)
		}
		if r.l.ackedAfter(killed.Add(pause)) == 0 {
			t.Errorf("%s: nothing acknowledged after the kill", r.what)
		}
	}
	t.Logf("MQTT reconnects: publisher %d, subscriber %d", pub.reconnects(), sub.reconnects())
	for _, g := range []*gateway{a, b} {
		select {
		case <-g.exited:
			t.Fatalf("gateway %s exited: %v", g.Addr, g.exitErr)
		default:
		}
		g.waitReady()
	}
}

// A natsNode is one nats-server process of startNATSCluster's cluster.
type natsNode struct {
	name    string
	url     string // nats://127.0.0.1:port
	monitor string // http://127.0.0.1:port
	proc    *process
	bin     string
	args    []string
}

// restart starts the node again, as it was, once it has exited.
func (nd *natsNode) restart(t *testing.T) {
	t.Helper()
	<-nd.proc.exited
	nd.proc = startProcess(t, nd.name, nd.bin, nd.args, os.Interrupt)
}

// startNATSCluster runs n nats-server processes (built from go.mod's
// module) as one JetStream cluster and waits until each is healthy, which
// needs a meta leader.
func startNATSCluster(t *testing.T, n int) []*natsNode {
	t.Helper()
	bin := goBuild(t, t.TempDir(), "nats-server", "github.com/nats-io/nats-server/v2")
	// Every port at once: found one by one, a port let go could be found
	// again for another (a monitor port on a route's).
	addrs := freeAddrs(t, 3*n)
	var routes []string
	clusterAddrs := addrs[:n]
	for i := range n {
		routes = append(routes, "nats://"+clusterAddrs[i])
	}
	nodes := make([]*natsNode, n)
	for i := range n {
		client, mon := addrs[n+2*i], addrs[n+2*i+1]
		nd := &natsNode{name: fmt.Sprint("n", i+1), url: "nats://" + client, monitor: "http://" + mon}
		args := []string{
			"--name", nd.name, "--addr", "127.0.0.1", "--port", port(t, client),
			"--http_port", port(t, mon), "--jetstream", "--store_dir", filepath.Join(t.TempDir(), nd.name),
			"--cluster_name", "fault", "--cluster", "nats://" + clusterAddrs[i], "--routes", strings.Join(routes, ","),
		}
		nd.proc = startProcess(t, nd.name, bin, args, os.Interrupt)
		nd.bin, nd.args = bin, args
		nodes[i] = nd
	}
	for _, nd := range nodes {
		eventually(t, 30*time.Second, func() error {
			nd.proc.running(t)
			return getOK(nd.monitor + "/healthz")
		})
	}
	// A stream created while the meta group is still settling may get no
	// answer at all: wait until every node names one leader and sees every
	// peer current.
	eventually(t, 30*time.Second, func() error {
		leader := ""
		for _, nd := range nodes {
			var jsz struct {
				Meta struct {
					Leader   string `json:"leader"`
					Replicas []struct {
						Name    string `json:"name"`
						Current bool   `json:"current"`
					} `json:"replicas"`
				} `json:"meta_cluster"`
			}
			if err := getJSON(nd.monitor+"/jsz", &jsz); err != nil {
				return err
			}
			if jsz.Meta.Leader == "" || leader != "" && jsz.Meta.Leader != leader {
				return fmt.Errorf("%s says the meta leader is %q", nd.name, jsz.Meta.Leader)
			}
			leader = jsz.Meta.Leader
			if nd.name != leader {
				continue
			}
			if len(jsz.Meta.Replicas) != n-1 {
				return fmt.Errorf("the meta leader %s has %d peers", leader, len(jsz.Meta.Replicas))
			}
			for _, r := range jsz.Meta.Replicas {
				if !r.Current {
					return fmt.Errorf("meta peer %s is not current", r.Name)
				}
			}
		}
		return nil
	})
	return nodes
}

// getOK GETs url and wants 200.
func getOK(url string) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	return nil
}

// getJSON GETs a monitoring endpoint into v.
func getJSON(url string, v any) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// metaLeader is the JetStream meta leader's server name, as the live nodes'
// /jsz agree on it, once it is one of them.
func metaLeader(t *testing.T, nodes []*natsNode) string {
	t.Helper()
	var leader string
	eventually(t, 20*time.Second, func() error {
		leader = ""
		for _, nd := range nodes {
			select {
			case <-nd.proc.exited:
				continue
			default:
			}
			var jsz struct {
				Meta struct {
					Leader string `json:"leader"`
				} `json:"meta_cluster"`
			}
			if err := getJSON(nd.monitor+"/jsz", &jsz); err != nil {
				return err
			}
			if jsz.Meta.Leader == "" || leader != "" && jsz.Meta.Leader != leader {
				return fmt.Errorf("%s says the meta leader is %q", nd.name, jsz.Meta.Leader)
			}
			leader = jsz.Meta.Leader
		}
		for _, nd := range nodes {
			select {
			case <-nd.proc.exited:
				if nd.name == leader {
					return fmt.Errorf("the meta leader is still %s, killed", leader)
				}
			default:
			}
		}
		return nil
	})
	return leader
}

// clients is the number of client connections the node has.
func (nd *natsNode) clients(t *testing.T) int {
	t.Helper()
	var varz struct {
		Connections int `json:"connections"`
	}
	if err := getJSON(nd.monitor+"/varz", &varz); err != nil {
		t.Fatal(err)
	}
	return varz.Connections
}

// A load is what a publisher sent: each attempt, when it ended and whether
// it was acknowledged.
type load struct {
	mu    sync.Mutex
	ack   []time.Time
	acks  []string
	tries int
	errs  []time.Time
	first error     // the first refusal
	end   time.Time // when the last attempt ended
}

func (l *load) attempt(err error, id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.tries++
	l.end = time.Now()
	if err != nil {
		l.errs = append(l.errs, time.Now())
		if l.first == nil {
			l.first = err
		}
		return
	}
	l.ack = append(l.ack, time.Now())
	l.acks = append(l.acks, id)
}

func (l *load) attempts() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.tries
}

func (l *load) acked() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.acks)
}

// pause is the longest time without an acknowledgement from the kill to
// the end of the last attempt (the kill counts as the last one before
// it), how many attempts were refused, and the first refusal.
func (l *load) pause(killed time.Time) (time.Duration, int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var longest time.Duration
	last := killed
	for _, at := range l.ack {
		if at.Before(killed) {
			continue
		}
		longest = max(longest, at.Sub(last))
		last = at
	}
	longest = max(longest, l.end.Sub(last))
	return longest, len(l.errs), l.first
}

func (l *load) ackedAfter(at time.Time) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, a := range l.ack {
		if !a.Before(at) {
			n++
		}
	}
	return n
}

// A tally counts the payloads a subscriber received.
type tally struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *tally) add(s string) {
	c.mu.Lock()
	c.n[s]++
	c.mu.Unlock()
}

// missing is what of want was not received.
func (c *tally) missing(want []string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var m []string
	for _, w := range want {
		if c.n[w] == 0 {
			m = append(m, w)
		}
	}
	return m
}

// stats is the number of distinct payloads received, the warm-up
// message aside, and of receptions beyond the first.
func (c *tally) stats() (distinct, dups int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for p, k := range c.n {
		if p == "warm" {
			continue
		}
		distinct++
		dups += k - 1
	}
	return distinct, dups
}

// faultMQTT is an MQTT 5 client of a persistent session (Clean Start 0,
// Session Expiry 300 s) that connects again, to the same gateway, whenever
// its connection ends.
type faultMQTT struct {
	g      *gateway
	id     string
	got    *tally
	mu     sync.Mutex
	c      *paho.Client
	redial int
	closed bool
}

func newFaultMQTT(t *testing.T, g *gateway, id string) *faultMQTT {
	t.Helper()
	f := &faultMQTT{g: g, id: id, got: &tally{n: map[string]int{}}}
	if err := f.dial(); err != nil {
		t.Fatalf("%s: %v", id, err)
	}
	t.Cleanup(func() {
		f.mu.Lock()
		f.closed = true
		c := f.c
		f.mu.Unlock()
		_ = c.Disconnect(&paho.Disconnect{})
	})
	return f
}

func (f *faultMQTT) dial() error {
	d := websocket.Dialer{Subprotocols: []string{"mqtt"}, HandshakeTimeout: 5 * time.Second}
	ws, _, err := d.Dial(f.g.WS("/"), nil)
	if err != nil {
		return err
	}
	conn, err := relayWS(ws)
	if err != nil {
		ws.Close()
		return err
	}
	c := paho.NewClient(paho.ClientConfig{
		Conn: conn,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
			f.got.add(string(pr.Packet.Payload))
			return true, nil
		}},
	})
	expiry := uint32(300)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ack, err := c.Connect(ctx, &paho.Connect{ClientID: f.id, KeepAlive: 30, Properties: &paho.ConnectProperties{SessionExpiryInterval: &expiry}})
	if err != nil {
		ws.Close()
		return fmt.Errorf("connect: %w", err)
	}
	if ack.ReasonCode != 0 {
		ws.Close()
		return fmt.Errorf("CONNACK 0x%02x", ack.ReasonCode)
	}
	f.mu.Lock()
	f.c = c
	f.mu.Unlock()
	go func() {
		<-c.Done()
		for {
			f.mu.Lock()
			closed := f.closed
			if !closed {
				f.redial++
			}
			f.mu.Unlock()
			if closed || f.dial() == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	return nil
}

func (f *faultMQTT) client() *paho.Client {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.c
}

func (f *faultMQTT) reconnects() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.redial
}

func (f *faultMQTT) count(payload string) int {
	f.got.mu.Lock()
	defer f.got.mu.Unlock()
	return f.got.n[payload]
}

func (f *faultMQTT) subscribe(t *testing.T, filter string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sa, err := f.client().Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: filter, QoS: 1}}})
	if err != nil || sa.Reasons[0] != 1 {
		t.Fatalf("subscribe %s: %v %v", filter, sa, err)
	}
}

// publish sends a QoS 1 PUBLISH and waits up to 10 s for its PUBACK; an
// error is a PUBACK with an error reason or none.
func (f *faultMQTT) publish(topic, payload string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := f.client().Publish(ctx, &paho.Publish{Topic: topic, QoS: 1, Payload: []byte(payload)})
	return err
}
