package bridge

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// logBuffer collects JSON log lines for a test to look through.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// find returns the first line with msg and every given field, or nil.
func (b *logBuffer) find(msg string, fields map[string]any) map[string]any {
	b.mu.Lock()
	defer b.mu.Unlock()
next:
	for line := range strings.SplitSeq(b.buf.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) != nil || m["msg"] != msg {
			continue
		}
		for k, v := range fields {
			if fmt.Sprint(m[k]) != fmt.Sprint(v) {
				continue next
			}
		}
		return m
	}
	return nil
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// standaloneJS is a JetStream facade on a fresh embedded server (no
// cluster), with the given default replicas, logging into logs.
func standaloneJS(t *testing.T, emb *Embedded, replicas int, logs *logBuffer) *JetStream {
	t.Helper()
	nc, err := emb.Connect()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := newJetStream(nc, replicas, logs.logger())
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// streamReplicas is the replica count JetStream reports for stream.
func streamReplicas(t *testing.T, js *JetStream, stream string) (replicas int, maxAge time.Duration) {
	t.Helper()
	s, err := js.js.Stream(context.Background(), stream)
	if err != nil {
		t.Fatal(err)
	}
	c := s.CachedInfo().Config
	return c.Replicas, c.MaxAge
}

// TestReplicasStandalone: without a cluster, a gateway asking for 3
// replicas of a stream or bucket that exists with 1 keeps using it, says
// so with the names and both counts, and still applies the rest of its
// config; one that does not exist yet cannot be made, and the error says
// with how many replicas; a caller's own count beats the gateway's.
func TestReplicasStandalone(t *testing.T) {
	emb, err := StartEmbedded(EmbeddedConfig{Listen: "-", DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emb.Shutdown)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	var logs1, logs3 logBuffer
	js1 := standaloneJS(t, emb, 0, &logs1) // the default: 1
	js3 := standaloneJS(t, emb, 3, &logs3)

	if err := js1.EnsureStream(ctx, StreamConfig{Name: "T_R", Subjects: []string{"r.>"}}); err != nil {
		t.Fatal(err)
	}
	if n, _ := streamReplicas(t, js1, "T_R"); n != 1 {
		t.Fatalf("default replicas %d, want 1", n)
	}
	if _, err := js1.KV(ctx, "t_r", KVConfig{}); err != nil {
		t.Fatal(err)
	}

	// The same stream, wanted with 3 replicas and a new MaxAge.
	if err := js3.EnsureStream(ctx, StreamConfig{Name: "T_R", Subjects: []string{"r.>"}, MaxAge: time.Hour}); err != nil {
		t.Fatalf("an existing stream must stay usable: %v", err)
	}
	if n, age := streamReplicas(t, js1, "T_R"); n != 1 || age != time.Hour {
		t.Errorf("stream now has %d replicas and max age %s, want 1 and 1h (the rest of the update applied)", n, age)
	}
	if logs3.find("jetstream replicas NOT changed: JetStream refused, the stream keeps its replicas",
		map[string]any{"stream": "T_R", "have": 1, "want": 3, "level": "WARN"}) == nil {
		t.Errorf("no warning naming the stream and both counts:\n%s", logs3.String())
	}

	kv, err := js3.KV(ctx, "t_r", KVConfig{TTL: time.Hour})
	if err != nil {
		t.Fatalf("an existing bucket must stay usable: %v", err)
	}
	if _, err := kv.Put(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if n, age := streamReplicas(t, js1, "KV_t_r"); n != 1 || age != time.Hour {
		t.Errorf("bucket now has %d replicas and TTL %s, want 1 and 1h", n, age)
	}
	if logs3.find("jetstream replicas NOT changed: JetStream refused, the bucket keeps its replicas",
		map[string]any{"bucket": "t_r", "have": 1, "want": 3}) == nil {
		t.Errorf("no warning naming the bucket and both counts:\n%s", logs3.String())
	}

	// A new stream with 3 replicas cannot exist without a cluster.
	err = js3.EnsureStream(ctx, StreamConfig{Name: "T_NEW", Subjects: []string{"new.>"}})
	if err == nil || !strings.Contains(err.Error(), "stream T_NEW (3 replicas)") {
		t.Errorf("new R3 stream without a cluster: %v", err)
	}
	if _, err := js3.KV(ctx, "t_new", KVConfig{}); err == nil || !strings.Contains(err.Error(), "bucket t_new (3 replicas)") {
		t.Errorf("new R3 bucket without a cluster: %v", err)
	}
	// The caller's own count beats the gateway's.
	if err := js3.EnsureStream(ctx, StreamConfig{Name: "T_OWN", Subjects: []string{"own.>"}, Replicas: 1}); err != nil {
		t.Errorf("own replicas 1: %v", err)
	}
	if logs1.find("jetstream replicas changed", nil) != nil || logs1.find("jetstream replicas NOT changed: JetStream refused, the stream keeps its replicas", nil) != nil {
		t.Errorf("nothing changed for js1, yet:\n%s", logs1.String())
	}
}

// TestStreamReplicasOption: New refuses a replica count JetStream cannot
// have.
func TestStreamReplicasOption(t *testing.T) {
	emb, err := StartEmbedded(EmbeddedConfig{Listen: "-", DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emb.Shutdown)
	nc, err := emb.Connect()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	for _, n := range []int{-1, MaxReplicas + 1} {
		_, err := New(Options{NATS: nc, Protocols: []Protocol{newTestProto()}, StreamReplicas: n})
		if err == nil || !strings.Contains(err.Error(), "StreamReplicas") {
			t.Errorf("StreamReplicas %d: %v", n, err)
		}
	}
}
