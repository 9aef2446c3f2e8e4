package wamp

import (
	"math/rand/v2"
	"sync"

	"github.com/wsgate/wsgate/bridge"
)

// Name is the protocol's name in metrics, logs and Wsgate-Protocol.
const Name = "wamp"

// Protocol is the WAMP protocol adapter.
type Protocol struct {
	cfg    Config
	lim    Limits
	realms map[string]RealmConfig // nil: any realm, no prefix

	topics   topicIDs // subscription ids shared per (pattern, policy)
	reg      registrations
	sessions sessionTable // established sessions, for the meta API
}

var (
	_ bridge.Protocol            = (*Protocol)(nil)
	_ bridge.InBandAuthenticator = (*Protocol)(nil)
)

// New validates cfg and returns the protocol.
func New(cfg Config) (*Protocol, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	p := &Protocol{cfg: cfg, lim: Limits{MaxBytes: cfg.MaxMessageBytes, MaxDepth: cfg.MaxDepth}}
	if len(cfg.Realms) > 0 {
		p.realms = make(map[string]RealmConfig, len(cfg.Realms))
		for _, r := range cfg.Realms {
			p.realms[r.Name] = r
		}
	}
	p.topics.byKey = map[topicKey]*topicID{}
	p.reg.init(p)
	return p, nil
}

// Name implements bridge.Protocol.
func (p *Protocol) Name() string { return Name }

// Subprotocols implements bridge.Protocol: JSON first, as every WAMP
// client speaks it.
func (p *Protocol) Subprotocols() []string {
	return []string{SubprotocolJSON, SubprotocolMsgpack, SubprotocolCBOR}
}

// Paths implements bridge.Protocol: /wamp, for clients that offer no
// subprotocol (they speak JSON).
func (p *Protocol) Paths() []string { return []string{"/wamp"} }

// AuthenticatesInBand implements bridge.InBandAuthenticator: HELLO's
// authmethods and a ticket are credentials.
func (p *Protocol) AuthenticatesInBand() bool { return true }

// Open implements bridge.Protocol.
func (p *Protocol) Open(s *bridge.Session) bridge.Handler { return newConn(p, s) }

// newID draws a random id in [1, 2^53], the scope rules of session,
// publication, subscription and registration ids [WAMP "Identifiers"].
func newID() uint64 { return rand.Uint64N(maxID) + 1 }

// topicKey is one subscription of a realm: its topic and match policy.
type topicKey struct{ prefix, topic, match string }

// topicID is the subscription id of a topicKey, shared by every session of
// the process subscribed to it: "the Broker [...] MUST return the same
// Subscription ID for the same topic and match policy" [WAMP "Subscription
// ID"], and so one EVENT frame per serializer serves them all.
type topicID struct {
	key  topicKey
	id   uint64
	refs int
}

type topicIDs struct {
	mu    sync.Mutex
	byKey map[topicKey]*topicID
}

func (t *topicIDs) acquire(k topicKey) *topicID {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.byKey[k]
	if e == nil {
		e = &topicID{key: k, id: newID()}
		t.byKey[k] = e
	}
	e.refs++
	return e
}

func (t *topicIDs) release(e *topicID) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if e.refs--; e.refs == 0 {
		delete(t.byKey, e.key)
	}
}
