package socketio

import (
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	if err := (Config{}).Validate(); err != nil {
		t.Fatalf("zero config: %v", err)
	}
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{Path: "socket.io"}, "path:"},
		{Config{Path: "/x?y"}, "path:"},
		{Config{SubjectPrefix: "a.*"}, "subject_prefix:"},
		{Config{RoomPrefix: "a b"}, "room_prefix:"},
		{Config{SubjectPrefix: "x", RoomPrefix: "x"}, "room_prefix: must differ"},
		{Config{PingInterval: time.Millisecond}, "ping_interval:"},
		{Config{PingTimeout: -time.Second}, "ping_timeout:"},
		{Config{MaxPayload: -1}, "max_payload:"},
		{Config{MaxAttachments: -1}, "max_attachments:"},
		{Config{Routes: map[string]RouteConfig{"x": {Integration: "subscribe"}}}, "routes.x: integration:"},
		{Config{Routes: map[string]RouteConfig{"x": {Subject: "a.{body.x}"}}}, "routes.x: subject: unknown placeholder {body.x}"},
		{Config{Routes: map[string]RouteConfig{"x": {Subject: "a.>"}}}, "routes.x: subject:"},
		{Config{Routes: map[string]RouteConfig{"x": {Integration: "join", Room: "{arg0"}}}, "routes.x: room:"},
		{Config{Routes: map[string]RouteConfig{"x": {Integration: "join", Subject: "a"}}}, "routes.x: subject: not for join"},
		{Config{Routes: map[string]RouteConfig{"x": {Room: "r"}}}, "routes.x: room: only for join and leave"},
		{Config{Routes: map[string]RouteConfig{"$connect": {Subject: "a"}}}, "routes.$connect: integration:"},
		{Config{Recovery: RecoveryConfig{Window: time.Millisecond}}, "recovery.window:"},
		{Config{Recovery: RecoveryConfig{Stream: "a.b"}}, "recovery.stream:"},
		{Config{Recovery: RecoveryConfig{Bucket: "a b"}}, "recovery.bucket:"},
		{Config{Routes: map[string]RouteConfig{"$connect": {Integration: "request"}}}, "routes.$connect: integration:"},
	} {
		err := tc.cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.cfg, err, tc.want)
		}
		if _, err := New(tc.cfg); err == nil {
			t.Errorf("%+v: New accepted it", tc.cfg)
		}
	}
}

func TestRouteTemplates(t *testing.T) {
	r, err := compileRoute("say", RouteConfig{Subject: "rooms.{namespace}.{arg0}.{arg1.to}"})
	if err != nil {
		t.Fatal(err)
	}
	c := &conn{}
	rest := []byte(`"a.b",{"to":"x y"},3`)
	got, err := r.subject.Expand(func(v string) (string, bool) { return c.lookup("shop", rest, v) })
	if err != nil || got != "rooms.shop.a%2Eb.x%20y" {
		t.Fatalf("expand: %q %v", got, err)
	}
	for _, v := range []string{"arg2", "arg0.x", "arg5", "arg1.missing"} {
		got, ok := argValue(rest, v[3:])
		if v == "arg2" {
			if !ok || got != "3" {
				t.Errorf("%s: %q %v", v, got, ok)
			}
			continue
		}
		if ok {
			t.Errorf("%s: %q, want no value", v, got)
		}
	}
	room, err := parseRoom("vip-{arg0}")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := room.expand(func(v string) (string, bool) { return argValue(rest, v[3:]) }); err != nil || got != "vip-a.b" {
		t.Fatalf("room: %q %v", got, err)
	}
}
