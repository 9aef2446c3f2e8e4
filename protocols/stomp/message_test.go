package stomp

import (
	"testing"

	"github.com/wsgate/wsgate/bridge"
)

// BenchmarkDeliver measures one message reaching many subscriptions: the
// shared tail is encoded once, each subscription writes only its head.
func BenchmarkDeliver(b *testing.B) {
	p, err := New(Config{}, "bench")
	if err != nil {
		b.Fatal(err)
	}
	m := &bridge.Message{Subject: "chat.room1", Header: bridge.Header{"Content-Type": {"application/json"}, "x-from": {"w"}},
		Data: []byte(`{"text":"hello, world","from":"ada"}`)}
	const subs = 100
	b.ReportAllocs()
	for b.Loop() {
		d := &bridge.Delivery{Msg: m}
		for range subs {
			tail, _ := d.Frame(tailKey{V12, false}, func(m *bridge.Message) (*bridge.Frame, error) {
				return bridge.DataFrame(p.messageTail(m, V12, false, "")), nil
			})
			_ = messageFrame("sub-1", "/topic/chat.room1", V12, tail)
		}
	}
}

// TestMessageFrame checks that head and shared tail make one frame.
func TestMessageFrame(t *testing.T) {
	p, _ := New(Config{}, "test")
	m := &bridge.Message{Subject: "a.b", Data: []byte("\xff\x00"), Header: bridge.Header{"Nats-Msg-Id": {"c.1"}, "x-app": {"y"}}}
	f := messageFrame("s:1", "/topic/a.b", V12, bridge.DataFrame(p.messageTail(m, V12, true, "9")))
	if f.IsText() {
		t.Error("a body that is not UTF-8 went in a text frame")
	}
	fr, n, err := Parse(f.Payload(), V12, Limits{})
	if err != nil || n != len(f.Payload()) {
		t.Fatalf("%v %d", err, n)
	}
	want := map[string]string{"subscription": "s:1", "destination": "/topic/a.b", "message-id": "9", "ack": "9", "content-length": "2"}
	for k, v := range want {
		if fr.Value(k) != v {
			t.Errorf("%s = %q, want %q", k, fr.Value(k), v)
		}
	}
	if _, ok := fr.Get("Nats-Msg-Id"); ok || fr.Value("x-app") != "y" {
		t.Errorf("headers: Nats-Msg-Id %q (want none), x-app %q", fr.Value("Nats-Msg-Id"), fr.Value("x-app"))
	}
	if string(fr.Body) != "\xff\x00" {
		t.Errorf("body %q", fr.Body)
	}
}
