package mqtt

import (
	"strconv"
	"time"

	"github.com/wsgate/wsgate/bridge"
)

// Message Expiry Interval (v5): a QoS 1/2 message that waits — in the
// session stream for an offline session, or in a connection's queue for
// a free slot in its in-flight window — is dropped once its interval has
// passed [MQTT-3.3.2-5], and is otherwise sent with what is left of the
// interval [MQTT-3.3.2-6]. The wait is counted from when the stream
// stored the message (its JetStream timestamp), or from when the gateway
// received a live one. An interval of 0 is passed on as it came, as no
// expiry (as mosquitto does).

// expiryDeadline is when a message with h's Mqtt-Message-Expiry, received
// at since (the zero time: now), expires, in unix nanoseconds; 0 if it
// does not.
func expiryDeadline(h bridge.Header, since time.Time) int64 {
	v := h.Get(HeaderMessageExpiry)
	if v == "" {
		return 0
	}
	n, err := strconv.ParseUint(v, 10, 32)
	if err != nil || n == 0 {
		return 0
	}
	if since.IsZero() {
		since = time.Now()
	}
	return since.Add(time.Duration(n) * time.Second).UnixNano()
}

// expiryLeft is the Message Expiry Interval left at now of a message
// expiring at deadline, in whole seconds rounded up, or false if it has
// expired.
func expiryLeft(deadline int64, now time.Time) (uint32, bool) {
	left := deadline - now.UnixNano()
	if left <= 0 {
		return 0, false
	}
	return uint32((left + int64(time.Second) - 1) / int64(time.Second)), true
}
