package bridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wsgate/wsgate/subjects"
)

// JetStream is what protocol adapters use of JetStream: streams and durable
// consumers for messages that must survive (MQTT QoS 1/2, durable STOMP
// queues), key-value buckets for state (retained messages, sessions). It
// wraps nats.go's jetstream package, so protocol packages never import
// nats.go; everything lives on the NATS deployment, never in gateway memory,
// so a restart or a second gateway loses nothing.
type JetStream struct {
	js       jetstream.JetStream
	pub      asyncPublisher
	replicas int // of what the caller gives no count (Options.StreamReplicas)
	log      *slog.Logger

	mu      sync.Mutex
	streams map[string]bool // ensured in this process
	kvs     map[string]*KV
}

// Errors of the JetStream facade.
var (
	ErrNotFound  = errors.New("bridge: not found")
	ErrKeyExists = errors.New("bridge: key exists")
	ErrWrongRev  = errors.New("bridge: revision mismatch")
)

func newJetStream(nc *nats.Conn, replicas int, log *slog.Logger) (*JetStream, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	return &JetStream{js: js, pub: asyncPublisher{nc: nc, timeout: publishAsyncTimeout},
		replicas: replicas, log: jsLogger(log), streams: map[string]bool{}, kvs: map[string]*KV{}}, nil
}

// JetStream returns the gateway's JetStream facade.
func (s *Session) JetStream() *JetStream { return s.gw.js }

// StreamConfig describes a stream. Zero values are JetStream's defaults.
type StreamConfig struct {
	Name     string
	Subjects []string
	// Retention is "limits" (default), "interest" or "workqueue".
	Retention         string
	MaxAge            time.Duration
	MaxMsgsPerSubject int64
	MaxBytes          int64
	// Replicas is how many servers of a clustered JetStream keep the
	// stream (at most MaxReplicas). Default: the gateway's
	// Options.StreamReplicas, 1 unless set.
	Replicas int
	// AllowMsgSchedules lets the stream hold messages that the server
	// publishes later (PublishAt); it needs nats-server 2.12 or later.
	AllowMsgSchedules bool
	// Duplicates is how long the stream remembers a message id (HeaderMsgID)
	// to keep a message published twice once: JetStream's default, 2
	// minutes, unless set. The stream holds one entry per id for that long,
	// so a high-rate stream whose publishers retry for seconds should not
	// keep minutes of them.
	Duplicates time.Duration
}

// EnsureStream creates the stream, or updates it to c, once per process.
// A stream that exists with other replicas is changed to c's, or, if
// JetStream refuses, kept as it is with a warning that names it
// (applyReplicas).
func (j *JetStream) EnsureStream(ctx context.Context, c StreamConfig) error {
	j.mu.Lock()
	done := j.streams[c.Name]
	j.mu.Unlock()
	if done {
		return nil
	}
	cfg := jetstream.StreamConfig{
		Name:              c.Name,
		Subjects:          c.Subjects,
		MaxAge:            c.MaxAge,
		MaxMsgsPerSubject: c.MaxMsgsPerSubject,
		MaxBytes:          c.MaxBytes,
		Storage:           jetstream.FileStorage,
		AllowMsgSchedules: c.AllowMsgSchedules,
		Duplicates:        c.Duplicates,
	}
	switch c.Retention {
	case "", "limits":
		cfg.Retention = jetstream.LimitsPolicy
	case "interest":
		cfg.Retention = jetstream.InterestPolicy
	case "workqueue":
		cfg.Retention = jetstream.WorkQueuePolicy
	default:
		return fmt.Errorf("stream %s: unknown retention %q", c.Name, c.Retention)
	}
	if c.MaxBytes == 0 {
		cfg.MaxBytes = -1
	}
	err := j.applyReplicas(ctx, "stream", c.Name, c.Name, j.replicasFor(c.Replicas), func(ctx context.Context, replicas int) error {
		cfg.Replicas = replicas
		_, err := j.js.CreateOrUpdateStream(ctx, cfg)
		return err
	})
	if err != nil {
		return err
	}
	j.mu.Lock()
	j.streams[c.Name] = true
	j.mu.Unlock()
	return nil
}

// Publish stores a message in the stream that captures subject and waits
// for the stream's acknowledgement; it returns the stream sequence.
func (j *JetStream) Publish(ctx context.Context, subject string, hdr Header, data []byte) (uint64, error) {
	ack, err := j.js.PublishMsg(ctx, &nats.Msg{Subject: subject, Header: nats.Header(hdr), Data: data})
	if err != nil {
		return 0, fmt.Errorf("jetstream publish %q: %w", subject, err)
	}
	return ack.Sequence, nil
}

