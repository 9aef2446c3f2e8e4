package main

import (
	"context"
	"log/slog"
	"os"
	"strings"

	"github.com/wsgate/wsgate/bridge"
)

// newLoggers makes the gateway's logger (log.level) and the embedded
// nats-server's (nats.log_level, component=nats). Both write through one
// handler, so that their lines never interleave.
func newLoggers(c *config) (gw, nats *slog.Logger) {
	gw, nats, _ = newStageLoggers(c, nil)
	return gw, nats
}

// consoleRecords is how many recent warnings, errors and closes the admin
// console shows (gateway.admin.console).
const consoleRecords = 200

// newRecentLog is the ring of recent records for the admin console, or
// nil without one.
func newRecentLog(c *config) *bridge.RecentLog {
	if !c.Gateway.Admin.Console {
		return nil
	}
	return bridge.NewRecentLog(consoleRecords)
}

// newStageLoggers is newLoggers plus the logger of each stage's
// connections (stages.<name>.log_level, by default log.level), through the
// same handler; with recent, that handler keeps its warnings and errors
// there too, whichever logger they come from.
func newStageLoggers(c *config, recent *bridge.RecentLog) (gw, nats *slog.Logger, stages map[string]*slog.Logger) {
	gwLevel, _ := parseLevel(c.Log.Level)
	natsLevel, _ := parseNATSLevel(c.NATS.LogLevel)
	lowest := min(gwLevel, natsLevel)
	stageLevels := map[string]slog.Level{}
	for name, st := range c.Stages {
		l := gwLevel
		if st.LogLevel != "" {
			l, _ = parseLevel(st.LogLevel)
		}
		stageLevels[name] = l
		lowest = min(lowest, l)
	}
	opts := &slog.HandlerOptions{
		Level: lowest,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if l, ok := a.Value.Any().(slog.Level); ok && a.Key == slog.LevelKey && l == bridge.LevelTrace {
				a.Value = slog.StringValue("TRACE")
			}
			return a
		},
	}
	var h slog.Handler = slog.NewTextHandler(os.Stderr, opts)
	if c.Log.Format == "json" {
		h = slog.NewJSONHandler(os.Stderr, opts)
	}
	if recent != nil {
		h = recent.Handler(h)
	}
	if len(stageLevels) > 0 {
		stages = make(map[string]*slog.Logger, len(stageLevels))
		for name, l := range stageLevels {
			stages[name] = slog.New(levelFilter{l, h})
		}
	}
	return slog.New(levelFilter{gwLevel, h}), slog.New(levelFilter{natsLevel, h}).With("component", "nats"), stages
}

// levelFilter passes on the records of its level and above.
type levelFilter struct {
	min slog.Level
	slog.Handler
}

func (f levelFilter) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= f.min && f.Handler.Enabled(ctx, l)
}

func (f levelFilter) WithAttrs(a []slog.Attr) slog.Handler {
	return levelFilter{f.min, f.Handler.WithAttrs(a)}
}

func (f levelFilter) WithGroup(name string) slog.Handler {
	return levelFilter{f.min, f.Handler.WithGroup(name)}
}

// parseLevel reads log.level: debug, info (default), warn or error.
func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if s == "" {
		return slog.LevelInfo, nil
	}
	err := l.UnmarshalText([]byte(s))
	return l, err
}

// parseNATSLevel reads nats.log_level: trace, debug, info, warn (default)
// or error.
func parseNATSLevel(s string) (slog.Level, error) {
	switch {
	case s == "":
		return slog.LevelWarn, nil
	case strings.EqualFold(s, "trace"):
		return bridge.LevelTrace, nil
	}
	return parseLevel(s)
}
