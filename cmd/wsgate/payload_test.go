package main

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestEmbeddedPayload(t *testing.T) {
	for _, tc := range []struct {
		yaml string
		want int32
	}{
		{"", 1<<20 + headerRoom},
		{"gateway:\n  max_message_bytes: 1024\nstomp:\n  max_frame_bytes: 1024\nmqtt:\n  max_packet_size: 1024\nwamp:\n  max_message_bytes: 1024\nsocketio:\n  max_payload: 1024\n", 1 << 20}, // never below nats-server's default
		{"mqtt:\n  max_packet_size: 4194304\n", 4<<20 + headerRoom},
		{"stomp:\n  max_frame_bytes: 3000000\n", 3000000 + headerRoom},
	} {
		c, err := checkConfig(t, tc.yaml)
		if err != nil {
			t.Fatal(err)
		}
		if got := c.embeddedPayload(); got != tc.want {
			t.Errorf("%q: max_payload %d, want %d", tc.yaml, got, tc.want)
		}
	}
}

func TestFitPayload(t *testing.T) {
	const mib = 1 << 20
	for _, tc := range []struct {
		name       string
		yaml       string
		maxPayload int64
		err        []string // in the error; none: no error
		gw, st, mq int64    // the limits after
		warn       bool
	}{
		{"room to spare", "", 2 * mib, nil, 0, 0, 0, false},
		{"defaults lowered", "", mib, nil, mib - headerRoom, mib - headerRoom, mib - headerRoom, true},
		{"a set limit that fits stays", "gateway:\n  max_message_bytes: 4096\n", mib, nil, 4096, mib - headerRoom, mib - headerRoom, true},
		{"a set limit that does not fit", "gateway:\n  max_message_bytes: 1048576\n", mib,
			[]string{"NATS max_payload is 1048576 bytes", "gateway.max_message_bytes (1048576)", "65536 bytes of header room", "at least 1114112", "set gateway.max_message_bytes (1048576) to at most 983040"}, 0, 0, 0, false},
		{"two set limits", "stomp:\n  max_frame_bytes: 2000000\nmqtt:\n  max_packet_size: 3000000\n", mib,
			[]string{"stomp.max_frame_bytes (2000000), mqtt.max_packet_size (3000000)", "at least 3065536"}, 0, 0, 0, false},
		{"no room at all", "", 32 << 10,
			[]string{"max_payload is 32768 bytes", "gateway.max_message_bytes (1048576), stomp.max_frame_bytes (1048576), mqtt.max_packet_size (1048576), wamp.max_message_bytes (1048576), socketio.max_payload (1000000)", "at least 1114112"}, 0, 0, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := checkConfig(t, tc.yaml)
			if err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			err = fitPayload(c, tc.maxPayload, slog.New(slog.NewTextHandler(&logs, nil)))
			if len(tc.err) > 0 {
				if err == nil {
					t.Fatal("no error")
				}
				for _, w := range tc.err {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("%q not in %q", w, err)
					}
				}
				if tc.maxPayload < 64<<10 && strings.Contains(err.Error(), "at most") {
					t.Errorf("advice to lower the limits below nothing: %q", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Gateway.MaxMessageBytes != tc.gw || int64(c.STOMP.MaxFrameBytes) != tc.st || int64(c.MQTT.MaxPacketSize) != tc.mq {
				t.Errorf("limits %d %d %d, want %d %d %d", c.Gateway.MaxMessageBytes, c.STOMP.MaxFrameBytes, c.MQTT.MaxPacketSize, tc.gw, tc.st, tc.mq)
			}
			if got := strings.Contains(logs.String(), "lowered"); got != tc.warn {
				t.Errorf("warning %v, want %v: %q", got, tc.warn, logs.String())
			}
		})
	}
}

func TestClientLimitTooBig(t *testing.T) {
	_, err := checkConfig(t, "mqtt:\n  max_packet_size: 2147483647\n")
	if err == nil || !strings.Contains(err.Error(), "mqtt.max_packet_size: 2147483647 is more than NATS can carry (at most 2147418111") {
		t.Errorf("got %v", err)
	}
}
