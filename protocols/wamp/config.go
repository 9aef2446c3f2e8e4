package wamp

import (
	"errors"
	"fmt"
	"time"

	"github.com/wsgate/wsgate/subjects"
)

// Config is the wamp: block. The zero value is usable: every field says
// its default.
type Config struct {
	// Realms are the realms clients may join, each with the subject prefix
	// its URIs live under. Default none: any realm is admitted and its
	// URIs are subjects one to one, with no prefix (what dev mode wants).
	// Permissions apply either way.
	Realms []RealmConfig `yaml:"realms"`

	// MaxMessageBytes is the largest WAMP message a client may send; a
	// larger one ends the session with wamp.error.protocol_violation.
	// Default 1 MiB (gateway.max_message_bytes applies too).
	MaxMessageBytes int `yaml:"max_message_bytes"`
	// MaxDepth is the deepest nesting of lists and dicts in a client
	// message, the message itself counting as one. Default 32; at least 4.
	MaxDepth int `yaml:"max_depth"`

	// CallTimeout bounds every CALL: the router cancels a call with no
	// final result after this long (wamp.error.timeout); a CALL's own
	// timeout option may only shorten it. Default 30s.
	CallTimeout time.Duration `yaml:"call_timeout"`
	// MaxInflight is how many CALLs one connection may have waiting for
	// results; one more is answered with wamp.error.limit_exceeded.
	// Default 64.
	MaxInflight int `yaml:"max_inflight"`
	// MaxInvocations is how many INVOCATIONs one callee connection may
	// have unanswered; more are answered for it with
	// wamp.error.limit_exceeded. Default 256.
	MaxInvocations int `yaml:"max_invocations"`

	// RegistrationsBucket is the JetStream key-value bucket where
	// single-callee registrations are claimed cluster-wide. Default
	// wsgate_wamp_registrations.
	RegistrationsBucket string `yaml:"registrations_bucket"`
	// RegistrationTTL is how long a claim outlives a gateway that stopped
	// without releasing it; live claims are renewed every third of it.
	// Default 30s.
	RegistrationTTL time.Duration `yaml:"registration_ttl"`
}

// RealmConfig is one realm of wamp.realms.
type RealmConfig struct {
	// Name is the realm's URI, as HELLO names it.
	Name string `yaml:"name"`
	// SubjectPrefix is put in front of every URI of the realm
	// (com.app.chat in realm acme with prefix acme is acme.com.app.chat).
	// Default none.
	SubjectPrefix string `yaml:"subject_prefix"`
}

func (c Config) withDefaults() Config {
	if c.MaxMessageBytes == 0 {
		c.MaxMessageBytes = 1 << 20
	}
	if c.MaxDepth == 0 {
		c.MaxDepth = 32
	}
	if c.CallTimeout == 0 {
		c.CallTimeout = 30 * time.Second
	}
	if c.MaxInflight == 0 {
		c.MaxInflight = 64
	}
	if c.MaxInvocations == 0 {
		c.MaxInvocations = 256
	}
	if c.RegistrationsBucket == "" {
		c.RegistrationsBucket = "wsgate_wamp_registrations"
	}
	if c.RegistrationTTL == 0 {
		c.RegistrationTTL = 30 * time.Second
	}
	return c
}

// Validate reports every problem of c, each naming its key (without the
// wamp. prefix).
func (c Config) Validate() error {
	var errs []error
	for _, n := range []struct {
		key string
		v   int
	}{
		{"max_message_bytes", c.MaxMessageBytes}, {"max_depth", c.MaxDepth},
		{"max_inflight", c.MaxInflight}, {"max_invocations", c.MaxInvocations},
	} {
		if n.v < 0 {
			errs = append(errs, fmt.Errorf("%s: must not be negative", n.key))
		}
	}
	if c.MaxDepth > 0 && c.MaxDepth < 4 {
		errs = append(errs, fmt.Errorf("max_depth: %d is less than 4", c.MaxDepth))
	}
	if c.CallTimeout < 0 {
		errs = append(errs, errors.New("call_timeout: must not be negative"))
	}
	if c.RegistrationTTL < 0 || (c.RegistrationTTL > 0 && c.RegistrationTTL < time.Second) {
		errs = append(errs, fmt.Errorf("registration_ttl: %s is shorter than 1s", c.RegistrationTTL))
	}
	if b := c.RegistrationsBucket; b != "" && !validBucket(b) {
		errs = append(errs, fmt.Errorf("registrations_bucket: %q may hold only letters, digits, - and _", b))
	}
	seen := map[string]bool{}
	for i, r := range c.Realms {
		if err := checkRealm(r.Name); err != nil {
			errs = append(errs, fmt.Errorf("realms[%d].name: %w", i, err))
		}
		if seen[r.Name] {
			errs = append(errs, fmt.Errorf("realms[%d].name: %q appears twice", i, r.Name))
		}
		seen[r.Name] = true
		if r.SubjectPrefix != "" {
			if err := subjects.ValidateSubject(r.SubjectPrefix); err != nil {
				errs = append(errs, fmt.Errorf("realms[%d].subject_prefix: %w", i, err))
			}
		}
	}
	return errors.Join(errs...)
}

func validBucket(b string) bool {
	for _, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
