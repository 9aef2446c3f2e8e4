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
