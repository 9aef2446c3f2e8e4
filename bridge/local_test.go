package bridge

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// TestLocalDelivery: with the hub on a NoEcho connection, a client's
// message reaches the gateway's own subscribers in process — once, in
// order, with its headers — and NATS subscribers through NATS; a local
// queue group still gets each message once across the whole group.
func TestLocalDelivery(t *testing.T) {
	e := newEnv(t, Config{})
	pub := e.dial("/", nil, nil)
	exact, star, full := e.dial("/", nil, nil), e.dial("/", nil, nil), e.dial("/", nil, nil)
	e.sub(exact, "sub loc.a.b")
	e.sub(star, "sub loc.a.*")
	e.sub(full, "sub loc.>")
	w := e.worker()
	wsub, err := w.SubscribeSync("loc.a.b")
	if err != nil {
		t.Fatal(err)
	}
	_ = w.Flush()

	const n = 200
	for i := range n {
		pub.send(fmt.Sprintf("pub loc.a.b %d", i))
	}
	for i := range n {
		if got := pub.read(); got != "ok pub loc.a.b" {
			t.Fatalf("answer %d: %q", i, got)
		}
	}
	for _, c := range []*client{exact, star, full} {
		for i := range n {
			if got, want := c.read(), fmt.Sprintf("msg loc.a.b %d", i); got != want {
				t.Fatalf("delivery %d: %q, want %q", i, got, want)
			}
		}
		if m, err := c.tryRead(200 * time.Millisecond); err == nil {
			t.Fatalf("a message twice: %q", m)
		}
	}
	for i := range n {
		m, err := wsub.NextMsg(5 * time.Second)
		if err != nil {
			t.Fatalf("worker message %d: %v", i, err)
		}
		if string(m.Data) != fmt.Sprint(i) || m.Header.Get(HeaderConnectionID) != pub.id {
			t.Fatalf("worker message %d: %q %v", i, m.Data, m.Header)
		}
	}

	t.Run("queue group across the gateway and a worker", func(t *testing.T) {
		member := e.dial("/", nil, nil)
		e.sub(member, "qsub loc.q grp")
		// Alone in its group, the local member gets everything: NATS must
		// see a message that a local queue group matches.
		for i := range 10 {
			pub.do(fmt.Sprintf("pub loc.q solo%d", i))
			if got, want := member.read(), fmt.Sprintf("msg loc.q solo%d", i); got != want {
				t.Fatalf("got %q, want %q", got, want)
			}
		}
		wq, err := w.QueueSubscribeSync("loc.q", "grp")
		if err != nil {
			t.Fatal(err)
		}
		_ = w.Flush()
		const m = 100
		for i := range m {
			pub.do(fmt.Sprintf("pub loc.q %d", i))
		}
		got := 0
		for {
			s, err := member.tryRead(300 * time.Millisecond)
			if err != nil {
				break
			}
			if !strings.HasPrefix(s, "msg loc.q ") {
				t.Fatalf("member got %q", s)
			}
			got++
		}
		for {
			if _, err := wq.NextMsg(300 * time.Millisecond); err != nil {
				break
			}
			got++
		}
		if got != m {
			t.Errorf("%d deliveries across the group, want %d (each message once)", got, m)
		}
	})

	t.Run("a worker's message reaches local subscribers through NATS", func(t *testing.T) {
		c := e.dial("/", nil, nil) // a timed-out gorilla read breaks its conn: a fresh one
		e.sub(c, "sub loc.w")
		if err := w.PublishMsg(&nats.Msg{Subject: "loc.w", Data: []byte("from-worker")}); err != nil {
			t.Fatal(err)
		}
		if got, err := c.tryRead(5 * time.Second); got != "msg loc.w from-worker" {
			t.Errorf("got %q, %v", got, err)
		}
	})
}