// HeaderMsgID is JetStream's message id header: a stream keeps one
// message per id within its duplicate window.
const HeaderMsgID = jetstream.MsgIDHeader

// PublishOnce stores a message like Publish, under msgID, and asks again
// after each attempt that gets no answer, while ctx allows. The stream
// keeps one copy per msgID within its duplicate window (two minutes by
// default), so an acknowledgement lost with a NATS server that died after
// storing the message, or a stream between leaders, costs one attempt,
// not ctx's whole deadline.
func (j *JetStream) PublishOnce(ctx context.Context, subject, msgID string, hdr Header, data []byte, attempt time.Duration) (uint64, error) {
	h := nats.Header(maps.Clone(hdr))
	if h == nil {
		h = nats.Header{}
	}
	h.Set(HeaderMsgID, msgID)
	for {
		actx, cancel := context.WithTimeout(ctx, attempt)
		ack, err := j.js.PublishMsg(actx, &nats.Msg{Subject: subject, Header: h, Data: data})
		cancel()
		if err == nil {
			return ack.Sequence, nil
		}
		if !Retryable(err) || ctx.Err() != nil {
			return 0, fmt.Errorf("jetstream publish %q: %w", subject, err)
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("jetstream publish %q: %w", subject, err)
		case <-time.After(publishRetryWait):
		}
	}
}

// Retryable reports whether a store failed for want of an answer — no
// responders (the stream is between leaders, or its server has just
// gone), no acknowledgement in time — so that the same store, under the
// same message id, may succeed.
func Retryable(err error) bool {
	var api *jetstream.APIError
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrPublishTimeout) ||
		errors.Is(err, nats.ErrNoResponders) || errors.Is(err, jetstream.ErrNoStreamResponse) ||
		errors.Is(err, nats.ErrTimeout) ||
		errors.As(err, &api) && api.ErrorCode == errCodeDuplicateInProcess
}

// errCodeDuplicateInProcess is JetStream's answer to a store whose message
// id an earlier attempt still has in flight (a stream whose leader was
// stopped mid-proposal, then continued): asked again a moment later, the
// same store gets the duplicate's acknowledgement.
const errCodeDuplicateInProcess = 10158

// publishRetryWait is the pause between PublishOnce's attempts.
const publishRetryWait = 100 * time.Millisecond

// PublishAsync stores a message like Publish without waiting: done is
// called once with the stream sequence or the error (ErrPublishTimeout
// after publishAsyncTimeout), so one connection can have many stores in
// flight instead of paying a round trip for each. done runs on the
// gateway's acknowledgement goroutine and must not block.
func (j *JetStream) PublishAsync(subject string, hdr Header, data []byte, done func(seq uint64, err error)) {
	j.pub.publish(&nats.Msg{Subject: subject, Header: nats.Header(hdr), Data: data}, func(seq uint64, err error, _ *Batch) { done(seq, err) })
}

// PublishBatched is PublishAsync whose done may send through b (nil
// when done runs elsewhere than on the acknowledgement goroutine): the
// frames sent for acknowledgements that arrived together leave in one
// write per connection.
func (j *JetStream) PublishBatched(subject string, hdr Header, data []byte, done func(seq uint64, err error, b *Batch)) {
	j.pub.publish(&nats.Msg{Subject: subject, Header: nats.Header(hdr), Data: data}, done)
}

// PublishAt stores data on subject, in a stream with AllowMsgSchedules,
// for the server to publish on target (a subject of the same stream) at
// at; a later PublishAt on the same subject replaces it. The server keeps
// the schedule, so it fires whether or not this gateway still runs.
func (j *JetStream) PublishAt(ctx context.Context, subject, target string, at time.Time, data []byte) error {
	hdr := nats.Header{
		"Nats-Schedule":        {"@at " + at.UTC().Format(time.RFC3339Nano)},
		"Nats-Schedule-Target": {target},
	}
	if _, err := j.js.PublishMsg(ctx, &nats.Msg{Subject: subject, Header: hdr, Data: data}); err != nil {
		return fmt.Errorf("jetstream schedule %q: %w", subject, err)
	}
	return nil
}

// Republish sends, on core NATS, a message recorded in JetStream earlier
// (a delayed MQTT will), with the headers it was recorded with: whatever
// checks it needed were made when it was recorded, by the connection it
// belongs to, which may be gone or have been on another gateway.
func (j *JetStream) Republish(subject string, hdr Header, data []byte) error {
	if err := j.pub.nc.PublishMsg(&nats.Msg{Subject: subject, Header: nats.Header(hdr), Data: data}); err != nil {
		return fmt.Errorf("republish %q: %w", subject, err)
	}
	return nil
}

