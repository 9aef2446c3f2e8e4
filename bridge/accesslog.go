package bridge

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// AccessLogConfig is gateway.access_log: access log lines, apart from the
// gateway's own log, in a field set of the operator's choosing (the
// managed gateway's $context variables).
//
//	gateway:
//	  access_log:
//	    connections: true
//	    format: json
//	    fields: [request_id, connection_id, route, status, integration_latency, bytes_in, principal, source_ip]
//	    sample: 0.1
type AccessLogConfig struct {
	// Connections writes one line per connection when it ends (event
	// "connection"). Default false.
	Connections bool `yaml:"connections"`
	// Messages writes one line per client message (event "message"): of
	// every JSON route, and every publish and request of the other
	// protocols. Default false: only routes and stages that ask for it
	// (json.routes.<key>.access_log, stages.<name>.access_log).
	Messages bool `yaml:"messages"`
	// Format is json (default) or text.
	Format string `yaml:"format"`
	// Fields are the fields of a line, in order; AccessLogFields lists
	// them. Default: all of them.
	Fields []string `yaml:"fields"`
	// Sample is the fraction of message lines written, above 0 and at
	// most 1; a route's own access_log_sample wins. Connection lines are
	// never sampled. Default 1: every message.
	Sample float64 `yaml:"sample"`
}

// AccessLogFields are the fields an access log line may have.
var AccessLogFields = []string{
	"event",               // connection or message
	"request_id",          // the upgrade's X-Request-Id (or a made-up id); a message's own id
	"connection_id",       // the connection id
	"protocol",            // json, mqtt, stomp, wamp, socketio
	"stage",               // the connection's stage, "" without
	"route",               // the route key (messages)
	"status",              // ok or the error code (messages); the close code (connections)
	"integration_latency", // milliseconds the route's integration took (messages)
	"bytes_in",            // bytes of the message; of every message (connections)
	"bytes_out",           // bytes written to the client (connections)
	"msgs_in",             // messages from the client (connections)
	"msgs_out",            // messages to the client (connections)
	"principal",           // the principal's id
	"source_ip",           // the client's address
	"user_agent",          // the upgrade's User-Agent (connections)
	"duration",            // milliseconds the connection lasted (connections)
	"reason",              // the close reason (connections)
	"closed_by",           // client, server, worker or error (connections)
}

// Enabled reports whether c writes anything without a route or stage
// asking for it.
func (c AccessLogConfig) Enabled() bool { return c.Connections || c.Messages }

// Validate reports every problem of c, each naming its key under
// gateway.access_log.
func (c AccessLogConfig) Validate() []error {
	var errs []error
	switch c.Format {
	case "", "json", "text":
	default:
		errs = append(errs, fmt.Errorf("gateway.access_log.format: %q is not json or text", c.Format))
	}
	for i, f := range c.Fields {
		if !slices.Contains(AccessLogFields, f) {
			errs = append(errs, fmt.Errorf("gateway.access_log.fields[%d]: %q is not one of %s", i, f, strings.Join(AccessLogFields, ", ")))
		}
	}
	if c.Sample < 0 || c.Sample > 1 {
		errs = append(errs, fmt.Errorf("gateway.access_log.sample: %g is not above 0 and at most 1", c.Sample))
	}
	return errs
}

// accessLog writes access log lines; nil writes nothing.
type accessLog struct {
	cfg    AccessLogConfig
	fields []string
	log    *slog.Logger
}

// newAccessLog makes the access log of c, writing to w.
func newAccessLog(c AccessLogConfig, w io.Writer) *accessLog {
	a := &accessLog{cfg: c, fields: c.Fields}
	if len(a.fields) == 0 {
		a.fields = AccessLogFields
	}
	if a.cfg.Sample == 0 {
		a.cfg.Sample = 1
	}
	if c.Format == "text" {
		a.log = slog.New(slog.NewTextHandler(w, nil))
	} else {
		a.log = slog.New(slog.NewJSONHandler(w, nil))
	}
	return a
}

// write logs one line of the configured fields that vals holds.
func (a *accessLog) write(vals map[string]any) {
	attrs := make([]slog.Attr, 0, len(a.fields))
	for _, f := range a.fields {
		if v, ok := vals[f]; ok {
			attrs = append(attrs, slog.Any(f, v))
		}
	}
	a.log.LogAttrs(context.Background(), slog.LevelInfo, "access", attrs...)
}

