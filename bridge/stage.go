package bridge

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
)

// HeaderStage names the stage of the connection a message comes from, on
// every message of a gateway with stages.
const HeaderStage = "Wsgate-Stage"

// Stage is one stage of the gateway's API (the managed gateway's stages,
// such as test and prod): the same protocols and routes, mounted under a
// path prefix of its own, with variables of its own and its own overrides.
type Stage struct {
	// Path is the prefix the stage is mounted on, such as /test: a client
	// of stage test connects to /test/ws (JSON), /test/mqtt, ... and the
	// protocols see the path without the prefix. Required unless Host is
	// set; "/" and a trailing "/" are not allowed.
	Path string `yaml:"path"`
	// Host restricts the stage to upgrades whose Host is this name (port
	// ignored, case-insensitive), such as test.api.example.com; with no
	// Path, the whole host is the stage. Default: any host.
	Host string `yaml:"host"`
	// Variables are the stage's values of {stage.<name>} in templates
	// (and "stage" in jq transforms).
	Variables map[string]string `yaml:"variables"`
	// LogLevel is the log level of the stage's connections: debug, info,
	// warn or error. Default: the gateway's log.level.
	LogLevel string `yaml:"log_level"`
	// Limits override gateway.limits' per-connection limits for the
	// stage's connections; a zero keeps the gateway's.
	Limits StageLimits `yaml:"limits"`
	// AccessLog writes an access log line for every message of the
	// stage's connections: each routed JSON message, each publish and
	// request of the other protocols (gateway.access_log has the format
	// and fields). Default false.
	AccessLog bool `yaml:"access_log"`

	// Logger is what the stage's connections log to, made by the caller
	// from LogLevel. Nil: the gateway's logger.
	Logger *slog.Logger `yaml:"-"`
}

// StageLimits are the per-connection limits a stage may override.
type StageLimits struct {
	// MessageRate is messages per second per connection. Default: the
	// gateway's limits.message_rate.
	MessageRate float64 `yaml:"message_rate"`
	// MessageBurst is that bucket's size. Default: the gateway's.
	MessageBurst int `yaml:"message_burst"`
	// MaxSubscriptions bounds one connection's subscriptions. Default:
	// the gateway's limits.max_subscriptions.
	MaxSubscriptions int `yaml:"max_subscriptions"`
}

// stage is a Stage of the running gateway.
type stage struct {
	name   string
	host   string // lower case; "" for any
	prefix string
	vars   map[string]string
	log    *slog.Logger
	limits Limits // the gateway's, with the stage's overrides

	accessLog bool // a line per message (Stage.AccessLog)
}

// ValidateStages checks stages: every error names the stage and key.
func ValidateStages(stages map[string]Stage) error {
	var errs []error
	paths := map[string]string{} // host + path: stage
	names := make([]string, 0, len(stages))
	for n := range stages {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		st := stages[n]
		if n == "" || strings.ContainsFunc(n, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
			errs = append(errs, fmt.Errorf("stages.%s: a stage name is one word", n))
		}
		p := st.Path
		if h := st.Host; h != "" && (strings.ContainsAny(h, "/:@?#[] \t") || strings.HasPrefix(h, ".") || strings.HasSuffix(h, ".")) {
			errs = append(errs, fmt.Errorf("stages.%s.host: %q is not a host name", n, h))
		}
		where := strings.ToLower(st.Host) + p
		switch {
		case p == "" && st.Host != "":
			if other, dup := paths[where]; dup {
				errs = append(errs, fmt.Errorf("stages.%s.host: %q is stage %s's too", n, st.Host, other))
			}
			paths[where] = n
		case p == "":
			errs = append(errs, fmt.Errorf("stages.%s.path: required (such as /%s), unless host is set", n, n))
		case !strings.HasPrefix(p, "/") || p == "/" || strings.HasSuffix(p, "/") || strings.ContainsAny(p, "?#% \t") || strings.Contains(p, "//"):
			errs = append(errs, fmt.Errorf("stages.%s.path: %q must be a path such as /%s: one leading /, none at the end", n, p, n))
		default:
			if u, err := url.Parse(p); err != nil || u.Path != p {
				errs = append(errs, fmt.Errorf("stages.%s.path: %q is not a plain path", n, p))
			}
			if other, dup := paths[where]; dup {
				errs = append(errs, fmt.Errorf("stages.%s.path: %q is stage %s's too", n, p, other))
			}
			paths[where] = n
		}
		for k := range st.Variables {
			if !tokenName(k) {
				errs = append(errs, fmt.Errorf("stages.%s.variables.%s: a variable name matches [A-Za-z_][A-Za-z0-9_]*", n, k))
			}
		}
		l := st.Limits
		if l.MessageRate < 0 || l.MessageBurst < 0 || l.MaxSubscriptions < 0 {
			errs = append(errs, fmt.Errorf("stages.%s.limits: must not be negative", n))
		}
	}
	return errors.Join(errs...)
}

