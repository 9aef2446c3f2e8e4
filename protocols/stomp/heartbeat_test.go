package stomp

import (
	"testing"
	"time"
)

// TestHeartbeatWalker checks the walker's life: it starts with the first
// connection that agreed on heart-beats and ends with the last one, so an
// idle gateway runs nothing.
func TestHeartbeatWalker(t *testing.T) {
	var h heartbeats
	h.init(Config{HeartbeatSend: 200 * time.Millisecond, HeartbeatReceive: -1})
	if h.tick != 50*time.Millisecond {
		t.Errorf("tick %s, want 50ms", h.tick)
	}
	a, b := &conn{}, &conn{} // no agreed intervals: beat does nothing
	h.add(a)
	h.add(b)
	h.remove(a)
	time.Sleep(3 * h.tick)
	h.mu.Lock()
	running := h.running
	h.mu.Unlock()
	if !running {
		t.Fatal("walker stopped with a connection left")
	}
	h.remove(b)
	deadline := time.Now().Add(2 * time.Second)
	for {
		h.mu.Lock()
		running = h.running
		h.mu.Unlock()
		if !running {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("walker still running without connections")
		}
		time.Sleep(10 * time.Millisecond)
	}
	var idle heartbeats
	idle.init(Config{HeartbeatSend: time.Minute, HeartbeatReceive: time.Minute})
	if idle.tick != time.Second {
		t.Errorf("tick %s, want the 1s ceiling", idle.tick)
	}
}
