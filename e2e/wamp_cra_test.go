package e2e

import (
	"os"
	"os/exec"
	"testing"

	"github.com/wsgate/wsgate/auth"
)

// TestWAMPCRANode: Autobahn|JS authenticates by WAMP-CRA with a salted
// key — derived in the client from the API key, checked in the gateway
// against the derived key in the config — over JSON and MessagePack; a
// wrong key and an unknown authid get wamp.error.authentication_failed.
func TestWAMPCRANode(t *testing.T) {
	long(t)
	node, dir := nodeModules(t, "js", "autobahn")
	secret := newSecret(t)
	derived, err := auth.DeriveCRAKey(secret, "salt-e2e", 1000, 32)
	if err != nil {
		t.Fatal(err)
	}
	g := startGateway(t, gwOpts{Config: `
auth:
  authenticators:
    - type: api_keys
      api_keys:
        keys:
          - id: cra-user
            hash: "` + keyHash(secret) + `"
            wampcra: {salt: salt-e2e, iterations: 1000, keylen: 32, key: "` + derived + `"}
`})
	cmd := exec.Command(node, "--test", "wamp.cra.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "WSGATE_URL="+g.WS("/"), "WSGATE_SECRET="+secret)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node --test wamp.cra.mjs: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}
