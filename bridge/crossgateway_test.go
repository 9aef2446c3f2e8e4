package bridge

import (
	"fmt"
	"testing"
)

// TestCrossGatewayFanOut: a message to subscribers spread over two
// gateways crosses NATS once per gateway, not once per subscriber: each
// gateway's hub holds one NATS subscription per subject and fans the
// message out to its own sessions in process.
func TestCrossGatewayFanOut(t *testing.T) {
	const perGateway, msgs = 40, 25
	a := newEnv(t, Config{})
	b := newEnvOn(t, a.emb, Config{}, nil)
	var clients []*client
	for _, e := range []*env{a, b} {
		for range perGateway {
			c := e.dial("/", nil, nil)
			c.do("sub room.lobby")
			clients = append(clients, c)
		}
	}
	before := map[*env]uint64{a: a.gw.hub.nc.Stats().InMsgs, b: b.gw.hub.nc.Stats().InMsgs}
	w := a.worker()
	for i := range msgs {
		if err := w.Publish("room.lobby", fmt.Appendf(nil, "m%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range clients {
		for i := range msgs {
			if got, want := c.read(), fmt.Sprintf("msg room.lobby m%d", i); got != want {
				t.Fatalf("client read %q, want %q", got, want)
			}
		}
	}
	for name, e := range map[string]*env{"a": a, "b": b} {
		if got := e.gw.hub.nc.Stats().InMsgs - before[e]; got != msgs {
			t.Errorf("gateway %s's hub got %d NATS messages for %d published to %d of its subscribers, want %d", name, got, msgs, perGateway, msgs)
		}
	}
}
