package subjects

import (
	"strings"
	"testing"
)

// reservedCases drives TestIsReserved and TestTouchesReserved.
var reservedCases = []struct {
	name    string
	in      string
	prefix  string
	is      bool // IsReserved
	touches bool // TouchesReserved
}{
	{"prefix alone", "wsgate", "wsgate", true, true},
	{"control subject", "wsgate.conn.x.send", "wsgate", true, true},
	{"prefix gt", "wsgate.>", "wsgate", true, true},
	{"prefix star", "wsgate.*", "wsgate", true, true},
	{"prefix star tail", "wsgate.conn.*.send", "wsgate", true, true},
	{"longer first token", "wsgatex.a", "wsgate", false, false},
	{"prefix second", "a.wsgate", "wsgate", false, false},
	{"prefix case", "WSGATE.a", "wsgate", false, false},
	{"jetstream", "$JS.API.>", "wsgate", true, true},
	{"system", "$SYS", "wsgate", true, true},
	{"kv", "$KV.bucket.key", "wsgate", true, true},
	{"mqtt", "$MQTT.sess.x", "wsgate", true, true},
	{"dollar alone", "$", "wsgate", true, true},
	{"dollar later", "a.$SYS", "wsgate", false, false},
	{"inbox", "_INBOX.abc", "wsgate", true, true},
	{"inbox star", "_INBOX.*", "wsgate", true, true},
	{"inbox alone", "_INBOX", "wsgate", true, true},
	{"inbox lower case", "_inbox.x", "wsgate", false, false},
	{"gt", ">", "wsgate", false, true},
	{"star", "*", "wsgate", false, true},
	{"star conn", "*.conn.>", "wsgate", false, true},
	{"star x", "*.x", "wsgate", false, true},
	{"chat gt", "chat.>", "wsgate", false, false},
	{"chat star", "chat.*", "wsgate", false, false},
	{"literal", "a.b", "wsgate", false, false},
	{"trailing dot prefix", "wsgate.x", "wsgate.", true, true},
	{"multi-token prefix", "acme.wsgate.x", "acme.wsgate", true, true},
	{"multi-token prefix alone", "acme.wsgate", "acme.wsgate", true, true},
	{"multi-token prefix gt", "acme.>", "acme.wsgate", false, true},
	{"multi-token prefix star", "acme.*", "acme.wsgate", false, true},
	{"multi-token prefix star tail", "acme.*.x", "acme.wsgate", false, true},
	{"multi-token prefix other", "acme.other", "acme.wsgate", false, false},
	{"multi-token prefix first only", "acme", "acme.wsgate", false, false},
	{"no prefix", "wsgate.x", "", false, false},
	{"no prefix system", "$JS.x", "", true, true},
	{"no prefix gt", ">", "", false, true},

	// Hostile: an invalid name is reserved and touching, so it is refused.
	{"empty", "", "wsgate", true, true},
	{"dot", ".", "wsgate", true, true},
	{"leading dot", ".wsgate", "wsgate", true, true},
	{"trailing dot", "chat.", "wsgate", true, true},
	{"a.b", "a.b", "wsgate", false, false},
	{"star inside", "a*b", "wsgate", true, true},
	{"gt not last", ">.a", "wsgate", true, true},
	{"space", "wsgate x", "wsgate", true, true},
	{"tab", "\t", "wsgate", true, true},
	{"NUL", "chat.\x00", "wsgate", true, true},
	{"DEL", "\x7f", "wsgate", true, true},
	{"10k", long10k, "wsgate", true, true},
	{"invalid UTF-8", badUTF8, "wsgate", true, true},
	{"percent", "%", "wsgate", false, false},
	{"e acute", "é.x", "wsgate", false, false},
	{"japanese", "日本.>", "wsgate", false, false},
	{"emoji", emoji, "wsgate", false, false},
}

func TestIsReserved(t *testing.T) {
	for _, tc := range reservedCases {
		t.Run(tc.name, func(t *testing.T) {
			if got := IsReserved(tc.in, tc.prefix); got != tc.is {
				t.Errorf("IsReserved(%.30q, %q) = %v, want %v", tc.in, tc.prefix, got, tc.is)
			}
		})
	}
}

func TestTouchesReserved(t *testing.T) {
	for _, tc := range reservedCases {
		t.Run(tc.name, func(t *testing.T) {
			if got := TouchesReserved(tc.in, tc.prefix); got != tc.touches {
				t.Errorf("TouchesReserved(%.30q, %q) = %v, want %v", tc.in, tc.prefix, got, tc.touches)
			}
		})
	}
}

// TestReservedAgainstIntersects checks TouchesReserved and IsReserved, for
// valid patterns, against their definitions in terms of Intersects and
// Covers over a sample of the reserved space. A '*' or '>' first token
// reaches every '$' subject; "$SYS" stands for them all.
func TestReservedAgainstIntersects(t *testing.T) {
	for _, tc := range reservedCases {
		if tc.prefix != "wsgate" || ValidatePattern(tc.in) != nil {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			space := []string{"wsgate", "wsgate.>", "$SYS", "$SYS.>", "_INBOX", "_INBOX.>"}
			if first, _, _ := strings.Cut(tc.in, "."); strings.HasPrefix(first, "$") {
				space = append(space, first, first+".>")
			}
			touches, within := false, false
			for _, r := range space {
				touches = touches || Intersects(tc.in, r)
				within = within || Covers(r, tc.in)
			}
			if got := TouchesReserved(tc.in, "wsgate"); got != touches {
				t.Errorf("TouchesReserved(%q) = %v, Intersects says %v", tc.in, got, touches)
			}
			if got := IsReserved(tc.in, "wsgate"); got != within {
				t.Errorf("IsReserved(%q) = %v, Covers says %v", tc.in, got, within)
			}
		})
	}
}
