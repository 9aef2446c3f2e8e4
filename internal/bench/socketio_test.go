package bench

import "testing"

func TestSIOPayload(t *testing.T) {
	p := makePayload(40, 7, 99)
	for _, tc := range []struct {
		in         string
		want       string
		pong, isOK bool
	}{
		{`42["message",` + string(p) + `]`, string(p), false, true},
		{string(appendSIOEmit(nil, "bench.fanout", p)), string(p), false, true},
		{`2`, "", true, false},
		{`40{"sid":"x"}`, "", false, false},
		{`42["message"]`, "", false, false},
	} {
		got, pong, ok := sioPayload([]byte(tc.in))
		if string(got) != tc.want || pong != tc.pong || ok != tc.isOK {
			t.Errorf("%s: %q %v %v", tc.in, got, pong, ok)
		}
	}
	if seq, sent, ok := parsePayload(p); !ok || seq != 7 || sent != 99 {
		t.Errorf("payload %q: %d %d %v", p, seq, sent, ok)
	}
	if s, err := sioRoomSubject("bench.fanout"); err != nil || s != "sio-room._.bench%2Efanout" {
		t.Errorf("room subject %q %v", s, err)
	}
}
