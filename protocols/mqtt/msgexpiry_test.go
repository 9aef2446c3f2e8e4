package mqtt

import (
	"testing"
	"time"

	"github.com/wsgate/wsgate/bridge"
)

func TestMessageExpiry(t *testing.T) {
	stored := time.Unix(1_700_000_000, 0)
	for _, tc := range []struct {
		name   string
		header string // Mqtt-Message-Expiry; "": none
		waited time.Duration
		left   uint32
		ok     bool // still deliverable
	}{
		{"6s after 3s", "6", 3 * time.Second, 3, true},
		{"6s after 3.2s", "6", 3200 * time.Millisecond, 3, true},
		{"6s after 0.1s", "6", 100 * time.Millisecond, 6, true},
		{"1s after 3s", "1", 3 * time.Second, 0, false},
		{"1s after exactly 1s", "1", time.Second, 0, false},
		{"1s after 0.9s", "1", 900 * time.Millisecond, 1, true},
		{"max", "4294967295", time.Hour, 4294967295 - 3600, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := expiryDeadline(bridge.Header{HeaderMessageExpiry: {tc.header}}, stored)
			if d == 0 {
				t.Fatal("no deadline")
			}
			left, ok := expiryLeft(d, stored.Add(tc.waited))
			if left != tc.left || ok != tc.ok {
				t.Fatalf("left %d %v, want %d %v", left, ok, tc.left, tc.ok)
			}
		})
	}
	for _, h := range []bridge.Header{nil, {HeaderMessageExpiry: {"0"}}, {HeaderMessageExpiry: {"-1"}}, {HeaderMessageExpiry: {"4294967296"}}} {
		if d := expiryDeadline(h, stored); d != 0 {
			t.Errorf("%v: deadline %d, want none", h, d)
		}
	}
	// A message whose stream time is unknown counts from now, not from 1970.
	if _, ok := expiryLeft(expiryDeadline(bridge.Header{HeaderMessageExpiry: {"5"}}, time.Time{}), time.Now()); !ok {
		t.Error("expired at once without a stream time")
	}
}
