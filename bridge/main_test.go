package bridge

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any test leaves a goroutine behind: every
// gateway, NATS connection, embedded server and client a test starts must be
// shut down by its cleanup.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
