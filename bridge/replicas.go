package bridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

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
func (j *JetStream) applyReplicas(ctx context.Context, kind, name, stream string, want int, apply func(ctx context.Context, replicas int) error) error {
	have := 0
	err := placed(ctx, func(ctx context.Context) error {
		s, err := j.js.Stream(ctx, stream)
		switch {
		case err == nil:
			have = s.CachedInfo().Config.Replicas
		case errors.Is(err, jetstream.ErrStreamNotFound):
		default:
			return err
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("%s %s: %w", kind, name, err)
	}
	err = placed(ctx, func(ctx context.Context) error { return apply(ctx, want) })
	switch {
	case err == nil && have != 0 && have != want:
		j.log.Info("jetstream replicas changed", kind, name, "from", have, "to", want)
	case err != nil && have != 0 && have != want:
		j.log.Warn("jetstream replicas NOT changed: JetStream refused, the "+kind+" keeps its replicas",
			kind, name, "have", have, "want", want, "err", err)
		err = apply(ctx, have)
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

// Refusals of a cluster that may only be passing.
const (
	errCodeNoPeers         jetstream.ErrorCode = 10005 // no suitable peers for placement
	errCodeClusterNotAvail jetstream.ErrorCode = 10008 // temporarily unavailable
)

const (
	placeAttempt = 2 * time.Second        // one try of placed, at most
	placeRetry   = 100 * time.Millisecond // the pause between tries
	placeSpare   = time.Second            // of the caller's time, left for what it does next
)

// placed calls try until JetStream neither refuses it for want of servers
// nor leaves it unanswered, while ctx leaves placeSpare for what the
// caller does next (keeping a stream's replicas after a refusal, say).
// While a cluster forms it has no leader for a moment, and its API says
// it is unavailable or says nothing; then it has a leader that places no
// replicas on a server it has not heard from yet (no suitable peers, peer
// offline). Each try is bounded by placeAttempt, so a request nobody
// answers is made again rather than waited for until ctx ends. Without a
// deadline in ctx, try runs once.
func placed(ctx context.Context, try func(context.Context) error) error {
	for {
		deadline, ok := ctx.Deadline()
		if !ok || time.Until(deadline)-placeSpare < placeRetry {
			return try(ctx)
		}
		tctx, cancel := context.WithTimeout(ctx, min(placeAttempt, time.Until(deadline)-placeSpare))
		err := try(tctx)
		cancel()
		if err == nil || !passing(ctx, err) {
			return err
		}
		if time.Until(deadline)-placeSpare < 2*placeRetry {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(placeRetry):
		}
	}
}

// passing reports whether err, from a try within ctx, may be a cluster
// not yet formed: a refusal for want of servers, or no answer in time
// while ctx itself still runs.
func passing(ctx context.Context, err error) bool {
	var api *jetstream.APIError
	if errors.As(err, &api) {
		return api.ErrorCode == errCodeNoPeers || api.ErrorCode == errCodeClusterNotAvail
	}
	return errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil
}
