package bridge

import (
	"errors"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limits bound what clients may do: a managed gateway's throttling, per
// connection and per source address, and more. Zero means no limit.
type Limits struct {
	// MaxConnections bounds open connections in this process; an upgrade
	// over it is refused with 503. Default 0: no limit.
	MaxConnections int `yaml:"max_connections"`
	// MaxConnectionsPerIP bounds open connections from one source address;
	// over it, 429. Default 0: no limit.
	MaxConnectionsPerIP int `yaml:"max_connections_per_ip"`
	// ConnectRatePerIP bounds new connections per second from one source
	// address (token bucket); over it, 429. Default 0: no limit.
	ConnectRatePerIP float64 `yaml:"connect_rate_per_ip"`
	// ConnectBurstPerIP is that bucket's size. Default: the rate, at least 1.
	ConnectBurstPerIP int `yaml:"connect_burst_per_ip"`
	// MessageRate bounds messages per second from one connection (token
	// bucket); a message over it gets the protocol's own error and is
	// dropped. Default 0: no limit.
	MessageRate float64 `yaml:"message_rate"`
	// MessageBurst is that bucket's size. Default: the rate, at least 1.
	MessageBurst int `yaml:"message_burst"`
	// MaxSubscriptions bounds one connection's subscriptions. Default 0: no
	// limit.
	MaxSubscriptions int `yaml:"max_subscriptions"`
}

// ErrLimit is wrapped by every refusal for a limit.
var ErrLimit = errors.New("bridge: limit exceeded")

// Refuser is implemented by handlers that answer a message refused by a
// limit in their protocol's own way (a JSON error frame, an MQTT reason
// code). A returned error closes the connection. Without it the message is
// dropped, and counted.
type Refuser interface {
	Refuse(text bool, data []byte, err error) error
}

// burst is a bucket size: b if set, else the rate, at least 1.
func burst(b int, r float64) int {
	if b > 0 {
		return b
	}
	return max(int(r), 1)
}

// admission tracks connections per source address for the handshake
// limits.
type admission struct {
	l   Limits
	mu  sync.Mutex
	all int
	ips map[string]*ipState
}

type ipState struct {
	conns int
	lim   *rate.Limiter // nil without a rate limit
}

func newAdmission(l Limits) *admission {
	return &admission{l: l, ips: map[string]*ipState{}}
}

// admit counts a new connection from ip, or says which limit refuses it
// with an HTTP status. Every admitted connection must be released.
func (a *admission) admit(ip string) (status int, limit string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.l.MaxConnections > 0 && a.all >= a.l.MaxConnections {
		return http.StatusServiceUnavailable, "max_connections"
	}
	st := a.ips[ip]
	if st == nil {
		st = &ipState{}
		if a.l.ConnectRatePerIP > 0 {
			st.lim = rate.NewLimiter(rate.Limit(a.l.ConnectRatePerIP), burst(a.l.ConnectBurstPerIP, a.l.ConnectRatePerIP))
		}
		a.ips[ip] = st
	}
	if a.l.MaxConnectionsPerIP > 0 && st.conns >= a.l.MaxConnectionsPerIP {
		return http.StatusTooManyRequests, "max_connections_per_ip"
	}
	if st.lim != nil && !st.lim.Allow() {
		return http.StatusTooManyRequests, "connect_rate_per_ip"
	}
	st.conns++
	a.all++
	return 0, ""
}

// setLimits makes l the limits of connections admitted from now on; an
// address's rate bucket made before keeps its rate.
func (a *admission) setLimits(l Limits) {
	a.mu.Lock()
	a.l = l
	a.mu.Unlock()
}

func (a *admission) release(ip string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.all--
	if st := a.ips[ip]; st != nil {
		st.conns--
	}
}

// prune forgets addresses with no connection whose bucket is full again, so
// the table does not grow with every address ever seen.
func (a *admission) prune(now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for ip, st := range a.ips {
		if st.conns > 0 {
			continue
		}
		if st.lim == nil || st.lim.TokensAt(now) >= float64(st.lim.Burst()) {
			delete(a.ips, ip)
		}
	}
}
