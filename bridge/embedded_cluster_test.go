package bridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// quiet discards an embedded server's log lines.
var quiet = slog.New(slog.DiscardHandler)

// freePort is a loopback port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startCluster starts n embedded servers that form one cluster, each given
// the same routes: all n nodes, itself included. Route ports are chosen
// before the servers start, so another process may take one meanwhile:
// then it tries again with new ones.
func startCluster(t *testing.T, n int) []*Embedded {
	t.Helper()
	nodes, _ := startSome(t, n, n)
	return nodes
}

// startSome is startCluster starting only the first start nodes of n; it
// returns every node's config.
func startSome(t *testing.T, n, start int) ([]*Embedded, []EmbeddedConfig) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		nodes, cfgs, err := tryCluster(t, n, start)
		if err == nil {
			return nodes, cfgs
		}
		if attempt == 3 || !strings.Contains(err.Error(), "address already in use") {
			t.Fatal(err)
		}
	}
}

func tryCluster(t *testing.T, n, start int) ([]*Embedded, []EmbeddedConfig, error) {
	var listens, routes []string
	for range n {
		a := fmt.Sprintf("127.0.0.1:%d", freePort(t))
		listens = append(listens, a)
		routes = append(routes, "nats-route://"+a)
	}
	var nodes []*Embedded
	var cfgs []EmbeddedConfig
	for i := range n {
		c := EmbeddedConfig{
			Listen:     "127.0.0.1:0",
			DataDir:    t.TempDir(),
			ServerName: fmt.Sprintf("n%d", i+1),
			Cluster:    ClusterConfig{Name: "test", Listen: listens[i], Routes: routes},
			Logger:     quiet,
		}
		cfgs = append(cfgs, c)
		if i >= start {
			continue
		}
		e, err := StartEmbedded(c)
		if err != nil {
			for _, e := range nodes {
				e.Shutdown()
			}
			return nil, nil, err
		}
		nodes = append(nodes, e)
	}
	for i, e := range nodes {
		t.Cleanup(e.Shutdown)
		if got := e.ClusterURL(); got != routes[i] {
			t.Errorf("node %d: cluster URL %q, want %q", i+1, got, routes[i])
		}
	}
	return nodes, cfgs, nil
}

