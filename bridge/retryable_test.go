package bridge

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// TestRetryable: a store that got no answer, or whose message id is still
// in flight from an earlier attempt, may be asked again; one JetStream
// refused may not.
func TestRetryable(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{context.DeadlineExceeded, true},
		{fmt.Errorf("store: %w", nats.ErrNoResponders), true},
		{jetstream.ErrNoStreamResponse, true},
		{nats.ErrTimeout, true},
		{&jetstream.APIError{Code: 409, ErrorCode: errCodeDuplicateInProcess, Description: "duplicate message id is in process"}, true},
		{fmt.Errorf("jetstream publish: %w", &jetstream.APIError{Code: 409, ErrorCode: errCodeDuplicateInProcess}), true},
		{&jetstream.APIError{Code: 400, ErrorCode: 10060, Description: "expected stream does not match"}, false},
		{&jetstream.APIError{Code: 503, ErrorCode: 10077, Description: "maximum messages exceeded"}, false},
		{errors.New("nats: connection closed"), false},
		{nats.ErrConnectionClosed, false},
	} {
		if got := Retryable(tc.err); got != tc.want {
			t.Errorf("Retryable(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
