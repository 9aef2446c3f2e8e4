package bridge

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// asyncPublisher stores messages in JetStream without waiting and calls
// back when each is acknowledged. nats.go's own asynchronous publish hands
// out futures, which need a goroutine (and a timer) per message to turn
// into a callback; here one reply subscription per gateway calls each
// message's callback from the acknowledgement itself, and one sweep, running
// only while publishes are pending, times out the stragglers. Callbacks run on that subscription's
// goroutine, in the order acknowledgements arrive: they must not block.
type asyncPublisher struct {
	nc      *nats.Conn
	timeout time.Duration
	sub     *nats.Subscription // the replies; set once by start
	// batch holds the writers woken by callbacks while more replies wait
	// in sub: they start once the replies that arrived together are
	// handled. Only the reply goroutine uses it, and held, the replies
	// handled since it was last flushed.
	batch Batch
	held  int

	mu       sync.Mutex
	prefix   string // reply subject prefix, "_INBOX.<nuid>."; "" until first use
	next     uint64
	pending  map[string]*pendingPub // by reply token
	sweeping bool                   // the sweep runs while anything is pending
}

type pendingPub struct {
	subject string
	done    func(seq uint64, err error, b *Batch)
	expires time.Time
}

// ErrPublishTimeout is the error of a store JetStream did not acknowledge in
// time; the message may or may not be stored.
var ErrPublishTimeout = errors.New("bridge: jetstream publish not acknowledged in time")

// publish sends m (whose Reply it sets) and registers done. done's Batch
// is nil when it runs anywhere but on the reply goroutine.
func (a *asyncPublisher) publish(m *nats.Msg, done func(uint64, error, *Batch)) {
	a.mu.Lock()
	if a.prefix == "" {
		if err := a.start(); err != nil {
			a.mu.Unlock()
			done(0, err, nil)
			return
		}
	}
	a.next++
	token := strconv.FormatUint(a.next, 36)
	a.pending[token] = &pendingPub{subject: m.Subject, done: done, expires: time.Now().Add(a.timeout)}
	m.Reply = a.prefix + token
	if !a.sweeping {
		a.sweeping = true
		go a.sweep()
	}
	a.mu.Unlock()
	if err := a.nc.PublishMsg(m); err != nil {
		if p := a.take(token); p != nil {
			p.done(0, fmt.Errorf("jetstream publish %q: %w", m.Subject, err), nil)
		}
	}
}

// start subscribes to the replies and starts the sweep. Called with mu held.
func (a *asyncPublisher) start() error {
	prefix := a.nc.NewRespInbox() + "."
	sub, err := a.nc.Subscribe(prefix+"*", a.reply)
	if err != nil {
		return fmt.Errorf("jetstream publish replies: %w", err)
	}
	a.sub, a.prefix, a.pending = sub, prefix, map[string]*pendingPub{}
	return nil
}

// take removes and returns the pending publish of token, or nil.
func (a *asyncPublisher) take(token string) *pendingPub {
	a.mu.Lock()
	defer a.mu.Unlock()
	p := a.pending[token]
	delete(a.pending, token)
	return p
}

// reply handles one acknowledgement (or a no-responders status). The
// callbacks of acknowledgements that arrived together queue their frames
// in a.batch, whose writers start after the last of them: a connection
// with many stores in flight gets their acknowledgements in one write.
func (a *asyncPublisher) reply(m *nats.Msg) {
	if p := a.take(m.Subject[len(a.prefix):]); p != nil { // else timed out already
		seq, err := parsePubAck(m)
		if err != nil {
			err = fmt.Errorf("jetstream publish %q: %w", p.subject, err)
		}
		p.done(seq, err, &a.batch)
	}
	// The message being handled still counts as pending. A backlog that
	// never drains holds nothing back for more than maxBatchReplies.
	a.held++
	if n, _, err := a.sub.Pending(); err != nil || n <= 1 || a.held >= maxBatchReplies {
		a.batch.Flush()
		a.held = 0
	}
}

// maxBatchReplies bounds the acknowledgements handled before the writers
// they woke start.
const maxBatchReplies = 64

// parsePubAck reads a JetStream publish acknowledgement. The common one,
// {"stream":"S","seq":N} (maybe with "domain" or "duplicate"), is read
// without decoding the JSON: a fifth of the cost of a stored message.
// Anything else goes through encoding/json.
func parsePubAck(m *nats.Msg) (uint64, error) {
	if len(m.Data) == 0 && m.Header.Get("Status") == "503" {
		return 0, nats.ErrNoResponders
	}
	if seq, ok := pubAckSeq(m.Data); ok {
		return seq, nil
	}
	var ack struct {
		Seq   uint64 `json:"seq"`
		Error *struct {
			Code        int    `json:"code"`
			Description string `json:"description"`
		} `json:"error"`
	}
	if err := json.Unmarshal(m.Data, &ack); err != nil {
		return 0, fmt.Errorf("bad acknowledgement: %w", err)
	}
	if ack.Error != nil {
		return 0, fmt.Errorf("%s (%d)", ack.Error.Description, ack.Error.Code)
	}
	if ack.Seq == 0 {
		return 0, errors.New("acknowledgement without a sequence")
	}
	return ack.Seq, nil
}

// pubAckSeq finds the sequence of a successful acknowledgement: a JSON
// object with a "seq" number and no "error". It reports false for anything
// it is not sure of.
func pubAckSeq(b []byte) (uint64, bool) {
	if len(b) < 2 || b[0] != '{' || b[len(b)-1] != '}' || bytes.Contains(b, []byte(`"error"`)) {
		return 0, false
	}
	// A key follows '{' or ','; inside a string a quote follows a
	// backslash, so this is the key, not text in a value.
	i := bytes.Index(b, []byte(`"seq":`))
	if i < 1 || (b[i-1] != '{' && b[i-1] != ',') {
		return 0, false
	}
	rest := b[i+len(`"seq":`):]
	if bytes.Contains(rest, []byte(`"seq":`)) {
		return 0, false
	}
	n := 0
	for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
		n++
	}
	if n == 0 || n > 19 || (n < len(rest) && rest[n] != ',' && rest[n] != '}') {
		return 0, false
	}
	seq, err := strconv.ParseUint(string(rest[:n]), 10, 64)
	if err != nil || seq == 0 {
		return 0, false
	}
	return seq, true
}

// sweepEvery is how often the sweep looks for publishes past their timeout.
const sweepEvery = 250 * time.Millisecond

// sweep fails the publishes that waited past their timeout (all of them
// once the connection is closed) and exits when none is pending.
func (a *asyncPublisher) sweep() {
	t := time.NewTicker(sweepEvery)
	defer t.Stop()
	for now := range t.C {
		closed := a.nc.IsClosed() // nothing will be answered
		var late []*pendingPub
		a.mu.Lock()
		for token, p := range a.pending {
			if closed || now.After(p.expires) {
				late = append(late, p)
				delete(a.pending, token)
			}
		}
		idle := len(a.pending) == 0
		if idle {
			a.sweeping = false
		}
		a.mu.Unlock()
		for _, p := range late {
			p.done(0, fmt.Errorf("jetstream publish %q: %w", p.subject, ErrPublishTimeout), nil)
		}
		if idle {
			return
		}
	}
}