// TestEmbeddedCluster: three embedded servers routing to a seed form one
// clustered JetStream, where a stream and a bucket made with one replica
// are changed to three when a gateway wants three, and a message published
// on one node reaches a subscriber on another.
func TestEmbeddedCluster(t *testing.T) {
	nodes := startCluster(t, 3)
	conn := func(e *Embedded) *nats.Conn {
		nc, err := e.Connect()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		return nc
	}
	nc1, nc3 := conn(nodes[0]), conn(nodes[2])

	// Core NATS across nodes, once the routes are up.
	sub, err := nc3.SubscribeSync("across")
	if err != nil {
		t.Fatal(err)
	}
	checkFor(t, 20*time.Second, func() error {
		if err := nc1.Publish("across", []byte("hi")); err != nil {
			return err
		}
		_, err := sub.NextMsg(100 * time.Millisecond)
		return err
	})

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var logs1, logs3 logBuffer
	js1, err := newJetStream(nc1, 1, logs1.logger())
	if err != nil {
		t.Fatal(err)
	}
	js3, err := newJetStream(nc3, 3, logs3.logger())
	if err != nil {
		t.Fatal(err)
	}
	// The meta leader is elected once the nodes see each other; until
	// then JetStream does not answer.
	checkFor(t, 20*time.Second, func() error {
		ctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		return js1.EnsureStream(ctx, StreamConfig{Name: "T_C", Subjects: []string{"c.>"}})
	})
	if n, _ := streamReplicas(t, js1, "T_C"); n != 1 {
		t.Fatalf("stream made with %d replicas, want 1", n)
	}
	if _, err := js1.KV(ctx, "t_c", KVConfig{}); err != nil {
		t.Fatal(err)
	}

	if err := js3.EnsureStream(ctx, StreamConfig{Name: "T_C", Subjects: []string{"c.>"}}); err != nil {
		t.Fatal(err)
	}
	if n, _ := streamReplicas(t, js3, "T_C"); n != 3 {
		t.Errorf("stream has %d replicas after a gateway wanting 3, want 3", n)
	}
	if logs3.find("jetstream replicas changed", map[string]any{"stream": "T_C", "from": 1, "to": 3, "level": "INFO"}) == nil {
		t.Errorf("the change is not logged:\n%s", logs3.String())
	}
	kv, err := js3.KV(ctx, "t_c", KVConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := streamReplicas(t, js3, "KV_t_c"); n != 3 {
		t.Errorf("bucket has %d replicas, want 3", n)
	}
	if logs3.find("jetstream replicas changed", map[string]any{"bucket": "t_c", "from": 1, "to": 3}) == nil {
		t.Errorf("the bucket's change is not logged:\n%s", logs3.String())
	}
	// A new stream is made with the gateway's replicas at once.
	if err := js3.EnsureStream(ctx, StreamConfig{Name: "T_C3", Subjects: []string{"c3.>"}}); err != nil {
		t.Fatal(err)
	}
	if n, _ := streamReplicas(t, js3, "T_C3"); n != 3 {
		t.Errorf("new stream has %d replicas, want 3", n)
	}
	if _, err := kv.Put(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	// Written through node 3, read through node 1.
	kv1, err := js1.KV(ctx, "t_c", KVConfig{})
	if err != nil {
		t.Fatal(err)
	}
	checkFor(t, 5*time.Second, func() error {
		v, _, err := kv1.Get(ctx, "k")
		if err == nil && string(v) != "v" {
			err = fmt.Errorf("value %q", v)
		}
		return err
	})
}

// TestReplicasPlacementRetried: a stream asked for while its cluster forms
// (no leader yet, then a leader that has not heard from every server) is
// made as soon as it can be, within the caller's deadline, not refused at
// once.
func TestReplicasPlacementRetried(t *testing.T) {
	nodes, cfgs := startSome(t, 3, 2) // n3 is not there yet
	nc, err := nodes[0].Connect()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := newJetStream(nc, 3, quiet)
	if err != nil {
		t.Fatal(err)
	}
	// Generous deadlines: what is tested is that the request waits for
	// the cluster instead of failing at once, and a cluster forming on two
	// cores shared with the other test packages may take many seconds.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	back := make(chan *Embedded, 1)
	go func() {
		time.Sleep(300 * time.Millisecond)
		e, err := StartEmbedded(cfgs[2])
		if err != nil {
			t.Error(err)
		}
		back <- e
	}()
	place, cancelPlace := context.WithTimeout(ctx, 40*time.Second)
	defer cancelPlace()
	if err := js.EnsureStream(place, StreamConfig{Name: "T_PLACED", Subjects: []string{"placed.>"}}); err != nil {
		t.Errorf("three replicas asked for while the third server joins: %v", err)
	}
	if e := <-back; e != nil {
		t.Cleanup(e.Shutdown)
	}
	checkFor(t, 15*time.Second, func() error {
		s, err := js.js.Stream(ctx, "T_PLACED")
		if err != nil {
			return err
		}
		if n := s.CachedInfo().Config.Replicas; n != 3 {
			return fmt.Errorf("%d replicas, want 3", n)
		}
		return nil
	})
}

// TestConsumeClusteredFirstDelivery: a durable consumer made on a
// three-replica stream delivers its first message at once. Its first pull
// may reach a server that does not know the new consumer's leader yet
// (no responders); nats.go alone would pull again only 30 s later, which
// happened to about one consumer in fifteen: twenty make it show.
func TestConsumeClusteredFirstDelivery(t *testing.T) {
	nodes := startCluster(t, 3)
	nc, err := nodes[1].Connect()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := newJetStream(nc, 3, quiet)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	checkFor(t, 20*time.Second, func() error {
		ctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		return js.EnsureStream(ctx, StreamConfig{Name: "T_FIRST", Subjects: []string{"first.>"}, Retention: "workqueue"})
	})
	for i := range 20 {
		subject := fmt.Sprintf("first.%d", i)
		if _, err := js.Publish(ctx, subject, nil, []byte("x")); err != nil {
			t.Fatal(err)
		}
		got := make(chan struct{}, 1)
		start := time.Now()
		c, err := js.Consume(ctx, ConsumerConfig{Stream: "T_FIRST", Durable: fmt.Sprintf("first_%d", i), FilterSubjects: []string{subject}},
			func(m *DurableMessage) {
				_ = m.Ack()
				select {
				case got <- struct{}{}:
				default:
				}
			})
		if err != nil {
			t.Fatal(err)
		}
		select {
		case <-got:
		case <-time.After(5 * time.Second):
			t.Errorf("consumer %d: no first delivery within 5s", i)
		}
		c.Stop()
		if d := time.Since(start); d > 5*time.Second {
			t.Logf("consumer %d: %s", i, d)
		}
	}
}

// TestEmbeddedLeafNode: an embedded server with a leafnode remote carries
// core messages to and from the hub, and keeps a JetStream of its own
// beside the hub's.
func TestEmbeddedLeafNode(t *testing.T) {
	// nats-server does not say which port a random leafnode port got.
	leafPort := freePort(t)
	hub, err := server.NewServer(&server.Options{
		ServerName: "hub", Host: "127.0.0.1", Port: server.RANDOM_PORT, NoSigs: true, NoLog: true,
		JetStream: true, StoreDir: t.TempDir(),
		LeafNode: server.LeafNodeOpts{Host: "127.0.0.1", Port: leafPort},
	})
	if err != nil {
		t.Fatal(err)
	}
	go hub.Start()
	t.Cleanup(func() { hub.Shutdown(); hub.WaitForShutdown() })
	if !hub.ReadyForConnections(10 * time.Second) {
		t.Fatal("hub not ready")
	}
	leaf, err := StartEmbedded(EmbeddedConfig{
		Listen: "-", DataDir: t.TempDir(), ServerName: "leaf", Logger: quiet,
		LeafNode: LeafNodeConfig{Remotes: []string{fmt.Sprintf("nats-leaf://127.0.0.1:%d", leafPort)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(leaf.Shutdown)
	ncHub, err := nats.Connect(hub.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ncHub.Close)
	ncLeaf, err := leaf.Connect()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ncLeaf.Close)

	// A worker on the hub answers a request from the leaf.
	if _, err := ncHub.Subscribe("svc.echo", func(m *nats.Msg) { _ = m.Respond(append([]byte("hub:"), m.Data...)) }); err != nil {
		t.Fatal(err)
	}
	checkFor(t, 10*time.Second, func() error {
		m, err := ncLeaf.Request("svc.echo", []byte("x"), 200*time.Millisecond)
		if err == nil && string(m.Data) != "hub:x" {
			err = fmt.Errorf("reply %q", m.Data)
		}
		return err
	})
	// The leaf's JetStream is its own, beside the hub's: a bucket made
	// through the leaf is on the leaf, not on the hub.
	js, err := newJetStream(ncLeaf, 0, quiet)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	kv, err := js.KV(ctx, "t_leaf", KVConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	jsHub, err := newJetStream(ncHub, 0, quiet)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jsHub.js.Stream(ctx, "KV_t_leaf"); !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Errorf("the leaf's bucket on the hub: %v, want not found", err)
	}
	info, err := js.js.AccountInfo(ctx)
	if err != nil || info.Streams != 1 {
		t.Errorf("the leaf's JetStream: %+v, %v; want its one bucket", info, err)
	}
}

// TestEmbeddedClusterNeedsName: a cluster node without a server name of its
// own, a cluster without a name, routes or client port, and a route or
// remote that is not a URL are refused before anything starts.
func TestEmbeddedClusterNeedsName(t *testing.T) {
	for _, c := range []EmbeddedConfig{
		{Listen: "-", DataDir: t.TempDir(), Cluster: ClusterConfig{Name: "c", Listen: "127.0.0.1:0"}},
		{Listen: "-", DataDir: t.TempDir(), ServerName: "a", Cluster: ClusterConfig{Listen: "127.0.0.1:0"}},
		{Listen: "-", DataDir: t.TempDir(), ServerName: "a", Cluster: ClusterConfig{Name: "c", Listen: "127.0.0.1:0", Routes: []string{"nats-route://127.0.0.1:1"}}},
		{Listen: "127.0.0.1:0", DataDir: t.TempDir(), ServerName: "a", Cluster: ClusterConfig{Name: "c", Listen: "127.0.0.1:0"}},
		{Listen: "127.0.0.1:0", DataDir: t.TempDir(), ServerName: "a", Cluster: ClusterConfig{Name: "c", Listen: "127.0.0.1:0", Routes: []string{"::nope"}}},
		{Listen: "-", DataDir: t.TempDir(), ServerName: "a", LeafNode: LeafNodeConfig{Remotes: []string{"hub-without-scheme"}}},
	} {
		if e, err := StartEmbedded(c); err == nil {
			e.Shutdown()
			t.Errorf("%+v started", c)
		}
	}
}