// publishAsyncTimeout bounds an asynchronous publish waiting for its
// acknowledgement.
const publishAsyncTimeout = 5 * time.Second

// ConsumerConfig describes a consumer. Zero values are defaults.
type ConsumerConfig struct {
	Stream string
	// Durable names a consumer that outlives its subscriber; "" makes an
	// ephemeral one.
	Durable        string
	FilterSubjects []string
	// DeliverPolicy is "all" (default), "new", "last_per_subject" or
	// "by_start_time" (the messages stored after StartTime).
	DeliverPolicy string
	// StartTime is where "by_start_time" starts.
	StartTime time.Time
	// AckWait is how long a delivery may stay unacknowledged before it is
	// redelivered. Default 30s.
	AckWait time.Duration
	// MaxAckPending bounds unacknowledged deliveries. Default 1024.
	MaxAckPending int
	// MaxDeliver bounds redeliveries. Default unlimited.
	MaxDeliver int
	// AckAll makes an ack cumulative: it acknowledges every earlier
	// delivery too (STOMP's ack:client).
	AckAll bool
	// InactiveThreshold removes the consumer after it has had no
	// subscriber this long (a session's expiry). Default: never.
	InactiveThreshold time.Duration
}

// DurableMessage is a message delivered from a stream; it must be
// acknowledged (or refused) once handled.
type DurableMessage struct {
	Message
	// Seq is the message's stream sequence.
	Seq uint64
	// Delivered counts deliveries of this message: 1 the first time.
	Delivered int
	// Time is when the stream stored the message.
	Time time.Time

	m jetstream.Msg
}

// Ack acknowledges the delivery.
func (m *DurableMessage) Ack() error { return m.m.Ack() }

// AckSync acknowledges and waits for the server to confirm, for
// exactly-once handshakes.
func (m *DurableMessage) AckSync(ctx context.Context) error { return m.m.DoubleAck(ctx) }

// Nak asks for redelivery, after delay if positive.
func (m *DurableMessage) Nak(delay time.Duration) error {
	if delay > 0 {
		return m.m.NakWithDelay(delay)
	}
	return m.m.Nak()
}

// Term stops redelivery of the message for good.
func (m *DurableMessage) Term() error { return m.m.Term() }

// InProgress resets the ack timer.
func (m *DurableMessage) InProgress() error { return m.m.InProgress() }

// Consumer is a running consumption of a stream.
type Consumer struct {
	js      *JetStream
	cfg     jetstream.ConsumerConfig
	stream  string
	name    string
	pending uint64 // messages matching it when it was created

	mu      sync.Mutex
	cc      jetstream.ConsumeContext // the running consumption (repull.go)
	done    bool                     // stopped or drained: never restarted
	quit    chan struct{}            // closed when done
	repulls int                      // restarts so far, for their backoff
}

// Name is the consumer's name (its durable name, or a generated one).
func (c *Consumer) Name() string { return c.name }

// Pending is how many messages the consumer had to deliver when it was
// created: a replay of what is stored stops after them.
func (c *Consumer) Pending() uint64 { return c.pending }

// Stop stops delivering at once; messages already received and not yet
// handed to deliver are dropped (and come back after AckWait). A durable
// consumer stays on the server.
func (c *Consumer) Stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.end()
	c.cc.Stop()
}

// Drain stops delivering after handing deliver what has already arrived,
// including messages the server sent before it saw the subscription go:
// a deliver that refuses (Nak) messages once its subscriber has left thus
// returns every one of them to the stream promptly.
func (c *Consumer) Drain() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.end()
	c.cc.Drain()
}

// SetInactiveThreshold changes how long the consumer may go without a
// subscriber before JetStream removes it (ConsumerConfig.InactiveThreshold).
// It works whether or not this Consumer is still running.
func (c *Consumer) SetInactiveThreshold(ctx context.Context, d time.Duration) error {
	cfg := c.cfg
	cfg.InactiveThreshold = d
	if _, err := c.js.js.UpdateConsumer(ctx, c.stream, cfg); err != nil {
		return fmt.Errorf("consumer %s on %s: %w", c.name, c.stream, err)
	}
	return nil
}

