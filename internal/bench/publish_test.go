package bench

import (
	"bytes"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
)

func TestAppendPublish(t *testing.T) {
	long := `"` + strings.Repeat("x", 198) + `"` // 200 bytes: a two-byte MQTT length
	tests := []struct {
		kind, subject, payload string
		typ                    int
		want                   string
	}{
		{"json", "bench.pairs.3", `"p"`, websocket.TextMessage,
			`{"action":"publish","subject":"bench.pairs.3","data":"p"}`},
		{"stomp", "bench.pairs.3", `"p"`, websocket.TextMessage,
			"SEND\ndestination:/topic/bench.pairs.3\ncontent-length:3\n\n\"p\"\x00"},
		{"nats", "bench.pairs.3", `"p"`, websocket.BinaryMessage,
			"PUB bench.pairs.3 3\r\n\"p\"\r\n"},
		{"mqtt", "bench.pairs.3", `"p"`, websocket.BinaryMessage,
			"\x30\x12\x00\x0dbench/pairs/3\"p\""},
		{"mqtt", "b", long, websocket.BinaryMessage,
			"\x30\xcb\x01\x00\x01b" + long}, // 2+1+200 = 203 = 0xcb 0x01
	}
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			prefix := []byte("stale")
			typ, got := appendPublish(prefix[:0], tt.kind, tt.subject, []byte(tt.payload))
			if typ != tt.typ {
				t.Errorf("message type %d, want %d", typ, tt.typ)
			}
			if !bytes.Equal(got, []byte(tt.want)) {
				t.Errorf("got %q\nwant %q", got, tt.want)
			}
		})
	}
}

// TestAppendPublishMQTTParses checks the PUBLISH against the load
// generator's own MQTT reader, as a subscriber would see it.
func TestAppendPublishMQTTParses(t *testing.T) {
	payload := makePayload(300, 7, 42)
	_, pkt := appendPublish(nil, "mqtt", "bench.pairs.12", payload)
	c := &conn{buf: pkt[:len(pkt)-1]} // a packet cut short waits for the rest
	var got []byte
	on := func(typ byte, body []byte) {
		n := int(body[0])<<8 | int(body[1])
		if typ != 0x30 || string(body[2:2+n]) != "bench/pairs/12" {
			t.Errorf("type %#x, topic %q", typ, body[2:2+n])
		}
		got = body[2+n:]
	}
	if err := c.mqttParse(on); err != nil || got != nil {
		t.Fatalf("a partial packet: %v, %q", err, got)
	}
	c.buf = append(c.buf, pkt[len(pkt)-1])
	if err := c.mqttParse(on); err != nil {
		t.Fatal(err)
	}
	if seq, sent, ok := parsePayload(got); !ok || seq != 7 || sent != 42 {
		t.Errorf("payload %q: seq %d sent %d ok %v", got, seq, sent, ok)
	}
}
