package bench

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// histogram counts durations in log-linear buckets (16 per power of two,
// about 6% wide), lock-free.
type histogram struct {
	b [64 * 16]atomic.Uint64
}

func bucketOf(ns int64) int {
	if ns < 16 {
		return int(max(ns, 0))
	}
	u := uint64(ns)
	e := bits.Len64(u) - 5 // keep 4 bits below the top bit
	return e*16 + int(u>>e)&15 + 16
}

func bucketValue(i int) int64 {
	if i < 16 {
		return int64(i)
	}
	e := (i - 16) / 16
	m := (i - 16) % 16
	return int64(16+m) << e
}

func (h *histogram) record(d time.Duration) {
	i := bucketOf(int64(d))
	if i >= len(h.b) {
		i = len(h.b) - 1
	}
	h.b[i].Add(1)
}

// percentile returns the upper bound of the bucket holding quantile q.
func (h *histogram) percentile(q float64) time.Duration {
	var total uint64
	for i := range h.b {
		total += h.b[i].Load()
	}
	if total == 0 {
		return 0
	}
	want := uint64(q * float64(total))
	var n uint64
	for i := range h.b {
		n += h.b[i].Load()
		if n > want {
			return time.Duration(bucketValue(i + 1))
		}
	}
	return time.Duration(bucketValue(len(h.b)))
}

// reset empties the histogram while others may be recording.
func (h *histogram) reset() {
	for i := range h.b {
		h.b[i].Store(0)
	}
}