// Consume creates or binds the consumer and calls deliver for each message,
// in order, on a goroutine of its own. deliver should not block for long;
// unacknowledged messages come back after AckWait.
func (j *JetStream) Consume(ctx context.Context, c ConsumerConfig, deliver func(*DurableMessage)) (*Consumer, error) {
	cfg := jetstream.ConsumerConfig{
		Durable:           c.Durable,
		FilterSubjects:    c.FilterSubjects,
		AckPolicy:         jetstream.AckExplicitPolicy,
		AckWait:           c.AckWait,
		MaxAckPending:     c.MaxAckPending,
		MaxDeliver:        c.MaxDeliver,
		InactiveThreshold: c.InactiveThreshold,
	}
	if c.AckAll {
		cfg.AckPolicy = jetstream.AckAllPolicy
	}
	switch c.DeliverPolicy {
	case "", "all":
		cfg.DeliverPolicy = jetstream.DeliverAllPolicy
	case "new":
		cfg.DeliverPolicy = jetstream.DeliverNewPolicy
	case "last_per_subject":
		cfg.DeliverPolicy = jetstream.DeliverLastPerSubjectPolicy
	case "by_start_time":
		cfg.DeliverPolicy = jetstream.DeliverByStartTimePolicy
		t := c.StartTime
		cfg.OptStartTime = &t
	default:
		return nil, fmt.Errorf("consumer %s: unknown deliver policy %q", c.Durable, c.DeliverPolicy)
	}
	if cfg.AckWait == 0 {
		cfg.AckWait = 30 * time.Second
	}
	if cfg.MaxAckPending == 0 {
		cfg.MaxAckPending = 1024
	}
	cons, err := j.js.CreateOrUpdateConsumer(ctx, c.Stream, cfg)
	if err != nil {
		return nil, fmt.Errorf("consumer %s on %s: %w", c.Durable, c.Stream, err)
	}
	info := cons.CachedInfo()
	consumer := &Consumer{js: j, cfg: info.Config, stream: c.Stream, name: info.Name, pending: info.NumPending}
	err = consumer.start(cons, func(m jetstream.Msg) {
		dm := &DurableMessage{Message: Message{Subject: m.Subject(), Reply: m.Reply(), Header: Header(m.Headers()), Data: m.Data()}, m: m}
		if md, err := m.Metadata(); err == nil {
			dm.Seq = md.Sequence.Stream
			dm.Delivered = int(md.NumDelivered)
			dm.Time = md.Timestamp
		}
		deliver(dm)
	})
	if err != nil {
		return nil, fmt.Errorf("consume %s on %s: %w", c.Durable, c.Stream, err)
	}
	return consumer, nil
}

// DeleteConsumer removes a durable consumer (a session that ended for good).
func (j *JetStream) DeleteConsumer(ctx context.Context, stream, name string) error {
	err := j.js.DeleteConsumer(ctx, stream, name)
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		return ErrNotFound
	}
	return err
}

// KVConfig describes a key-value bucket. Zero values are defaults.
type KVConfig struct {
	// History is how many values per key are kept. Default 1.
	History uint8
	// TTL expires values this old. Default: never.
	TTL time.Duration
	// MaxValueSize bounds a value. Default: the server's maximum.
	MaxValueSize int32
	// Replicas is how many servers of a clustered JetStream keep the
	// bucket, as StreamConfig.Replicas. Default: the gateway's
	// Options.StreamReplicas, 1 unless set.
	Replicas int
}

// KV is a JetStream key-value bucket. Keys are made of
// [-/_=.a-zA-Z0-9]; a protocol encodes other names itself.
type KV struct {
	kv  jetstream.KeyValue
	js  *JetStream
	put string // subject prefix of the bucket's keys: "$KV.<bucket>."
}

// KVEntry is one value of a key, or its deletion.
type KVEntry struct {
	Key      string
	Value    []byte
	Revision uint64
	Deleted  bool
}

// KV opens the bucket, creating it as c if it does not exist, or updating
// it to c; its replicas are changed as EnsureStream changes a stream's.
func (j *JetStream) KV(ctx context.Context, bucket string, c KVConfig) (*KV, error) {
	j.mu.Lock()
	kv := j.kvs[bucket]
	j.mu.Unlock()
	if kv != nil {
		return kv, nil
	}
	var b jetstream.KeyValue
	err := j.applyReplicas(ctx, "bucket", bucket, "KV_"+bucket, j.replicasFor(c.Replicas), func(ctx context.Context, replicas int) error {
		var err error
		b, err = j.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket:       bucket,
			History:      max(c.History, 1),
			TTL:          c.TTL,
			MaxValueSize: c.MaxValueSize,
			Storage:      jetstream.FileStorage,
			Replicas:     replicas,
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("kv: %w", err)
	}
	// Buckets are opened here, never through a domain or a mirror, so a
	// key's subject is the bucket's plain one.
	kv = &KV{kv: b, js: j, put: "$KV." + bucket + "."}
	j.mu.Lock()
	j.kvs[bucket] = kv
	j.mu.Unlock()
	return kv, nil
}

// Get returns a key's value and revision, or ErrNotFound.
func (k *KV) Get(ctx context.Context, key string) ([]byte, uint64, error) {
	e, err := k.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, ErrNotFound
	}
	if err != nil {
		return nil, 0, err
	}
	return e.Value(), e.Revision(), nil
}

