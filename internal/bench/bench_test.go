package bench

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/wsgate/wsgate/protocols/wamp"
)

func TestWindow(t *testing.T) {
	tests := []struct {
		flag     int
		scenario string
		want     int
	}{
		{0, "fanout", 256},
		{0, "pairs", 10},
		{0, "qos", 100},
		{7, "fanout", 7},
		{7, "pairs", 7},
		{256, "qos", 256},
	}
	for _, tt := range tests {
		o := Options{Window: tt.flag}
		if got := o.window(tt.scenario); got != tt.want {
			t.Errorf("--window %d, %s: %d, want %d", tt.flag, tt.scenario, got, tt.want)
		}
	}
}

// TestPrintRatiosPairs checks that pairs figures are compared like the
// others: wsgate with nats-server, wsgate-mqtt with nats-server-mqtt.
func TestPrintRatiosPairs(t *testing.T) {
	fig := func(d, cpu float64) []figure {
		return []figure{{"deliveries/s", d, ""}, {"lost", 0, "deliveries"}, {"server CPU/delivery", cpu, "µs"}}
	}
	rs := []result{
		{target: "wsgate", scenario: "pairs", figures: fig(30000, 20)},
		{target: "nats-server", scenario: "pairs", figures: fig(60000, 4)},
		{target: "wsgate-mqtt", scenario: "pairs", figures: fig(45000, 20)},
		{target: "nats-server-mqtt", scenario: "pairs", figures: fig(50000, 5)},
	}
	var out bytes.Buffer
	printRatios(&out, rs)
	for _, want := range []string{
		"wsgate / nats-server:\n  pairs deliveries/s               0.50x\n  pairs server CPU/delivery        5.00x\n",
		"wsgate-mqtt / nats-server-mqtt:\n  pairs deliveries/s               0.90x\n  pairs server CPU/delivery        4.00x\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("missing\n%s\nin\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "lost") {
		t.Errorf("a ratio of zero losses:\n%s", out.String())
	}
}

// TestProcFDs: the count of a process's descriptors follows what it opens
// and closes (the crowd's leave curve is read this way).
func TestProcFDs(t *testing.T) {
	before, err := procFDs(os.Getpid())
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	opened, _ := procFDs(os.Getpid())
	f.Close()
	closed, _ := procFDs(os.Getpid())
	if opened != before+1 || closed != before {
		t.Errorf("descriptors: %d, then %d with one more open, then %d after closing it", before, opened, closed)
	}
}

// TestMsgpackPayload: the payload of a MessagePack EVENT and RESULT is
// found without decoding them, at every length a string header takes.
func TestMsgpackPayload(t *testing.T) {
	for _, size := range []int{minPayload, 64, 300, 70000} {
		p := makePayload(size, 42, 1234567)
		for _, m := range []wamp.Message{
			&wamp.Event{Subscription: 7, Publication: 99, Details: wamp.Dict{"topic": "a.b"}, Args: wamp.List{string(p[1 : len(p)-1])}},
			&wamp.Result{Request: 3, Details: wamp.Dict{}, Args: wamp.List{string(p[1 : len(p)-1])}},
		} {
			b, err := wamp.Encode(wamp.Msgpack, nil, m)
			if err != nil {
				t.Fatal(err)
			}
			var buf [minPayload]byte
			got, ok := msgpackPayload(b, &buf)
			if size > 1<<16 {
				if ok {
					t.Errorf("size %d: found a payload past the scan's reach", size)
				}
				continue
			}
			seq, sent, pok := parsePayload(got)
			if !ok || !pok || seq != 42 || sent != 1234567 {
				t.Errorf("size %d %T: %q %v %v %d %d", size, m, got, ok, pok, seq, sent)
			}
		}
	}
	if _, ok := msgpackPayload([]byte{0x95, 0x24, 1, 2, 0x80, 0x90}, new([minPayload]byte)); ok {
		t.Error("payload in an EVENT without arguments")
	}
}

// TestTargetSpread: over several gateways, connection i dials the i-th in
// turn, and a shifted group (pairs' publishers) lands on another gateway
// than the same index of the first group (their subscribers).
func TestTargetSpread(t *testing.T) {
	one := &target{wsURL: "ws://a/"}
	if one.at(5) != one || one.shifted(1) != one {
		t.Fatal("a single gateway's target is itself")
	}
	two := &target{wsURL: "ws://a/", urls: []string{"ws://a/", "ws://b/"}, pids: []int{1, 2}}
	for i, want := range []string{"ws://a/", "ws://b/", "ws://a/", "ws://b/"} {
		if got := two.at(i).wsURL; got != want {
			t.Errorf("at(%d) dials %s, want %s", i, got, want)
		}
		if two.shifted(1).at(i).wsURL == two.at(i).wsURL {
			t.Errorf("shifted(1).at(%d) is on the same gateway as at(%d)", i, i)
		}
	}
	if got := two.allPIDs(); len(got) != 2 {
		t.Errorf("allPIDs %v", got)
	}
	if got := (&target{pid: 7}).allPIDs(); len(got) != 1 || got[0] != 7 {
		t.Errorf("allPIDs of one %v", got)
	}
}
