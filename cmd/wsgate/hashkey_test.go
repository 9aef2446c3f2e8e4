package main

import (
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/wsgate/wsgate/auth"
)

// TestHashKeyWAMPCRA: hash-key --wampcra prints a hash and a wampcra block
// that an api_keys config accepts and that matches the key.
func TestHashKeyWAMPCRA(t *testing.T) {
	const key = "k3y-k3y-k3y-k3y-k3y-k3y-k3y-k3y-k3y"
	var out strings.Builder
	if err := hashKey([]string{key}, &out, true, 2000, 32); err != nil {
		t.Fatal(err)
	}
	var k auth.APIKey
	if err := yaml.Unmarshal([]byte(out.String()), &k); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if k.Hash != auth.HashKey(key) || k.WAMPCRA == nil || k.WAMPCRA.Iterations != 2000 {
		t.Fatalf("%+v from\n%s", k, out.String())
	}
	want, _ := auth.DeriveCRAKey(key, k.WAMPCRA.Salt, 2000, 32)
	if k.WAMPCRA.Key != want || len(k.WAMPCRA.Salt) < 16 {
		t.Errorf("wampcra %+v, key want %s", k.WAMPCRA, want)
	}
	k.ID = "x"
	if _, err := auth.New(auth.Config{Authenticators: []auth.AuthenticatorConfig{{Type: auth.TypeAPIKeys,
		APIKeys: &auth.APIKeysConfig{Keys: []auth.APIKey{k}}}}}, auth.Deps{}); err != nil {
		t.Errorf("config refused: %v", err)
	}
}
