package e2e

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"testing"
	"time"
)

// chromiumPath is the Chromium the browser tests drive ($CHROMIUM, else
// Debian's); the test is skipped without one.
func chromiumPath(t *testing.T) string {
	t.Helper()
	chromium := os.Getenv("CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		t.Skipf("no Chromium at %s (.ci/run installs Debian's chromium)", chromium)
	}
	return chromium
}

// startBrowserScript runs a playwright-core script of e2e/js with node,
// giving it the Chromium to drive and env, for at most 90 s; its standard
// output, one step a line, is returned to read.
func startBrowserScript(t *testing.T, node, dir, script, chromium string, env ...string) (*exec.Cmd, *bufio.Scanner) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, node, script)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "CHROMIUM="+chromium), env...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, bufio.NewScanner(out)
}
