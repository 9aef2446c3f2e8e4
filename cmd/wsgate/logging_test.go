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
