package bridge

import (
	"testing"
)

// TestPublishAllocs counts what Session.Publish allocates for a client's
// message, the embedded nats-server's own processing included (it runs in
// this process): with nobody else listening, and with a local subscriber
// too (the in-process delivery). Of the 3 and 4, nats.go's header encoding
// is 2 and the local delivery's copy 1; the rest is the server's. It
// guards against a return of the per-message header map (about 9 more).
func TestPublishAllocs(t *testing.T) {
	e := newEnv(t, Config{})
	pub := e.dial("/", nil, nil)
	s := e.session(pub)
	data := []byte(`{"text":"hello, everyone!","n":42}`)
	alone := testing.AllocsPerRun(2000, func() { _ = s.Publish("alloc.alone", "publish", nil, data) })
	sub := e.dial("/", nil, nil)
	e.sub(sub, "sub alloc.local")
	local := testing.AllocsPerRun(2000, func() { _ = s.Publish("alloc.local", "publish", nil, data) })
	t.Logf("Session.Publish allocations: %.1f with nobody listening here, %.1f with a local subscriber", alone, local)
	if alone > 4 || local > 7 {
		t.Errorf("Session.Publish allocates %.1f / %.1f times per message, want at most 4 / 7", alone, local)
	}
}
