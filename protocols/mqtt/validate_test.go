package mqtt

import (
	"strings"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	ok := []Config{
		{},
		{OutboundTopicAliases: -1}, // documented: none
		{MaxPacketSize: 268435460, ReceiveMaximum: 65535, MaxInflight: 65535, TopicAliasMaximum: 65535},
		{MaxKeepAlive: time.Second}, {MaxKeepAlive: 65535 * time.Second},
		{RetainedBucket: "my-retained_2", SessionStream: "MY-MSGS_2"},
		{RetainedBucket: strings.Repeat("b", 252), SessionStream: strings.Repeat("S", 248)},
		{ServerReference: "wss://mqtt.example.com/mqtt"},
	}
	for _, c := range ok {
		if err := c.Validate(); err != nil {
			t.Errorf("%+v: %v", c, err)
		}
	}

	bad := []struct {
		name string
		c    Config
		want string
	}{
		{"negative packet size", Config{MaxPacketSize: -1}, "max_packet_size: -1 must not be negative"},
		{"server reference with NUL", Config{ServerReference: "a\x00b"}, `server_reference: "a\x00b" is not an MQTT string`},
		{"packet size over MQTT's", Config{MaxPacketSize: 268435461}, "max_packet_size: 268435461 is more than MQTT allows (268435460)"},
		{"negative inflight", Config{MaxInflight: -5}, "max_inflight: -5 must not be negative"},
		{"inflight over two bytes", Config{MaxInflight: 70000}, "max_inflight: 70000 is more than MQTT allows (65535)"},
		{"negative receive maximum", Config{ReceiveMaximum: -1}, "receive_maximum: -1 must not be negative"},
		{"receive maximum over two bytes", Config{ReceiveMaximum: 65536}, "receive_maximum: 65536 is more than MQTT allows"},
		{"negative queued", Config{MaxQueued: -1}, "max_queued: -1 must not be negative"},
		{"negative alias maximum", Config{TopicAliasMaximum: -1}, "topic_alias_maximum: -1 must not be negative"},
		{"outbound aliases over two bytes", Config{OutboundTopicAliases: 65536}, "outbound_topic_aliases: 65536 is more than MQTT allows"},
		{"negative requests", Config{MaxRequests: -2}, "max_requests: -2 must not be negative"},
		{"negative connect timeout", Config{ConnectTimeout: -time.Second}, "connect_timeout: -1s must not be negative"},
		{"negative request timeout", Config{RequestTimeout: -time.Second}, "request_timeout: -1s must not be negative"},
		{"negative session expiry", Config{MaxSessionExpiry: -time.Hour}, "max_session_expiry: -1h0m0s must not be negative"},
		{"negative keep-alive", Config{MaxKeepAlive: -time.Second}, "max_keep_alive: -1s must not be negative"},
		{"sub-second keep-alive", Config{MaxKeepAlive: 500 * time.Millisecond}, "max_keep_alive: 500ms is shorter than 1s"},
		{"keep-alive over two bytes", Config{MaxKeepAlive: 65536 * time.Second}, "max_keep_alive: 18h12m16s is longer than MQTT's 18h12m15s"},
		{"bucket name with spaces", Config{RetainedBucket: "bad bucket name!"}, `retained_bucket: "bad bucket name!" is not a key-value bucket name`},
		{"bucket name with a dot", Config{ClientsBucket: "a.b"}, `clients_bucket: "a.b" is not a key-value bucket name`},
		{"bucket name too long", Config{SessionsBucket: strings.Repeat("b", 253)}, "sessions_bucket: " + `"` + strings.Repeat("b", 253) + `" is longer than 252 characters`},
		{"wills bucket", Config{WillsBucket: "w*"}, `wills_bucket: "w*" is not a key-value bucket name`},
		{"stream name with a dot", Config{SessionStream: "A.B"}, `session_stream: "A.B" is not a stream name`},
		{"stream name with a slash", Config{SessionStream: "A/B"}, `session_stream: "A/B" is not a stream name`},
		{"stream name with a space", Config{SessionStream: "A B"}, `session_stream: "A B" is not a stream name`},
		{"stream name too long", Config{SessionStream: strings.Repeat("S", 249)}, "is longer than 248 bytes"},
		{"one bucket twice", Config{RetainedBucket: "b", WillsBucket: "b"}, `wills_bucket: "b" is also retained_bucket`},
		{"a default bucket twice", Config{SessionsBucket: "wsgate_mqtt_clients"}, `sessions_bucket: "wsgate_mqtt_clients" is also clients_bucket`},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want %q", err, tc.want)
			}
		})
	}

	// Every problem is reported, not the first.
	err := Config{MaxPacketSize: -1, MaxInflight: -5, RetainedBucket: "bad bucket name!"}.Validate()
	if err == nil || strings.Count(err.Error(), "\n") != 2 {
		t.Errorf("want three errors, got %v", err)
	}
}
