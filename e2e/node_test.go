package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// npmMu serialises npm installs: two tests may want the same folder.
var npmMu sync.Mutex

// nodeModules returns the path of node, after making sure dir (relative to
// e2e/) has its npm packages: a fresh checkout has none, so the first test
// that needs them runs `npm ci` there (.ci/run does it beforehand). probe is
// a package path under node_modules that must exist. It skips the test when
// node is not installed, and with -short.
func nodeModules(t *testing.T, dir, probe string) (node, abs string) {
	t.Helper()
	long(t)
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not on PATH")
	}
	abs, err = filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	npmMu.Lock()
	defer npmMu.Unlock()
	if _, err := os.Stat(filepath.Join(abs, "node_modules", probe)); err == nil {
		return node, abs
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		t.Fatalf("%s/node_modules is missing and npm is not on PATH: run npm ci --prefix %s", dir, dir)
	}
	cmd := exec.Command(npm, "ci", "--no-audit", "--no-fund")
	cmd.Dir = abs
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm ci in %s: %v\n%s", dir, err, out)
	}
	return node, abs
}
