package bridge

import (
	"context"
	"testing"
	"time"
)

// eventually polls cond for up to d.
func eventually(d time.Duration, cond func() bool) bool {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}

// TestConsumerWatch: a stream without consumers is known to have none; a
// consumer created (through NATS, as by another gateway) is seen from its
// advisory, and its deletion is seen too; an unknown stream counts as
// having consumers.
func TestConsumerWatch(t *testing.T) {
	e := newEnv(t, Config{})
	js := e.gw.js
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := js.EnsureStream(ctx, StreamConfig{Name: "T_WATCH", Subjects: []string{"watch.>"}, Retention: "interest"}); err != nil {
		t.Fatal(err)
	}
	w, err := js.WatchConsumers("T_WATCH")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if !eventually(3*time.Second, func() bool { return !w.HasConsumers() }) {
		t.Fatal("a stream without consumers said to have some")
	}

	c, err := js.Consume(ctx, ConsumerConfig{Stream: "T_WATCH", Durable: "d1"}, func(m *DurableMessage) { _ = m.Ack() })
	if err != nil {
		t.Fatal(err)
	}
	c.Stop()
	if !eventually(time.Second, w.HasConsumers) {
		t.Fatal("a new consumer not seen")
	}
	// Still there after the next counts.
	time.Sleep(300 * time.Millisecond)
	if !w.HasConsumers() {
		t.Fatal("the consumer forgotten")
	}
	if err := js.DeleteConsumer(ctx, "T_WATCH", "d1"); err != nil {
		t.Fatal(err)
	}
	if !eventually(3*time.Second, func() bool { return !w.HasConsumers() }) {
		t.Fatal("the deletion not seen")
	}

	unknown, err := js.WatchConsumers("T_NO_SUCH_STREAM")
	if err != nil {
		t.Fatal(err)
	}
	defer unknown.Stop()
	time.Sleep(200 * time.Millisecond)
	if !unknown.HasConsumers() {
		t.Fatal("an unknown stream said to have no consumers")
	}
}
