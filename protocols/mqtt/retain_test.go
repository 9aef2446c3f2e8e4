package mqtt

import (
	"regexp"
	"testing"
)

var kvKeyChars = regexp.MustCompile(`^[-/_=.a-zA-Z0-9*>]+$`)

func TestKVKey(t *testing.T) {
	seen := map[string]string{}
	for _, s := range []string{"a.b", "a//b", "/./", "$SYS.x", "héllo.w", "=x", "a.*.>", "a-b_c/d", "ä", "a b"} {
		k := kvKey(s)
		if !kvKeyChars.MatchString(k) {
			t.Errorf("kvKey(%q) = %q: not a key", s, k)
		}
		if prev, ok := seen[k]; ok {
			t.Errorf("kvKey(%q) = kvKey(%q) = %q", s, prev, k)
		}
		seen[k] = s
	}
	if got := kvKey("a.*.>"); got != "a.*.>" {
		t.Errorf("wildcards changed: %q", got)
	}
	if got := kvToken("=x"); got == "=x" {
		t.Error("a token starting with '=' must be encoded")
	}
}

func TestClientKeyScopedByPrincipal(t *testing.T) {
	if clientKey("alice", "x") == clientKey("bob", "x") {
		t.Fatal("two principals share a client key")
	}
	if clientKey("", "x") != "x" {
		t.Fatal("dev-mode key changed")
	}
	if !kvKeyChars.MatchString(clientKey("alice", "id with spaces/ü")) {
		t.Fatal("client key is not a KV key")
	}
}

func TestConfigDefaults(t *testing.T) {
	c := Config{}.withDefaults()
	if c.MaxPacketSize != 1<<20 || c.ReceiveMaximum != 64 || c.MaxInflight != 256 || c.TopicAliasMaximum != 16 ||
		c.RetainedBucket == "" || c.ClientsBucket == "" || c.SessionsBucket == "" || c.SessionStream == "" || c.MaxSessionExpiry == 0 {
		t.Fatalf("defaults %+v", c)
	}
	if c := (Config{ReceiveMaximum: 1 << 20}).withDefaults(); c.ReceiveMaximum != 65535 {
		t.Fatalf("receive maximum not capped: %d", c.ReceiveMaximum)
	}
}
