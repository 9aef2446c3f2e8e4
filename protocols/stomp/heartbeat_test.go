package stomp

import (
	"testing"
	"time"
)

// TestHeartbeatTick checks the walk's period: a quarter of the shortest
// interval the gateway agrees to, within [50ms, 1s]. The walker's life
// (it runs only while it has connections) is bridge.TestWalker's.
func TestHeartbeatTick(t *testing.T) {
	for _, tc := range []struct {
		send, recv, want time.Duration
	}{
		{200 * time.Millisecond, -1, 50 * time.Millisecond},
		{time.Minute, time.Minute, time.Second},
		{10 * time.Millisecond, time.Minute, 50 * time.Millisecond},
		{-1, 2 * time.Second, 500 * time.Millisecond},
	} {
		var h heartbeats
		h.init(Config{HeartbeatSend: tc.send, HeartbeatReceive: tc.recv})
		if h.Tick != tc.want {
			t.Errorf("send %s receive %s: tick %s, want %s", tc.send, tc.recv, h.Tick, tc.want)
		}
	}
}