// MessageAccess is one client message for the access log (Session.LogAccess).
type MessageAccess struct {
	// RequestID is the message's own id, if it has one; default: a new
	// random id.
	RequestID string
	// Route is the route that took the message ("" for none).
	Route string
	// Status is "ok" or the error the client was sent.
	Status string
	// Latency is how long the route's integration took.
	Latency time.Duration
	// BytesIn is the message's size.
	BytesIn int
	// Sample is the fraction of such lines written, above 0 and at most 1;
	// 0: gateway.access_log.sample.
	Sample float64
	// Force writes the line even if gateway.access_log.messages is off
	// (the route or stage asked for it).
	Force bool
}

// AccessLogMessages reports whether the connection's stage asks for a line
// per message (Stage.AccessLog) or the gateway does for every route.
func (s *Session) AccessLogMessages() bool {
	return s.gw.access != nil && (s.gw.access.cfg.Messages || s.stage != nil && s.stage.accessLog)
}

// LogAccess writes m to the access log, if the gateway has one and the
// sample picks it. Protocols call it once per client message, after its
// route has run, for routes that ask for it (or AccessLogMessages).
func (s *Session) LogAccess(m MessageAccess) {
	a := s.gw.access
	if a == nil || !(m.Force || a.cfg.Messages || s.stage != nil && s.stage.accessLog) {
		return
	}
	sample := m.Sample
	if sample == 0 {
		sample = a.cfg.Sample
	}
	if sample < 1 && rand.Float64() >= sample {
		return
	}
	id := m.RequestID
	if id == "" {
		id = newID(9)
	}
	stage, _ := s.Stage()
	a.write(map[string]any{
		"event": "message", "request_id": id, "connection_id": s.id, "protocol": s.proto.Name(),
		"stage": stage, "route": m.Route, "status": m.Status,
		"integration_latency": float64(m.Latency.Microseconds()) / 1000, "bytes_in": m.BytesIn,
		"principal": s.Principal().ID, "source_ip": s.sourceIP,
	})
}

// OwnAccessLog is implemented by protocols that write their own message
// lines with Session.LogAccess (the JSON protocol, per route). For the
// others the session writes one per Publish and Request, when the stage or
// gateway.access_log.messages asks, with the error kind as the status.
type OwnAccessLog interface {
	OwnAccessLog()
}

// autoAccess writes the message line of a Publish or Request for a
// protocol that does not write its own.
func (s *Session) autoAccess(route string, took time.Duration, err error, size int) {
	if _, own := s.proto.(OwnAccessLog); own || !s.AccessLogMessages() {
		return
	}
	status := "ok"
	if err != nil {
		status = KindOf(err).String()
	}
	s.LogAccess(MessageAccess{Route: route, Status: status, Latency: took, BytesIn: size})
}

// logConnection writes the connection line, if asked for.
func (s *Session) logConnection(c CloseInfo) {
	a := s.gw.access
	if a == nil || !a.cfg.Connections {
		return
	}
	stage, _ := s.Stage()
	a.write(map[string]any{
		"event": "connection", "request_id": s.requestID, "connection_id": s.id, "protocol": s.proto.Name(),
		"stage": stage, "status": c.Code, "bytes_in": s.bytesIn.Load(), "bytes_out": s.bytesOut.Load(),
		"msgs_in": s.msgsIn.Load(), "msgs_out": s.msgsOut.Load(), "principal": s.Principal().ID,
		"source_ip": s.sourceIP, "user_agent": s.userAgent,
		"duration": time.Since(s.started).Milliseconds(), "reason": c.Reason, "closed_by": c.By,
	})
}

// stagesLog reports whether a stage asks for message lines.
func stagesLog(stages map[string]Stage) bool {
	for _, st := range stages {
		if st.AccessLog {
			return true
		}
	}
	return false
}

// requestIDFrom is the upgrade's X-Request-Id when it is a sane one (a
// proxy's), else a new random id.
func requestIDFrom(h string) string {
	if h == "" || len(h) > 128 || strings.ContainsFunc(h, func(r rune) bool { return r < 0x21 || r > 0x7e }) {
		return newID(9)
	}
	return h
}