func tokenName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || i > 0 && '0' <= c && c <= '9' {
			continue
		}
		return false
	}
	return true
}

// newStages makes the running stages in the order they are tried.
func newStages(stages map[string]Stage, gw Limits, log *slog.Logger) ([]*stage, error) {
	if err := ValidateStages(stages); err != nil {
		return nil, fmt.Errorf("bridge: %w", err)
	}
	out := make([]*stage, 0, len(stages))
	for n, st := range stages {
		s := &stage{name: n, host: strings.ToLower(st.Host), prefix: st.Path, vars: st.Variables, log: st.Logger, limits: gw, accessLog: st.AccessLog}
		if s.log == nil {
			s.log = log
		}
		if s.log == nil {
			s.log = slog.Default()
		}
		s.log = s.log.With("stage", n)
		if st.Limits.MessageRate > 0 {
			s.limits.MessageRate = st.Limits.MessageRate
		}
		if st.Limits.MessageBurst > 0 {
			s.limits.MessageBurst = st.Limits.MessageBurst
		}
		if st.Limits.MaxSubscriptions > 0 {
			s.limits.MaxSubscriptions = st.Limits.MaxSubscriptions
		}
		out = append(out, s)
	}
	// The stages of one host before those of any; then the longest
	// prefix first.
	sort.Slice(out, func(i, j int) bool {
		if (out[i].host != "") != (out[j].host != "") {
			return out[i].host != ""
		}
		return len(out[i].prefix) > len(out[j].prefix)
	})
	return out, nil
}

// stageOf finds the stage an upgrade request's path is under and returns
// the request with the stage's prefix taken off its path (a shallow copy).
// Without stages, it returns r and nil.
func (g *Gateway) stageOf(r *http.Request) (*stage, *http.Request) {
	host := ""
	for _, st := range g.stages {
		if st.host != "" {
			if host == "" {
				host = r.Host
				if h, _, err := net.SplitHostPort(host); err == nil {
					host = h
				}
				host = strings.ToLower(host)
			}
			if host != st.host {
				continue
			}
		}
		p := r.URL.Path
		if st.prefix == "" {
			return st, r
		}
		if p != st.prefix && !strings.HasPrefix(p, st.prefix+"/") {
			continue
		}
		r2 := new(http.Request)
		*r2 = *r
		u := *r.URL
		u.Path = strings.TrimPrefix(p, st.prefix)
		if u.Path == "" {
			u.Path = "/"
		}
		u.RawPath = ""
		r2.URL = &u
		return st, r2
	}
	return nil, r
}

// stageList says where the stages are, for a client that found none.
func (g *Gateway) stageList() string {
	where := make([]string, 0, len(g.stages))
	for _, st := range g.stages {
		w := st.host + st.prefix
		if st.prefix == "" {
			w += "/"
		}
		where = append(where, w)
	}
	sort.Strings(where)
	return strings.Join(where, ", ")
}

// Stage returns the name and variables of the connection's stage; "" and
// nil on a gateway without stages. The map must not be modified.
func (s *Session) Stage() (name string, vars map[string]string) {
	if s.stage == nil {
		return "", nil
	}
	return s.stage.name, s.stage.vars
}

// limits are the connection's limits: its stage's, or the gateway's.
func (s *Session) limits() *Limits {
	if s.stage != nil {
		return &s.stage.limits
	}
	return &s.gw.live.Load().limits
}
