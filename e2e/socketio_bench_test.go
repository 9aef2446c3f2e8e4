package e2e

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestSocketIOBench runs `wsgate bench`'s connect scenario, a few
// connections, on wsgate's Socket.IO and on the Node socket.io server it
// starts as a peer (found from this directory, a part of the checkout):
// each is dialled over a WebSocket and over polling upgraded to one. It
// checks that the run completes and reports both, not how fast.
func TestSocketIOBench(t *testing.T) {
	nodeModules(t, "../internal/bench/socketio-node", "socket.io")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "bench", "--targets", "wsgate-socketio,socketio-node",
		"--scenarios", "connect", "--connects", "20", "--concurrency", "4")
	cmd.Env = raceEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("wsgate bench: %v\n%s", err, out)
	}
	for _, target := range []string{"wsgate-socketio", "socketio-node"} {
		found := false
		for _, line := range strings.Split(string(out), "\n") {
			if strings.HasPrefix(line, "connect  "+target+" ") && strings.Contains(line, " connections/s=") &&
				strings.Contains(line, " polling connections/s=") {
				found = true
			}
		}
		if !found {
			t.Errorf("no connect result for %s over both transports in\n%s", target, out)
		}
	}
}
