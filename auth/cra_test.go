package auth

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// TestWAMPCRA: an API key with a wampcra block accepts a signature made
// with the key derived as Autobahn derives it, and refuses a wrong one; a
// key without one, or an unknown authid, is not a WAMP-CRA key; the
// parameters are validated.
func TestWAMPCRA(t *testing.T) {
	const secret = "0123456789abcdef0123456789abcdef-secret"
	derived, err := DeriveCRAKey(secret, "pepper", 1000, 32)
	if err != nil {
		t.Fatal(err)
	}
	// Autobahn|JS derives the same key (e2e/js/wamp.test.mjs signs with it).
	if len(derived) != 44 {
		t.Fatalf("derived %q", derived)
	}
	a, errs := newAPIKeys(APIKeysConfig{Keys: []APIKey{
		{ID: "alice", Hash: HashKey(secret), WAMPCRA: &WAMPCRA{Salt: "pepper", Key: derived}},
		{ID: "bob", Hash: HashKey(secret + "-bob")},
	}}, "k")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	p, ok := LookupCRA(a, "alice")
	if !ok || p != (CRAParams{Salt: "pepper", Iterations: 1000, KeyLen: 32}) {
		t.Errorf("params %+v %v", p, ok)
	}
	if _, ok := LookupCRA(a, "bob"); ok {
		t.Error("bob has no wampcra block")
	}
	challenge := `{"authid":"alice","nonce":"n"}`
	good := SignCRA(derived, challenge)
	pr, err := a.Authenticate(context.Background(), &Credentials{Username: "alice", CRA: &CRAProof{Challenge: challenge, Signature: good}})
	if err != nil || pr.ID != "alice" {
		t.Fatalf("good signature: %v %v", pr, err)
	}
	for _, tc := range []struct {
		user string
		pr   CRAProof
		want error
	}{
		{"alice", CRAProof{Challenge: challenge, Signature: SignCRA(derived, challenge+" ")}, ErrDenied},
		{"alice", CRAProof{Challenge: challenge, Signature: SignCRA(secret, challenge)}, ErrDenied},
		{"alice", CRAProof{Challenge: "", Signature: SignCRA(derived, "")}, ErrDenied},
		{"bob", CRAProof{Challenge: challenge, Signature: good}, ErrDenied},
		{"carol", CRAProof{Challenge: challenge, Signature: good}, ErrNoCredentials},
	} {
		pr := tc.pr
		if _, err := a.Authenticate(context.Background(), &Credentials{Username: tc.user, CRA: &pr}); !errors.Is(err, tc.want) {
			t.Errorf("%s %+v: %v, want %v", tc.user, tc.pr, err, tc.want)
		}
	}

	_, errs = newAPIKeys(APIKeysConfig{Keys: []APIKey{
		{ID: "x", Hash: HashKey(secret), WAMPCRA: &WAMPCRA{Key: "bm90IDMyIGJ5dGVz", Iterations: -1, KeyLen: 8}},
	}}, "k")
	var msgs []string
	for _, e := range errs {
		msgs = append(msgs, e.Error())
	}
	all := strings.Join(msgs, "\n")
	for _, want := range []string{"k.keys[0].wampcra.salt: required", "iterations: -1", "keylen: 8", "k.keys[0].wampcra.key"} {
		if !strings.Contains(all, want) {
			t.Errorf("errors %q lack %q", all, want)
		}
	}
}
