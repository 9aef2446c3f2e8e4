package stomp

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/wsgate/wsgate/bridge"
)

func TestParseDestination(t *testing.T) {
	long := strings.Repeat("a", 2000)
	for _, tc := range []struct {
		in      string
		pattern bool
		kind    destKind
		subject string // "" when refused
	}{
		{"/topic/chat.room1", false, destTopic, "chat.room1"},
		{"/topic/chat.>", true, destTopic, "chat.>"},
		{"/topic/chat.*.x", true, destTopic, "chat.*.x"},
		{"/topic/chat.>", false, 0, ""}, // no wildcards in SEND
		{"/queue/jobs", false, destQueue, "jobs"},
		{"/queue/jobs", true, destQueue, "jobs"},
		{"/queue/jobs.*", true, 0, ""}, // a queue is also its queue group: literal
		{"/temp-queue/r1", false, destTemp, "r1"},
		{"/temp-queue/r.*", true, 0, ""},
		{"/user/queue/push", true, destUser, "queue/push"},
		{"/user/a b", false, 0, ""},
		{"a.b", false, destBare, "a.b"},
		{"a.>", true, destBare, "a.>"},
		{"/exchange/x", false, 0, ""},
		{"/amq/queue/x", false, 0, ""},
		{"/topic/", false, 0, ""},
		{"/topic/.", false, 0, ""},
		{"/topic/a..b", false, 0, ""},
		{"/topic/a.", false, 0, ""},
		{"/topic/*", false, 0, ""},
		{"/topic/>", false, 0, ""},
		{"/topic/a>", true, 0, ""},
		{"/topic/>.a", true, 0, ""},
		{"/topic/a b", false, 0, ""},
		{"/topic/a\tb", true, 0, ""},
		{"/topic/a\x00b", false, 0, ""},
		{"/topic/a\nb", false, 0, ""},
		{"/topic/\xff\xfe", false, 0, ""},
		{"/topic/" + long, false, 0, ""},
		{"", false, 0, ""},
		{".", false, 0, ""},
		{"*", false, 0, ""},
		{">", false, 0, ""},
		{"a b", false, 0, ""},
		{"/queue/a\u00a0b", false, 0, ""}, // a no-break space
		{"/topic/café.menu", false, destTopic, "café.menu"},
	} {
		got, err := parseDestination(tc.in, tc.pattern)
		if tc.subject == "" {
			if err == nil {
				t.Errorf("%q (pattern %v): accepted as %+v, want refused", short(tc.in), tc.pattern, got)
			} else if !errors.Is(err, errDestination) {
				t.Errorf("%q: error %v does not wrap errDestination", short(tc.in), err)
			}
			continue
		}
		if err != nil || got.kind != tc.kind || got.subject != tc.subject {
			t.Errorf("%q (pattern %v) = %+v, %v; want kind %d subject %q", tc.in, tc.pattern, got, err, tc.kind, tc.subject)
		}
	}
}

func TestDestinationName(t *testing.T) {
	for _, tc := range []struct {
		in, subject, want string
	}{
		{"/topic/chat.>", "chat.a", "/topic/chat.a"},
		{"/queue/jobs", "jobs", "/queue/jobs"},
		{"a.*", "a.b", "a.b"},
		{"/temp-queue/r", "ignored", "/temp-queue/r"},
	} {
		d, err := parseDestination(tc.in, true)
		if err != nil && !strings.HasPrefix(tc.in, "/temp") {
			t.Fatal(err)
		}
		if strings.HasPrefix(tc.in, "/temp") {
			d, _ = parseDestination(tc.in, false)
		}
		if got := d.name(tc.subject); got != tc.want {
			t.Errorf("%q for %q = %q, want %q", tc.in, tc.subject, got, tc.want)
		}
	}
}

func TestNegotiate(t *testing.T) {
	for _, tc := range []struct {
		accept string
		want   Version
		ok     bool
	}{
		{"-", V10, true},
		{"1.0", V10, true},
		{"1.1,1.0", V11, true},
		{"1.0,1.1,1.2", V12, true},
		{"1.2, 1.1", V12, true},
		{"2.0", 0, false},
		{"", 0, false},
	} {
		f := &Frame{Command: CmdConnect}
		if tc.accept != "-" {
			f.Add("accept-version", tc.accept)
		}
		v, ok := negotiate(f)
		if v != tc.want || ok != tc.ok {
			t.Errorf("accept-version %q = %s, %v; want %s, %v", tc.accept, v, ok, tc.want, tc.ok)
		}
	}
}

