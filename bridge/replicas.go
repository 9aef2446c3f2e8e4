package bridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/nats-io/nats.go/jetstream"
)

// MaxReplicas is the most replicas JetStream keeps of a stream.
const MaxReplicas = 5

// replicasFor is the replica count a stream or bucket is made with: the
// caller's own, or else the gateway's (Options.StreamReplicas).
func (j *JetStream) replicasFor(own int) int {
	if own > 0 {
		return own
	}
	return max(j.replicas, 1)
}

// applyReplicas creates or updates the stream name (a bucket's is KV_
// plus its name) with want replicas by calling apply(want). A stream that
// exists with another count is changed, and the change is logged; if
// JetStream refuses the change (a cluster too small for want, or no
// cluster at all), the refusal is logged with the stream's name and both
// counts, and the stream is updated keeping the replicas it has, so that
// it stays usable and never silently differs. kind is "stream" or
// "bucket", for the log.
func (j *JetStream) applyReplicas(ctx context.Context, kind, name, stream string, want int, apply func(replicas int) error) error {
	have := 0
	switch s, err := j.js.Stream(ctx, stream); {
	case err == nil:
		have = s.CachedInfo().Config.Replicas
	case errors.Is(err, jetstream.ErrStreamNotFound):
	default:
		return fmt.Errorf("%s %s: %w", kind, name, err)
	}
	err := apply(want)
	switch {
	case err == nil && have != 0 && have != want:
		j.log.Info("jetstream replicas changed", kind, name, "from", have, "to", want)
	case err != nil && have != 0 && have != want:
		j.log.Warn("jetstream replicas NOT changed: JetStream refused, the "+kind+" keeps its replicas",
			kind, name, "have", have, "want", want, "err", err)
		err = apply(have)
	case err != nil && have == 0:
		return fmt.Errorf("%s %s (%d replicas): %w", kind, name, want, err)
	}
	if err != nil {
		return fmt.Errorf("%s %s: %w", kind, name, err)
	}
	return nil
}

// jsLogger is the facade's logger, never nil.
func jsLogger(log *slog.Logger) *slog.Logger {
	if log == nil {
		return slog.Default()
	}
	return log
}
