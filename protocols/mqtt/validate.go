package mqtt

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits of the MQTT wire format that config values must fit.
const (
	// maxWirePacket is the largest packet MQTT can frame: a remaining
	// length of 268,435,455 bytes after a fixed header of at most 5.
	maxWirePacket = 268435455 + 5
	// maxU16 bounds values sent as two-byte integers: Receive Maximum,
	// Topic Alias Maximum, Server Keep Alive (in seconds).
	maxU16 = 65535
	// maxJSName is the longest stream name JetStream accepts; a key-value
	// bucket's stream is named KV_<bucket>.
	maxJSName = 255
)

// Validate reports every problem of c, each naming its key (without the
// mqtt. prefix). Zero means the default everywhere; a negative size, count
// or duration is an error, except outbound_topic_aliases, where it means
// none.
func (c Config) Validate() error {
	var errs []error
	for _, n := range []struct {
		key      string
		v, limit int
	}{
		{"max_packet_size", c.MaxPacketSize, maxWirePacket},
		{"receive_maximum", c.ReceiveMaximum, maxU16},
		{"max_inflight", c.MaxInflight, maxU16},
		{"max_queued", c.MaxQueued, 0},
		{"topic_alias_maximum", c.TopicAliasMaximum, maxU16},
		{"outbound_topic_aliases", max(c.OutboundTopicAliases, 0), maxU16},
		{"max_requests", c.MaxRequests, 0},
	} {
		switch {
		case n.v < 0:
			errs = append(errs, fmt.Errorf("%s: %d must not be negative", n.key, n.v))
		case n.limit > 0 && n.v > n.limit:
			errs = append(errs, fmt.Errorf("%s: %d is more than MQTT allows (%d)", n.key, n.v, n.limit))
		}
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{
		{"connect_timeout", c.ConnectTimeout}, {"max_keep_alive", c.MaxKeepAlive},
		{"request_timeout", c.RequestTimeout}, {"max_session_expiry", c.MaxSessionExpiry},
	} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("%s: %s must not be negative", d.key, d.v))
		}
	}
	// A UTF-8 string property: at most 65535 bytes, no U+0000 [MQTT-1.5.4-1/2].
	if r := c.ServerReference; len(r) > maxU16 || strings.ContainsRune(r, 0) || !utf8.ValidString(r) {
		errs = append(errs, fmt.Errorf("server_reference: %.40q is not an MQTT string", r))
	}
	// Server Keep Alive is whole seconds in two bytes [MQTT-3.2.2.3.14].
	if k := c.MaxKeepAlive; k > 0 && k < time.Second {
		errs = append(errs, fmt.Errorf("max_keep_alive: %s is shorter than 1s (keep-alives are whole seconds)", k))
	} else if k > maxU16*time.Second {
		errs = append(errs, fmt.Errorf("max_keep_alive: %s is longer than MQTT's %s", k, maxU16*time.Second))
	}
	for _, b := range []struct{ key, v string }{
		{"retained_bucket", c.RetainedBucket}, {"clients_bucket", c.ClientsBucket},
		{"sessions_bucket", c.SessionsBucket}, {"wills_bucket", c.WillsBucket},
	} {
		if err := validBucket(b.v); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", b.key, err))
		}
	}
	// The session stream's name is also the stem of its expiry stream
	// (expiry.go): both must fit.
	if err := validStream(c.SessionStream, maxJSName-len(expirySuffix)); err != nil {
		errs = append(errs, fmt.Errorf("session_stream: %w", err))
	}
	// Two uses of one bucket would mix their keys and fight over its TTL.
	d := c.withDefaults()
	names := map[string]string{}
	for _, b := range []struct{ key, v string }{
		{"retained_bucket", d.RetainedBucket}, {"clients_bucket", d.ClientsBucket},
		{"sessions_bucket", d.SessionsBucket}, {"wills_bucket", d.WillsBucket},
	} {
		if other, dup := names[b.v]; dup {
			errs = append(errs, fmt.Errorf("%s: %q is also %s", b.key, b.v, other))
		}
		names[b.v] = b.key
	}
	return errors.Join(errs...)
}

// validBucket applies JetStream's rule for key-value bucket names (the
// one nats.go checks): letters, digits, '_' and '-'. Empty is the default.
func validBucket(name string) error {
	if name == "" {
		return nil
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return fmt.Errorf("%q is not a key-value bucket name: use letters, digits, _ and -", name)
		}
	}
	if len("KV_"+name) > maxJSName {
		return fmt.Errorf("%q is longer than %d characters", name, maxJSName-len("KV_"))
	}
	return nil
}

// validStream applies JetStream's rule for stream names: no white space,
// '.', '*', '>', path separators or control characters, at most maxLen
// bytes (255, less what the gateway appends to derive other streams).
// Empty is the default.
func validStream(name string, maxLen int) error {
	if name == "" {
		return nil
	}
	if strings.ContainsAny(name, ".*>/\\") || strings.ContainsFunc(name, func(r rune) bool {
		return r <= ' ' || r == 0x7f
	}) {
		return fmt.Errorf("%q is not a stream name: no white space, '.', '*', '>', '/' or '\\'", name)
	}
	if len(name) > maxLen {
		return fmt.Errorf("%q is longer than %d bytes", name, maxLen)
	}
	return nil
}
