package main

import (
	"context"
	"log/slog"
	"testing"

	"github.com/wsgate/wsgate/bridge"
)

func TestLoggers(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		log, nats        string
		gwMin, natsMin   slog.Level
		gwDebug, natsDbg bool
	}{
		{"", "", slog.LevelInfo, slog.LevelWarn, false, false},
		{"debug", "", slog.LevelDebug, slog.LevelWarn, true, false},
		{"error", "trace", slog.LevelError, bridge.LevelTrace, false, true},
		{"info", "debug", slog.LevelInfo, slog.LevelDebug, false, true},
	} {
		c := &config{}
		c.Log.Level, c.NATS.LogLevel = tc.log, tc.nats
		gw, nats := newLoggers(c)
		if !gw.Enabled(ctx, tc.gwMin) || gw.Enabled(ctx, tc.gwMin-1) {
			t.Errorf("log.level %q: the gateway's logger is not at %s", tc.log, tc.gwMin)
		}
		if !nats.Enabled(ctx, tc.natsMin) || nats.Enabled(ctx, tc.natsMin-1) {
			t.Errorf("nats.log_level %q: the nats logger is not at %s", tc.nats, tc.natsMin)
		}
		if gw.Enabled(ctx, slog.LevelDebug) != tc.gwDebug || nats.Enabled(ctx, slog.LevelDebug) != tc.natsDbg {
			t.Errorf("%q/%q: debug enabled %v/%v", tc.log, tc.nats, gw.Enabled(ctx, slog.LevelDebug), nats.Enabled(ctx, slog.LevelDebug))
		}
	}
}

func TestStageLoggers(t *testing.T) {
	ctx := context.Background()
	c := &config{Stages: map[string]bridge.Stage{
		"test": {Path: "/test", LogLevel: "debug"},
		"prod": {Path: "/prod", LogLevel: "error"},
		"dev":  {Path: "/dev"},
	}}
	c.Log.Level = "info"
	gw, _, stages := newStageLoggers(c, nil)
	if gw.Enabled(ctx, slog.LevelDebug) || !gw.Enabled(ctx, slog.LevelInfo) {
		t.Error("a stage at debug changed the gateway's level")
	}
	for name, want := range map[string]slog.Level{"test": slog.LevelDebug, "prod": slog.LevelError, "dev": slog.LevelInfo} {
		l := stages[name]
		if l == nil || !l.Enabled(ctx, want) || l.Enabled(ctx, want-1) {
			t.Errorf("stage %s: not at %s", name, want)
		}
	}
	if got := c.stages(stages); got["prod"].Logger != stages["prod"] || got["prod"].Path != "/prod" {
		t.Errorf("stages for the bridge: %+v", got["prod"])
	}
	if (&config{}).stages(nil) != nil {
		t.Error("stages without a stages: block")
	}
}

// TestRecentLogWrapsEveryLogger: with the admin console on, the warnings of
// the gateway's logger and the embedded server's both reach its ring.
func TestRecentLogWrapsEveryLogger(t *testing.T) {
	c := &config{}
	c.Gateway.Admin.Console = true
	recent := newRecentLog(c)
	gw, nats, _ := newStageLoggers(c, recent)
	gw.Info("not kept")
	gw.Warn("from the gateway")
	nats.Error("from nats")
	got := recent.Records()
	if len(got) != 2 || got[0].Message != "from nats" || got[0].Attrs["component"] != "nats" || got[1].Message != "from the gateway" {
		t.Errorf("records %+v", got)
	}
	if newRecentLog(&config{}) != nil {
		t.Error("a ring without the console")
	}
}
