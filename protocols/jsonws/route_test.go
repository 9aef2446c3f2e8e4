package jsonws

import (
	"fmt"
	"strings"
	"testing"
)

func TestSelectRoute(t *testing.T) {
	withDefault := benchConn(t, Config{Routes: map[string]RouteConfig{
		"send":          {Integration: kindPublish, Subject: "chat.{body.room}"},
		routeDefault:    {Integration: kindPublish, Subject: "fallback"},
		routeConnect:    {Integration: kindRequest, Subject: "auth"},
		routeDisconnect: {Integration: kindPublish, Subject: "gone"},
	}})
	without := benchConn(t, Config{Routes: map[string]RouteConfig{
		"send": {Integration: kindPublish, Subject: "chat.{body.room}"},
	}})
	long := strings.Repeat("k", 100)
	tests := []struct {
		name   string
		c      *conn
		data   string
		route  string // "" for none
		key    string
		object bool
	}{
		{"route", withDefault, `{"action":"send"}`, "send", "send", true},
		{"escaped key", withDefault, `{"\u0061ction":"s\u0065nd"}`, "send", "send", true},
		{"unknown key", withDefault, `{"action":"nope"}`, routeDefault, "nope", true},
		{"$default by name", withDefault, `{"action":"$default"}`, routeDefault, "$default", true},
		{"$connect is never selected", withDefault, `{"action":"$connect"}`, routeDefault, "$connect", true},
		{"$disconnect is never selected", withDefault, `{"action":"$disconnect"}`, routeDefault, "$disconnect", true},
		{"not JSON", withDefault, `send`, routeDefault, "", false},
		{"no key", withDefault, `{}`, routeDefault, "", true},
		{"no $default", without, `{"action":"nope"}`, "", "nope", true},
		{"not JSON, no $default", without, `{"action":`, "", "", false},
		{"$connect, no $default", without, `{"action":"$connect"}`, "", "$connect", true},
		{"key longer than the buffer", without, `{"action":"` + long + `"}`, "", long, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := getBody()
			defer putBody(b)
			b.parse([]byte(`{"action":"send","stale":true}`)) // a recycled body forgets
			var kb [64]byte
			r, key, object := tc.c.selectRoute(b, []byte(tc.data), kb[:0])
			got := ""
			if r != nil {
				got = r.key
			}
			if got != tc.route || string(key) != tc.key || object != tc.object {
				t.Errorf("selectRoute(%s) = %q, key %q, object %v; want %q, %q, %v", tc.data, got, key, object, tc.route, tc.key, tc.object)
			}
			if _, ok := b.lookup([]string{"stale"}); ok {
				t.Error("the recycled body still has a member of the message before")
			}
		})
	}
}

// A clone outlives the message: the reader's buffer is reused once the
// message is handled.
func TestCloneOwnsBytes(t *testing.T) {
	for _, n := range []int{1, 16, 17, 40} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			var sb strings.Builder
			sb.WriteString(`{"id":7,"subject":"chat.lobby"`)
			for i := range n {
				fmt.Fprintf(&sb, `,"k%d":"v%d"`, i, i)
			}
			sb.WriteString(`,"data":{"text":"hi"}}`)
			data := []byte(sb.String())
			b := getBody()
			if !b.parse(data) {
				t.Fatal("not an object")
			}
			c := b.clone()
			putBody(b)
			for i := range data {
				data[i] = 'x'
			}
			b = getBody()
			b.parse([]byte(`{"id":8,"subject":"other","data":1}`))
			defer putBody(b)
			if id := clientID(c); string(id) != "7" {
				t.Errorf("id = %s, want 7", id)
			}
			if s, _ := c.str([]string{"subject"}); s != "chat.lobby" {
				t.Errorf("subject = %q", s)
			}
			if p := c.payload([]string{"data"}); string(p) != `{"text":"hi"}` {
				t.Errorf("payload = %s", p)
			}
			last := fmt.Sprintf("k%d", n-1)
			if s, _ := c.scalar([]string{last}); s != fmt.Sprintf("v%d", n-1) {
				t.Errorf("%s = %q", last, s)
			}
			if len(c.top) != n+3 {
				t.Errorf("%d members, want %d", len(c.top), n+3)
			}
		})
	}
}