// Put sets a key.
func (k *KV) Put(ctx context.Context, key string, value []byte) (uint64, error) {
	return k.kv.Put(ctx, key, value)
}

// PutAsync sets a key without waiting, like JetStream.PublishAsync (a
// key-value put is a publish on the key's subject): done gets the new
// revision or the error, and must not block.
func (k *KV) PutAsync(key string, value []byte, done func(rev uint64, err error)) {
	k.js.PublishAsync(k.put+key, nil, value, done)
}

// DeleteAsync removes a key without waiting, as a publish of a delete
// marker on the key's subject (what a key-value Delete is); done must not
// block.
func (k *KV) DeleteAsync(key string, done func(err error)) {
	hdr := Header{"KV-Operation": {"DEL"}}
	k.js.PublishAsync(k.put+key, hdr, nil, func(_ uint64, err error) { done(err) })
}

// PutSince reports whether a value was put for key after revision rev,
// among the values the bucket keeps (its History).
func (k *KV) PutSince(ctx context.Context, key string, rev uint64) (bool, error) {
	es, err := k.kv.History(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	for _, e := range es {
		if e.Operation() == jetstream.KeyValuePut && e.Revision() > rev {
			return true, nil
		}
	}
	return false, nil
}

// Create sets a key that must not exist, else ErrKeyExists.
func (k *KV) Create(ctx context.Context, key string, value []byte) (uint64, error) {
	rev, err := k.kv.Create(ctx, key, value)
	if errors.Is(err, jetstream.ErrKeyExists) {
		return 0, ErrKeyExists
	}
	return rev, err
}

// Update sets a key whose revision is still rev, else ErrWrongRev.
func (k *KV) Update(ctx context.Context, key string, value []byte, rev uint64) (uint64, error) {
	n, err := k.kv.Update(ctx, key, value, rev)
	if err != nil && strings.Contains(err.Error(), "wrong last sequence") {
		return 0, ErrWrongRev
	}
	return n, err
}

// Delete removes a key.
func (k *KV) Delete(ctx context.Context, key string) error { return k.kv.Delete(ctx, key) }

// DeleteIf removes a key whose revision is still rev, in one round trip;
// a key changed since is left alone (ErrWrongRev).
func (k *KV) DeleteIf(ctx context.Context, key string, rev uint64) error {
	err := k.kv.Delete(ctx, key, jetstream.LastRevision(rev))
	if err != nil && strings.Contains(err.Error(), "wrong last sequence") {
		return ErrWrongRev
	}
	return err
}

// Keys lists the keys matching the filters (NATS wildcards; none: all).
func (k *KV) Keys(ctx context.Context, filters ...string) ([]string, error) {
	if len(filters) == 0 {
		filters = []string{">"}
	}
	l, err := k.kv.ListKeysFiltered(ctx, filters...)
	if err != nil {
		return nil, err
	}
	var keys []string
	for key := range l.Keys() {
		keys = append(keys, key)
	}
	return keys, nil
}

// Watch calls fn with the current value of every key matching filter, then
// with every change, until stop is called. fn runs on one goroutine.
func (k *KV) Watch(ctx context.Context, filter string, fn func(KVEntry)) (stop func(), err error) {
	w, err := k.kv.Watch(ctx, filter)
	if err != nil {
		return nil, err
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for e := range w.Updates() {
			if e == nil {
				continue // the initial values have all been sent
			}
			fn(KVEntry{Key: e.Key(), Value: e.Value(), Revision: e.Revision(),
				Deleted: e.Operation() != jetstream.KeyValuePut})
		}
	}()
	return func() { _ = w.Stop(); <-done }, nil
}

// MayReceive reports whether a message on subject may be delivered to this
// connection: a valid subject outside the reserved space that its
// principal may subscribe to. Every delivery that does not come through a
// checked live subscription — retained messages, replayed or persistent
// session messages — must pass it.
func (s *Session) MayReceive(subject string) bool {
	return subjects.ValidateSubject(subject) == nil &&
		!subjects.IsReserved(subject, s.gw.cfg.ReservedPrefix) &&
		s.Principal().Permissions.CanSubscribe(subject)
}
