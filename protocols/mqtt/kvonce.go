package mqtt

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/wsgate/wsgate/bridge"
)

// kvOnce is a key-value bucket the protocol opens on first use (the
// retained, clients and wills buckets), retrying at most every 10 s after
// a failure — an external NATS without JetStream.
type kvOnce struct {
	mu    sync.Mutex
	kv    *bridge.KV
	retry time.Time
}

// open returns the bucket, opening it with cfg if need be; setup (maybe
// nil) runs once on the opened bucket, which counts as open only if setup
// succeeds. On failure it logs unavailable and returns nil.
func (o *kvOnce) open(js *bridge.JetStream, log *slog.Logger, bucket string, cfg bridge.KVConfig, unavailable string,
	setup func(js *bridge.JetStream, kv *bridge.KV) error) *bridge.KV {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.kv != nil || time.Now().Before(o.retry) {
		return o.kv
	}
	if js == nil {
		o.retry = time.Now().Add(10 * time.Second)
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	kv, err := js.KV(ctx, bucket, cfg)
	if err == nil && setup != nil {
		err = setup(js, kv)
	}
	if err != nil {
		log.Warn(unavailable, "bucket", bucket, "err", err)
		o.retry = time.Now().Add(10 * time.Second)
		return nil
	}
	o.kv = kv
	return kv
}

// bucket is the bucket if it is open, without opening it.
func (o *kvOnce) bucket() *bridge.KV {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.kv
}
