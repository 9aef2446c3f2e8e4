package bridge

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any test leaves a goroutine behind: every
// gateway, NATS connection, embedded server and client a test starts must be
// shut down by its cleanup.
//
// Two of nats-server's own goroutines are let go: a stream's file store
// flush loop, which a clustered stream being placed while its servers shut
// down can leave running after Server.WaitForShutdown has returned (seen
// once in the embedded-cluster tests), and the access-time service that
// store keeps registered. Both belong to nats-server, not to the gateway.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("github.com/nats-io/nats-server/v2/server.(*fileStore).flushStreamStateLoop"),
		goleak.IgnoreTopFunction("github.com/nats-io/nats-server/v2/server/ats.Register.func1"),
	)
}
