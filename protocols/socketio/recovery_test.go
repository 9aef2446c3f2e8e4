package socketio

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/wsgate/wsgate/bridge"
)

// connected parses a CONNECT answer's sid and pid.
func connected(t *testing.T, pkt string) (sid, pid string) {
	t.Helper()
	i := strings.IndexByte(pkt, '{')
	var v struct{ SID, PID string }
	if !strings.HasPrefix(pkt, "40") || i < 0 || json.Unmarshal([]byte(pkt[i:]), &v) != nil {
		t.Fatalf("CONNECT answer %q", pkt)
	}
	return v.SID, v.PID
}

// lastArg is an EVENT's last argument, a string (the offset).
func lastArg(t *testing.T, pkt string) (event []any, offset string) {
	t.Helper()
	var args []any
	if err := json.Unmarshal([]byte(pkt[strings.IndexByte(pkt, '['):]), &args); err != nil || len(args) < 2 {
		t.Fatalf("event %q", pkt)
	}
	off, _ := args[len(args)-1].(string)
	return args[:len(args)-1], off
}

// TestRecovery: a client that comes back with its pid and offset gets
// its socket id and rooms back, and what its rooms got meanwhile; the pid
// works once.
func TestRecovery(t *testing.T) {
	e := newEnv(t, Config{Recovery: RecoveryConfig{Window: time.Minute}, Routes: map[string]RouteConfig{"join": {Integration: "join"}}}, nil)
	w := e.worker()
	a := e.dial(t)
	a.send("40")
	sid, pid := connected(t, a.next())
	if pid == "" {
		t.Fatal("no pid with recovery on")
	}
	a.send(`421["join","r"]`)
	if got := a.next(); got != `431[]` {
		t.Fatalf("join %q", got)
	}
	w.Publish("sio-room._.r", []byte(`"one"`))
	ev, offset := lastArg(t, a.next())
	if len(ev) != 2 || ev[1] != "one" || offset == "" {
		t.Fatalf("event %v offset %q", ev, offset)
	}
	a.ws.Close() // the connection is lost
	w.Publish("sio-room._.r", []byte(`"two"`))
	w.Flush()

	var b *client
	deadline := time.Now().Add(10 * time.Second)
	for {
		b = e.dial(t)
		b.send(`40{"pid":"` + pid + `","offset":"` + offset + `"}`)
		if got, _ := connected(t, b.next()); got == sid {
			break
		}
		b.ws.Close() // the old session has not ended yet
		if time.Now().After(deadline) {
			t.Fatal("never recovered")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if ev, _ := lastArg(t, b.next()); ev[1] != "two" {
		t.Fatalf("replayed %v", ev)
	}
	// The room came back with the socket.
	w.Publish("sio-room._.r", []byte(`"three"`))
	if ev, _ := lastArg(t, b.next()); ev[1] != "three" {
		t.Fatalf("live %v", ev)
	}
	// The pid was taken: another try is a new socket.
	c := e.dial(t)
	c.send(`40{"pid":"` + pid + `","offset":"` + offset + `"}`)
	if got, _ := connected(t, c.next()); got == sid {
		t.Fatal("recovered twice")
	}
	// Without recovery no pid and no offsets.
	e2 := newEnv(t, Config{}, nil)
	d := e2.dial(t)
	d.send("40")
	if _, pid := connected(t, d.next()); pid != "" {
		t.Fatalf("pid %q without recovery", pid)
	}
}

func TestMissed(t *testing.T) {
	base := time.Unix(1000, 0)
	msg := func(ms int, data string) *bridge.DurableMessage {
		return &bridge.DurableMessage{Message: bridge.Message{Subject: "r", Data: []byte(data)}, Time: base.Add(time.Duration(ms) * time.Millisecond)}
	}
	msgs := []*bridge.DurableMessage{msg(-500, "a"), msg(1, "b"), msg(2, "c"), msg(3, "b"), msg(900, "d")}
	names := func(ms []*bridge.DurableMessage) string {
		var s []string
		for _, m := range ms {
			s = append(s, string(m.Data))
		}
		return strings.Join(s, ",")
	}
	for _, tc := range []struct {
		name string
		off  offset
		want string
	}{
		// The message the offset names was stored after its delivery
		// time: found by its digest, and what follows is missed.
		{"stored after", offset{base.UnixNano(), digest("r", []byte("b"))}, "c,b,d"},
		{"stored before", offset{base.Add(5 * time.Millisecond).UnixNano(), digest("r", []byte("c"))}, "b,d"},
		// No match: by time.
		{"unknown digest", offset{base.Add(2 * time.Millisecond).UnixNano(), digest("r", []byte("zz"))}, "b,d"},
		{"no offset: after the end", offset{}, "d"},
	} {
		if got := names(missed(msgs, tc.off, base.Add(100*time.Millisecond))); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
	if o := parseOffset(offset{42, "0123456789abcdef"}.String()); o.nanos != 42 || o.digest != "0123456789abcdef" {
		t.Errorf("round trip %+v", o)
	}
	for _, bad := range []string{"", "x", "-1-0123456789abcdef", "42", "42-short"} {
		if parseOffset(bad).valid() {
			t.Errorf("%q parsed", bad)
		}
	}
}