func TestHeartBeat(t *testing.T) {
	cx, cy, err := parseHeartBeat("1000, 0")
	if err != nil || cx != time.Second || cy != 0 {
		t.Errorf("parse: %v %v %v", cx, cy, err)
	}
	for _, bad := range []string{"", "1", "a,b", "-1,0", "1,2,3", "99999999999,0"} {
		if _, _, err := parseHeartBeat(bad); err == nil {
			t.Errorf("heart-beat %q accepted", bad)
		}
	}
	for _, tc := range []struct{ a, b, want time.Duration }{
		{0, time.Second, 0}, {time.Second, 0, 0}, {time.Second, 2 * time.Second, 2 * time.Second},
	} {
		if got := agree(tc.a, tc.b); got != tc.want {
			t.Errorf("agree(%v, %v) = %v", tc.a, tc.b, got)
		}
	}
}

func TestToNATS(t *testing.T) {
	f := &Frame{Command: CmdSend, Headers: hf(
		"destination", "/topic/a", "content-type", "text/plain", "receipt", "1",
		"x-trace", "abc", "x-trace", "second", "Wsgate-Connection-Id", "forged",
		"wsgate-principal", "forged", "bad name", "v", "a:b", "v", "x-nl", "a\nb",
		"transaction", "t", "reply-to", "/temp-queue/x",
	)}
	h := toNATS(f)
	want := bridge.Header{"x-trace": {"abc"}, "Content-Type": {"text/plain"}}
	if len(h) != len(want) || h.Get("x-trace") != "abc" || h.Get("Content-Type") != "text/plain" {
		t.Errorf("toNATS = %v, want %v", h, want)
	}
}

func TestMessageTail(t *testing.T) {
	p, err := New(Config{}, "test")
	if err != nil {
		t.Fatal(err)
	}
	m := &bridge.Message{Subject: "a.b", Header: bridge.Header{
		"Content-Type": {"application/json"}, "X-Id": {"1:2"}, "Wsgate-Source-Ip": {"10.0.0.1"},
		"destination": {"/topic/forged"}, "X-Nl": {"a\nb"},
	}, Data: []byte("{}\x00")}
	for _, v := range []Version{V10, V11, V12} {
		tail := p.messageTail(m, v, v == V12, "7")
		fr, n, err := Parse(append([]byte("MESSAGE\nsubscription:s\n"), tail...), v, Limits{})
		if err != nil || fr == nil || n != len(tail)+len("MESSAGE\nsubscription:s\n") {
			t.Fatalf("%s: %v %d", v, err, n)
		}
		if fr.Value("message-id") != "7" || fr.Value("content-type") != "application/json" ||
			fr.Value("X-Id") != "1:2" || string(fr.Body) != "{}\x00" {
			t.Errorf("%s: %s", v, dump([]*Frame{fr}))
		}
		if _, ok := fr.Get("Wsgate-Source-Ip"); ok {
			t.Errorf("%s: gateway header leaked", v)
		}
		if fr.Value("destination") != "" {
			t.Errorf("%s: a NATS header set the destination", v)
		}
		if _, ok := fr.Get("ack"); ok != (v == V12) {
			t.Errorf("%s: ack header %v", v, ok)
		}
		if _, ok := fr.Get("X-Nl"); ok == (v == V10) {
			t.Errorf("%s: X-Nl carried: %v", v, ok)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	err := Config{MaxFrameBytes: -1, HeartbeatSend: time.Millisecond, DurableQueues: []string{"/topic/x", "/queue/a..b", "/queue/jobs.*"}}.Validate()
	if err == nil {
		t.Fatal("accepted")
	}
	for _, key := range []string{"max_frame_bytes", "heartbeat_send", "durable_queues[0]", "durable_queues[1]"} {
		if !strings.Contains(err.Error(), key) {
			t.Errorf("error does not name %s: %v", key, err)
		}
	}
	if strings.Contains(err.Error(), "durable_queues[2]") {
		t.Errorf("a valid durable queue refused: %v", err)
	}
}
