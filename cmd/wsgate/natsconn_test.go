package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/wsgate/wsgate/bridge"
)

func TestDefaultDataDir(t *testing.T) {
	for _, tc := range []struct{ listen, nats, want string }{
		{":8080", "", "wsgate-data-8080-4222"},
		{":8181", "127.0.0.1:4333", "wsgate-data-8181-4333"},
		{"127.0.0.1:8080", "-", "wsgate-data-8080-none"},
		{"[::1]:9000", "0.0.0.0:0", "wsgate-data-9000-0"},
		{"", "127.0.0.1:4222", "wsgate-data-4222"},
	} {
		if got := bridge.DefaultDataDir(tc.listen, tc.nats); got != filepath.Join(os.TempDir(), tc.want) {
			t.Errorf("DefaultDataDir(%q, %q) = %q, want %s in the temp dir", tc.listen, tc.nats, got, tc.want)
		}
	}
}
