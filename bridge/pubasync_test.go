package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

type pubResult struct {
	seq uint64
	err error
}

// TestPublishAsync: acknowledgements reach each message's callback with its
// sequence, a subject no stream captures fails at once (no responders),
// and a publish nobody acknowledges times out.
func TestPublishAsync(t *testing.T) {
	e := newEnv(t, Config{})
	js := e.gw.js
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := js.EnsureStream(ctx, StreamConfig{Name: "T_ASYNC", Subjects: []string{"async.>"}}); err != nil {
		t.Fatal(err)
	}

	const n = 500
	results := make(chan pubResult, n)
	for i := range n {
		js.PublishAsync(fmt.Sprintf("async.%d", i%7), Header{"X-I": {fmt.Sprint(i)}}, []byte("x"), func(seq uint64, err error) {
			results <- pubResult{seq, err}
		})
	}
	seen := map[uint64]bool{}
	for range n {
		r := <-results
		if r.err != nil || r.seq == 0 || r.seq > n || seen[r.seq] {
			t.Fatalf("result %+v (seen before: %v)", r, seen[r.seq])
		}
		seen[r.seq] = true
	}
	if got, err := js.Publish(ctx, "async.last", nil, nil); err != nil || got != n+1 {
		t.Fatalf("next sequence %d, %v; want %d", got, err, n+1)
	}

	js.PublishAsync("nostream.here", nil, []byte("x"), func(seq uint64, err error) { results <- pubResult{seq, err} })
	select {
	case r := <-results:
		if !errors.Is(r.err, nats.ErrNoResponders) {
			t.Fatalf("no stream: %+v", r)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("no answer for a subject without a stream")
	}

	// A plain subscriber that never answers: the sweep times it out.
	sub, err := e.gw.nc.SubscribeSync("silent.>")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	a := &asyncPublisher{nc: e.gw.nc, timeout: 100 * time.Millisecond}
	start := time.Now()
	a.publish(&nats.Msg{Subject: "silent.one", Data: []byte("x")}, func(seq uint64, err error, _ *Batch) { results <- pubResult{seq, err} })
	select {
	case r := <-results:
		if !errors.Is(r.err, ErrPublishTimeout) {
			t.Fatalf("silent: %+v", r)
		}
		if d := time.Since(start); d < 100*time.Millisecond {
			t.Fatalf("timed out after %v, before its timeout", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no timeout")
	}
}

func TestParsePubAck(t *testing.T) {
	for _, tc := range []struct {
		data string
		seq  uint64
		err  bool
	}{
		{`{"stream":"S","seq":42}`, 42, false},
		{`{"stream":"S","domain":"hub","seq":7,"duplicate":true}`, 7, false},
		{`{"stream":"S", "seq": 9}`, 9, false}, // spaces: the slow path
		{`{"error":{"code":503,"err_code":10077,"description":"maximum messages exceeded"},"stream":"S","seq":0}`, 0, true},
		{`{"stream":"S"}`, 0, true},
		{`{"stream":"S","seq":0}`, 0, true},
		{`{"stream":"S","seq":18446744073709551615}`, 18446744073709551615, false},
		{`{"stream":"S","seq":18446744073709551616}`, 0, true},
		{`{"stream":"\"seq\":5","seq":6}`, 6, false},
		{`{"stream":"x\"seq\":5"}`, 0, true},
		{`{"stream":"x,\"seq\":5"}`, 0, true},
		{`{"stream":"S","seq":-1}`, 0, true},
		{`not json`, 0, true},
		{``, 0, true},
	} {
		seq, err := parsePubAck(&nats.Msg{Data: []byte(tc.data)})
		if (err != nil) != tc.err || seq != tc.seq {
			t.Errorf("%s: got %d, %v; want %d, error %v", tc.data, seq, err, tc.seq, tc.err)
		}
	}
}

func FuzzParsePubAck(f *testing.F) {
	for _, s := range []string{`{"stream":"S","seq":42}`, `{"error":{"code":1}}`, `{"seq":1,"seq":2}`, `{}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fast, ok := pubAckSeq(b)
		if !ok {
			return
		}
		// The fast path may only answer what encoding/json reads too.
		var ack struct {
			Seq uint64 `json:"seq"`
		}
		if err := json.Unmarshal(b, &ack); err == nil && ack.Seq != fast {
			t.Fatalf("%q: fast %d, json %d", b, fast, ack.Seq)
		}
	})
}
