package stomp

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/wsgate/wsgate/subjects"
)

// Config is the stomp: block. The zero value is usable: every field says
// its default.
type Config struct {
	// MaxFrameBytes is the largest frame a client may send, headers and
	// body; a larger one is an ERROR. Default 1 MiB.
	MaxFrameBytes int `yaml:"max_frame_bytes"`
	// MaxHeaders is the most header lines in a client frame. Default 64.
	MaxHeaders int `yaml:"max_headers"`
	// MaxHeaderLineBytes is the longest command or header line. Default
	// 8 KiB.
	MaxHeaderLineBytes int `yaml:"max_header_line_bytes"`

	// HeartbeatSend is the shortest interval at which the gateway offers to
	// send heart-beats; the client's wish, if longer, wins. Default 10s;
	// negative: the gateway sends none.
	HeartbeatSend time.Duration `yaml:"heartbeat_send"`
	// HeartbeatReceive is the shortest interval at which the gateway wants
	// the client's heart-beats; the client's offer, if longer, wins. A
	// client silent for twice the agreed interval is closed with an ERROR.
	// Default 10s; negative: the gateway asks for none.
	HeartbeatReceive time.Duration `yaml:"heartbeat_receive"`

	// RequestTimeout bounds a SEND with a /temp-queue/ reply-to, which is
	// a NATS request. Default 30s.
	RequestTimeout time.Duration `yaml:"request_timeout"`
	// MaxInflight is how many such requests one connection may have
	// waiting; one more is an ERROR. Default 16.
	MaxInflight int `yaml:"max_inflight"`

	// MaxTransactions is how many transactions one connection may have
	// open. Default 16.
	MaxTransactions int `yaml:"max_transactions"`
	// MaxTransactionFrames is how many SEND, ACK and NACK frames one
	// transaction may hold. Default 1000.
	MaxTransactionFrames int `yaml:"max_transaction_frames"`
	// MaxTransactionBytes bounds the bodies one transaction may hold.
	// Default 4 MiB.
	MaxTransactionBytes int `yaml:"max_transaction_bytes"`

	// DurableQueues are the /queue/ destinations kept in JetStream, so
	// that messages wait for a subscriber and survive restarts; a pattern
	// may use * and > ("/queue/jobs.*"). Default none: every queue is a
	// plain NATS queue group, at most once.
	DurableQueues []string `yaml:"durable_queues"`
	// DurableAckWait is how long a durable queue's message may wait for
	// the client's ACK before it is redelivered. Default 30s.
	DurableAckWait time.Duration `yaml:"durable_ack_wait"`
}

func (c Config) withDefaults() Config {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.MaxFrameBytes, 1<<20)
	def(&c.MaxHeaders, 64)
	def(&c.MaxHeaderLineBytes, 8<<10)
	def(&c.MaxInflight, 16)
	def(&c.MaxTransactions, 16)
	def(&c.MaxTransactionFrames, 1000)
	def(&c.MaxTransactionBytes, 4<<20)
	if c.HeartbeatSend == 0 {
		c.HeartbeatSend = 10 * time.Second
	}
	if c.HeartbeatReceive == 0 {
		c.HeartbeatReceive = 10 * time.Second
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = 30 * time.Second
	}
	if c.DurableAckWait == 0 {
		c.DurableAckWait = 30 * time.Second
	}
	return c
}

// Validate reports every problem of c, each naming its key (without the
// stomp. prefix).
func (c Config) Validate() error {
	var errs []error
	for _, n := range []struct {
		key string
		v   int
	}{
		{"max_frame_bytes", c.MaxFrameBytes}, {"max_headers", c.MaxHeaders},
		{"max_header_line_bytes", c.MaxHeaderLineBytes}, {"max_inflight", c.MaxInflight},
		{"max_transactions", c.MaxTransactions}, {"max_transaction_frames", c.MaxTransactionFrames},
		{"max_transaction_bytes", c.MaxTransactionBytes},
	} {
		if n.v < 0 {
			errs = append(errs, fmt.Errorf("%s: must not be negative", n.key))
		}
	}
	if c.RequestTimeout < 0 {
		errs = append(errs, errors.New("request_timeout: must not be negative"))
	}
	if c.DurableAckWait < 0 {
		errs = append(errs, errors.New("durable_ack_wait: must not be negative"))
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{{"heartbeat_send", c.HeartbeatSend}, {"heartbeat_receive", c.HeartbeatReceive}} {
		if d.v > 0 && d.v < 100*time.Millisecond {
			errs = append(errs, fmt.Errorf("%s: %s is shorter than 100ms", d.key, d.v))
		}
	}
	for i, q := range c.DurableQueues {
		if _, err := durablePattern(q); err != nil {
			errs = append(errs, fmt.Errorf("durable_queues[%d]: %w", i, err))
		}
	}
	return errors.Join(errs...)
}

// durablePattern is the subject pattern of a durable_queues entry.
func durablePattern(q string) (string, error) {
	name, ok := strings.CutPrefix(q, prefixQueue)
	if !ok {
		return "", fmt.Errorf("%q does not start with %s", q, prefixQueue)
	}
	if err := subjects.ValidatePattern(name); err != nil {
		return "", err
	}
	return name, nil
}
