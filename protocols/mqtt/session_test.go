package mqtt

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

func TestSessionExpired(t *testing.T) {
	gone := time.Unix(1_700_000_000, 0)
	for _, tc := range []struct {
		name string
		st   sessionState
		at   time.Time
		want bool
	}{
		{"held by a connection", sessionState{Expiry: time.Second}, gone.Add(time.Hour), false},
		{"within its expiry", sessionState{Expiry: 5 * time.Second, Gone: gone.UnixNano()}, gone.Add(4999 * time.Millisecond), false},
		{"at its expiry", sessionState{Expiry: 5 * time.Second, Gone: gone.UnixNano()}, gone.Add(5 * time.Second), true},
		{"after its expiry", sessionState{Expiry: 5 * time.Second, Gone: gone.UnixNano()}, gone.Add(6 * time.Second), true},
		{"no expiry", sessionState{Gone: gone.UnixNano()}, gone, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.st.expired(tc.at); got != tc.want {
				t.Fatalf("expired %v, want %v", got, tc.want)
			}
		})
	}
}

// A session stored before generations (and expiries) decodes as one held
// by nobody that never expires, and keeps its consumers' names.
func TestSessionStoredBeforeExpiry(t *testing.T) {
	var st sessionState
	if err := json.Unmarshal([]byte(`{"subs":[{"f":"a/#","q":1}],"rel":[7]}`), &st); err != nil {
		t.Fatal(err)
	}
	if st.Gen != "" || st.Conn != "" || st.Gone != 0 || st.expired(time.Now()) {
		t.Fatalf("%+v", st)
	}
	// The name consumerName gave before generations.
	if got := consumerName("dev-client", "", "a/#"); got != "mqtt_562eace8afa6edeeb360ae4d48fa5e1b" {
		t.Fatalf("consumer name %s", got)
	}
}

func TestConsumerNames(t *testing.T) {
	seen := map[string]string{}
	for _, key := range []string{"c1", "c2"} {
		for _, gen := range []string{"", "g1", "g2"} {
			for _, f := range []string{"a/#", "b"} {
				n := consumerName(key, gen, f)
				id := fmt.Sprintf("%s|%s|%s", key, gen, f)
				if other, dup := seen[n]; dup {
					t.Fatalf("%s and %s share consumer %s", id, other, n)
				}
				seen[n] = id
				if n != consumerName(key, gen, f) {
					t.Fatalf("%s: not stable", id)
				}
			}
		}
	}
}

func TestSessionConsumerFilters(t *testing.T) {
	st := sessionState{Subs: []storedSub{{Filter: "a/#", QoS: 1}, {Filter: "b", QoS: 0}, {Filter: "$share/g/c", QoS: 2}, {Filter: "d/+", QoS: 2}}}
	if got := fmt.Sprint(st.consumerFilters()); got != "[a/# d/+]" {
		t.Fatalf("filters %s", got)
	}
}
