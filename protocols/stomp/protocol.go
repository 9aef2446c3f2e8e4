package stomp

import (
	"sync/atomic"

	"github.com/wsgate/wsgate/bridge"
)

// Name is the protocol's name in metrics, logs and Wsgate-Protocol.
const Name = "stomp"

// Subprotocols are the Sec-WebSocket-Protocol tokens of STOMP over
// WebSocket, most preferred first; the one the client offers is echoed.
var Subprotocols = []string{"v12.stomp", "v11.stomp", "v10.stomp"}

// Protocol is the STOMP protocol adapter.
type Protocol struct {
	cfg     Config
	lim     Limits
	version string // the gateway's version, for CONNECTED's server header
	hb      heartbeats
	msgID   atomic.Uint64 // message-id source, shared by every connection

	durablePatterns []string // subjects of Config.DurableQueues
}

var (
	_ bridge.Protocol            = (*Protocol)(nil)
	_ bridge.InBandAuthenticator = (*Protocol)(nil)
)

// New validates cfg and returns the protocol. version is the gateway's
// version, sent in CONNECTED frames as server:wsgate/<version>.
func New(cfg Config, version string) (*Protocol, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	p := &Protocol{
		cfg:     cfg,
		version: version,
		lim:     Limits{MaxFrame: cfg.MaxFrameBytes, MaxHeaders: cfg.MaxHeaders, MaxLine: cfg.MaxHeaderLineBytes},
	}
	for _, q := range cfg.DurableQueues {
		pat, _ := durablePattern(q) // validated
		p.durablePatterns = append(p.durablePatterns, pat)
	}
	p.hb.init(cfg)
	return p, nil
}

// Name implements bridge.Protocol.
func (p *Protocol) Name() string { return Name }

// Subprotocols implements bridge.Protocol.
func (p *Protocol) Subprotocols() []string { return Subprotocols }

// Paths implements bridge.Protocol.
func (p *Protocol) Paths() []string { return []string{"/stomp"} }

// AuthenticatesInBand implements bridge.InBandAuthenticator: CONNECT's
// login and passcode are credentials.
func (p *Protocol) AuthenticatesInBand() bool { return true }

// Open implements bridge.Protocol.
func (p *Protocol) Open(s *bridge.Session) bridge.Handler {
	return newConn(p, s)
}
