package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	"github.com/go-stomp/stomp/v3"
	"github.com/gorilla/websocket"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// scaleOutConfig is what the gateways of a scale-out test add to their
// config: a durable STOMP queue, for the durable-queue check.
const scaleOutConfig = `
stomp:
  durable_queues: ["/queue/orders"]
`

// checkScaleOut checks that gateways a and b, on one NATS cluster
// (natsURL, for workers and the checks' own JetStream look-ups), behave as
// one gateway: a message, a push through the connection API, a retained
// MQTT message and a durable STOMP message each go in through one gateway
// and come out of the other; and what JetStream keeps for them is on
// replicas servers.
func checkScaleOut(t *testing.T, a, b *gateway, natsURL string, replicas int) {
	t.Helper()
	nc := natsConn(t, natsURL)

	t.Run("JSON publish on B reaches a subscriber on A", func(t *testing.T) {
		ca := dial(t, a.WS("/"), nil)
		ca.subscribe("scale.news")
		got := ca.readAll()
		cb := dial(t, b.WS("/"), nil)
		// A's subscription reaches B's NATS server through the cluster's
		// routes a moment later: publish until it is there.
		deadline := time.Now().Add(10 * time.Second)
		for n := 0; ; n++ {
			cb.send(map[string]any{"action": "publish", "subject": "scale.news", "data": map[string]int{"n": n}})
			select {
			case r := <-got:
				if r.err != nil {
					t.Fatalf("A: %v", r.err)
				}
				var f frame
				if err := json.Unmarshal(r.data, &f); err != nil || f.Type != "message" || f.Subject != "scale.news" || !strings.HasPrefix(string(f.Data), `{"n":`) {
					t.Fatalf("A got %s", r.data)
				}
				return
			case <-time.After(100 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				t.Fatal("nothing published on B reached A within 10s")
			}
		}
	})

	t.Run("request from a client on B answered by a worker", func(t *testing.T) {
		if _, err := nc.Subscribe("scale.echo", func(m *nats.Msg) {
			b, _ := json.Marshal(map[string]string{"echo": string(m.Data)})
			_ = m.Respond(b)
		}); err != nil {
			t.Fatal(err)
		}
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}
		cb := dial(t, b.WS("/"), nil)
		// The worker's subscription reaches B's NATS server a moment later:
		// until then the request has no responders.
		var f frame
		for n := 0; n < 100; n++ {
			cb.send(map[string]any{"action": "request", "subject": "scale.echo", "data": "hi", "id": n})
			if f = cb.next(); f.Type == "reply" {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if f.Type != "reply" || !strings.Contains(string(f.Data), `"echo":`) || !strings.Contains(string(f.Data), "hi") {
			t.Fatalf("got %+v, want the worker's reply", f)
		}
	})

	t.Run("POST /@connections on B reaches a connection on A", func(t *testing.T) {
		c, id := dialIDAfter(t, websocket.DefaultDialer, a, nc, "/", func() { reached(t, nc, a) })
		got := c.readAll()
		var status int
		var body []byte
		eventually(t, 10*time.Second, func() error {
			status, body = b.httpDo(t, "POST", "/@connections/"+id, "pushed through B")
			if status != http.StatusOK {
				return fmt.Errorf("POST through B: HTTP %d %s", status, body)
			}
			return nil
		})
		select {
		case r := <-got:
			if r.err != nil || string(r.data) != "pushed through B" {
				t.Fatalf("A's client got %q, %v", r.data, r.err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the push did not arrive")
		}
		info := getInfo(t, b, id) // answered by A, through B
		if info.Gateway != a.ID || info.ConnectionID != id {
			t.Errorf("info through B: %+v, want gateway %s", info, a.ID)
		}
	})

	t.Run("MQTT retained message set on A is read on B", func(t *testing.T) {
		topic := fmt.Sprintf("scale/ret/%d", time.Now().UnixNano())
		pub := connectV5(t, a, nil)
		pub.publish(t, &paho.Publish{Topic: topic, Retain: true, QoS: 1, Payload: []byte("set on A")})
		sub := connectV5(t, b, nil)
		if !sub.Connack.Properties.RetainAvailable {
			t.Fatal("B: Retain Available 0")
		}
		sub.subscribe(t, paho.SubscribeOptions{Topic: topic, QoS: 1})
		p := sub.next(t)
		if p.Topic != topic || string(p.Payload) != "set on A" || !p.Retain {
			t.Fatalf("B got %s %q retain %v", p.Topic, p.Payload, p.Retain)
		}
	})

	t.Run("STOMP durable queue: sent through A, received through B", func(t *testing.T) {
		body := fmt.Sprintf("order-%d", time.Now().UnixNano())
		producer := dialSTOMP(t, a)
		if err := producer.Send("/queue/orders", "text/plain", []byte(body), stomp.SendOpt.Receipt); err != nil {
			t.Fatal(err)
		}
		consumer := dialSTOMP(t, b)
		sub, err := consumer.Subscribe("/queue/orders", stomp.AckClientIndividual)
		if err != nil {
			t.Fatal(err)
		}
		for {
			m := nextSTOMP(t, sub)
			if err := consumer.Ack(m); err != nil {
				t.Fatal(err)
			}
			if string(m.Body) == body { // earlier runs' leftovers go first
				break
			}
		}
	})

	t.Run(fmt.Sprintf("streams and buckets on %d servers", replicas), func(t *testing.T) {
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		// The MQTT retained bucket and the STOMP queues' stream, made by
		// the checks above.
		for _, name := range []string{"KV_wsgate_mqtt_retained", "WSGATE_STOMP_QUEUES"} {
			s, err := js.Stream(ctx, name)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			info := s.CachedInfo()
			if info.Config.Replicas != replicas {
				t.Errorf("%s: %d replicas, want %d", name, info.Config.Replicas, replicas)
			}
			if info.Cluster == nil || len(info.Cluster.Replicas)+1 != replicas || info.Cluster.Leader == "" {
				t.Errorf("%s: placed on %+v, want a leader and %d more", name, info.Cluster, replicas-1)
			}
		}
	})
}

// reached returns once every subscription nc has made so far is known to
// gateway g's NATS server. On a cluster a subscription reaches the other
// servers through the routes a moment later, in order (one account's
// interest travels on one route connection): once a probe subscribed
// after them arrives from one of g's clients, they have all arrived.
func reached(t *testing.T, nc *nats.Conn, g *gateway) {
	t.Helper()
	probe, err := nc.SubscribeSync("scale.probe")
	if err != nil {
		t.Fatal(err)
	}
	defer probe.Unsubscribe()
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	c := dial(t, g.WS("/"), nil)
	defer c.Conn.Close()
	eventually(t, 10*time.Second, func() error {
		c.send(`{"action":"publish","subject":"scale.probe","data":1}`)
		_, err := probe.NextMsg(100 * time.Millisecond)
		return err
	})
}
