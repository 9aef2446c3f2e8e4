package bench

import (
	"testing"
)

func TestWindow(t *testing.T) {
	tests := []struct {
		flag     int
		scenario string
		want     int
	}{
		{0, "fanout", 256},
		{0, "qos", 100},
		{7, "fanout", 7},
		{256, "qos", 256},
	}
	for _, tt := range tests {
		o := Options{Window: tt.flag}
		if got := o.window(tt.scenario); got != tt.want {
			t.Errorf("--window %d, %s: %d, want %d", tt.flag, tt.scenario, got, tt.want)
		}
	}
}
