package bridge

import (
	"context"
	"errors"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/wsgate/wsgate/auth"
)

func TestJetStreamStreamAndConsumer(t *testing.T) {
	e := newEnv(t, Config{})
	js := e.gw.js
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := js.EnsureStream(ctx, StreamConfig{Name: "T_QUEUE", Subjects: []string{"q.>"}, Retention: "workqueue"}); err != nil {
		t.Fatal(err)
	}
	for _, body := range []string{"one", "two", "three"} {
		if _, err := js.Publish(ctx, "q.jobs", Header{"X-Test": {"yes"}}, []byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	var got []string
	nakked := false
	done := make(chan struct{})
	c, err := js.Consume(ctx, ConsumerConfig{Stream: "T_QUEUE", Durable: "workers", AckWait: time.Second}, func(m *DurableMessage) {
		mu.Lock()
		defer mu.Unlock()
		if string(m.Data) == "two" && !nakked {
			nakked = true
			_ = m.Nak(0) // comes back with Delivered 2
			return
		}
		if m.Header.Get("X-Test") != "yes" || m.Seq == 0 || time.Since(m.Time) > time.Minute {
			t.Errorf("message %+v", m)
		}
		if string(m.Data) == "two" && m.Delivered != 2 {
			t.Errorf("redelivered %q with Delivered %d", m.Data, m.Delivered)
		}
		_ = m.Ack()
		got = append(got, string(m.Data))
		if len(got) == 3 {
			close(done)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatalf("got %v", got)
	}
	if c.Name() != "workers" {
		t.Errorf("consumer name %q", c.Name())
	}
	if err := js.DeleteConsumer(ctx, "T_QUEUE", "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("delete unknown consumer: %v", err)
	}
}

// TestJetStreamPublishAt: a scheduled message reaches its target at its
// time, not before; a consumer's inactive threshold can be changed.
func TestJetStreamPublishAt(t *testing.T) {
	e := newEnv(t, Config{})
	js := e.gw.js
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := js.EnsureStream(ctx, StreamConfig{Name: "T_AT", Subjects: []string{"at.>"}, Retention: "workqueue",
		MaxMsgsPerSubject: 1, AllowMsgSchedules: true}); err != nil {
		t.Fatal(err)
	}
	got := make(chan *DurableMessage, 2)
	c, err := js.Consume(ctx, ConsumerConfig{Stream: "T_AT", Durable: "due", FilterSubjects: []string{"at.due.>"}},
		func(m *DurableMessage) { _ = m.Ack(); got <- m })
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	at := time.Now().Add(700 * time.Millisecond)
	if err := js.PublishAt(ctx, "at.sched.k", "at.due.k", at.Add(time.Hour), []byte("replaced")); err != nil {
		t.Fatal(err)
	}
	if err := js.PublishAt(ctx, "at.sched.k", "at.due.k", at, []byte("due")); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-got:
		if string(m.Data) != "due" || m.Subject != "at.due.k" || time.Now().Before(at) {
			t.Fatalf("got %s %q at %s, due at %s", m.Subject, m.Data, time.Now(), at)
		}
	case <-ctx.Done():
		t.Fatal("scheduled message not published")
	}
	if err := c.SetInactiveThreshold(ctx, time.Hour); err != nil {
		t.Fatal(err)
	}
}

func TestJetStreamKV(t *testing.T) {
	e := newEnv(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	kv, err := e.gw.js.KV(ctx, "T_KV", KVConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := kv.Get(ctx, "a.b"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("get missing: %v", err)
	}
	rev, err := kv.Create(ctx, "a.b", []byte("1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Create(ctx, "a.b", []byte("2")); !errors.Is(err, ErrKeyExists) {
		t.Errorf("create twice: %v", err)
	}
	if _, err := kv.Update(ctx, "a.b", []byte("2"), rev+7); !errors.Is(err, ErrWrongRev) {
		t.Errorf("update wrong revision: %v", err)
	}
	if _, err := kv.Update(ctx, "a.b", []byte("2"), rev); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, "a.c", []byte("3")); err != nil {
		t.Fatal(err)
	}
	keys, err := kv.Keys(ctx, "a.*")
	if err != nil || len(keys) != 2 {
		t.Fatalf("keys %v %v", keys, err)
	}
	got := make(chan KVEntry, 8)
	stop, err := kv.Watch(ctx, "a.>", func(e KVEntry) { got <- e })
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	seen := map[string]string{}
	for len(seen) < 2 {
		e := <-got
		seen[e.Key] = string(e.Value)
	}
	if seen["a.b"] != "2" || seen["a.c"] != "3" {
		t.Errorf("initial values %v", seen)
	}
	if err := kv.Delete(ctx, "a.c"); err != nil {
		t.Fatal(err)
	}
	if e := <-got; e.Key != "a.c" || !e.Deleted {
		t.Errorf("after delete: %+v", e)
	}
}

func TestMayReceive(t *testing.T) {
	e := newEnv(t, Config{})
	s := e.gw.newSession(e.proto, "", httptest.NewRequest("GET", "/", nil), nil)
	s.setPrincipal(&auth.Principal{ID: "u", Permissions: &auth.Permissions{
		Subscribe: auth.Rules{Allow: []string{"devices.u.>"}},
	}})
	for subj, want := range map[string]bool{
		"devices.u.temp": true, "devices.v.temp": false, "wsgate.conn.x.send": false,
		"$JS.API.INFO": false, "devices.u.*": false, "": false,
	} {
		if got := s.MayReceive(subj); got != want {
			t.Errorf("MayReceive(%q) = %v, want %v", subj, got, want)
		}
	}
}

// TestJetStreamPublishOnce: a second store under the same message id (a
// retry after a lost acknowledgement) is acknowledged with the first one's
// sequence and not stored again; a new id is a new message; an attempt
// that cannot succeed ends with ctx.
func TestJetStreamPublishOnce(t *testing.T) {
	e := newEnv(t, Config{})
	js := e.gw.js
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := js.EnsureStream(ctx, StreamConfig{Name: "T_ONCE", Subjects: []string{"once.>"}}); err != nil {
		t.Fatal(err)
	}
	first, err := js.PublishOnce(ctx, "once.a", "c1.1", Header{"X-Test": {"yes"}}, []byte("m"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	again, err := js.PublishOnce(ctx, "once.a", "c1.1", nil, []byte("m"), time.Second)
	if err != nil || again != first {
		t.Fatalf("retry: seq %d, %v; want %d", again, err, first)
	}
	next, err := js.PublishOnce(ctx, "once.a", "c1.2", nil, []byte("n"), time.Second)
	if err != nil || next != first+1 {
		t.Fatalf("next id: seq %d, %v; want %d", next, err, first+1)
	}
	// No stream captures this subject: each attempt finds no responders,
	// and the retries stop with ctx.
	short, cancel2 := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel2()
	start := time.Now()
	if _, err := js.PublishOnce(short, "nowhere.a", "c1.3", nil, nil, 100*time.Millisecond); err == nil {
		t.Fatal("a store no stream captures succeeded")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("gave up after %s, ctx allowed 500ms", d)
	}
}

// TestJetStreamByStartTime: a consumer from a time gets the messages
// stored after it, and says how many it had when it was made.
func TestJetStreamByStartTime(t *testing.T) {
	e := newEnv(t, Config{})
	js := e.gw.js
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := js.EnsureStream(ctx, StreamConfig{Name: "T_TIME", Subjects: []string{"tt.>"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, "tt.a", nil, []byte("before")); err != nil {
		t.Fatal(err)
	}
	for _, body := range []string{"one", "two"} {
		if _, err := js.Publish(ctx, "tt.a", nil, []byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	// Start just before "one": the stream's times, not ours, decide, so
	// take the first message's stored time.
	got := make(chan string, 4)
	var first time.Time
	probe, err := js.Consume(ctx, ConsumerConfig{Stream: "T_TIME", FilterSubjects: []string{"tt.a"}}, func(m *DurableMessage) {
		if string(m.Data) == "one" {
			first = m.Time
			got <- "probe"
		}
		_ = m.Ack()
	})
	if err != nil {
		t.Fatal(err)
	}
	<-got
	probe.Stop()
	c, err := js.Consume(ctx, ConsumerConfig{Stream: "T_TIME", FilterSubjects: []string{"tt.a"}, DeliverPolicy: "by_start_time", StartTime: first}, func(m *DurableMessage) {
		got <- string(m.Data)
		_ = m.Ack()
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	if c.Pending() != 2 {
		t.Errorf("pending %d, want 2", c.Pending())
	}
	for _, want := range []string{"one", "two"} {
		select {
		case g := <-got:
			if g != want {
				t.Fatalf("got %q, want %q", g, want)
			}
		case <-ctx.Done():
			t.Fatal("nothing")
		}
	}
}
