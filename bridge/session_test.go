package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/wsgate/wsgate/auth"
	"github.com/wsgate/wsgate/subjects"
)

// Many sessions on one subject share one NATS subscription, and a message
// is encoded once for all of them.
func TestHubFanOut(t *testing.T) {
	e := newEnv(t, Config{})
	var cs []*client
	for range 3 {
		c := e.dial("/", nil, nil)
		e.sub(c, "sub chat.lobby")
		cs = append(cs, c)
	}
	if n := e.gw.hub.size(); n != 1 {
		t.Fatalf("hub holds %d NATS subscriptions for 3 sessions on one subject, want 1", n)
	}
	before := e.proto.encodes.Load()
	if err := e.worker().Publish("chat.lobby", []byte("hi all")); err != nil {
		t.Fatal(err)
	}
	for i, c := range cs {
		if got := c.read(); got != "msg chat.lobby hi all" {
			t.Errorf("client %d read %q", i, got)
		}
	}
	if n := e.proto.encodes.Load() - before; n != 1 {
		t.Errorf("message encoded %d times for 3 sessions, want 1", n)
	}

	// Another pattern is another subscription; a session on both gets the
	// message once per subscription.
	e.sub(cs[0], "sub chat.*")
	if n := e.gw.hub.size(); n != 2 {
		t.Fatalf("hub size %d, want 2", n)
	}
	if err := e.nc.Publish("chat.lobby", []byte("again")); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if got := cs[0].read(); got != "msg chat.lobby again" {
			t.Errorf("client 0 read %q", got)
		}
	}
	for _, c := range cs[1:] {
		if got := c.read(); got != "msg chat.lobby again" {
			t.Errorf("read %q", got)
		}
	}

	// Unsubscribing one member keeps the subscription for the others.
	cs[0].do("unsub chat.*")
	cs[0].do("unsub chat.lobby")
	if n := e.gw.hub.size(); n != 1 {
		t.Errorf("hub size after unsubscribing one member: %d, want 1", n)
	}
	if n := e.session(cs[0]).Subscriptions(); n != 0 {
		t.Errorf("session holds %d subscriptions after unsubscribing all", n)
	}

	for _, c := range cs {
		c.c.Close()
	}
	checkFor(t, 5*time.Second, func() error {
		if n, c := e.gw.hub.size(), e.gw.Connections(); n != 0 || c != 0 {
			return fmt.Errorf("after every client left: hub size %d, %d connections; want 0, 0", n, c)
		}
		return nil
	})
}

// A queue group member gets each message alone; a plain subscriber on the
// same subject gets every message.
func TestQueueGroupDelivery(t *testing.T) {
	e := newEnv(t, Config{})
	const members, msgs = 3, 30
	var cs []*client
	for range members {
		c := e.dial("/", nil, nil)
		e.sub(c, "qsub work.jobs workers")
		cs = append(cs, c)
	}
	plain := e.dial("/", nil, nil)
	e.sub(plain, "sub work.jobs")
	if n := e.gw.hub.size(); n != 2 {
		t.Fatalf("hub size %d, want 2 (one queue, one plain)", n)
	}
	w := e.worker()
	for i := range msgs {
		if err := w.Publish("work.jobs", []byte(fmt.Sprint("job-", i))); err != nil {
			t.Fatal(err)
		}
	}
	for i := range msgs {
		if got, want := plain.read(), fmt.Sprint("msg work.jobs job-", i); got != want {
			t.Fatalf("plain subscriber read %q, want %q", got, want)
		}
	}

	var mu sync.Mutex
	seen := map[string]int{}
	perMember := make([]int, members)
	var wg sync.WaitGroup
	for i, c := range cs {
		wg.Go(func() {
			for {
				s, err := c.tryRead(500 * time.Millisecond)
				if err != nil {
					return // quiet for a while: the member got all it will
				}
				mu.Lock()
				seen[s]++
				perMember[i]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(seen) != msgs {
		t.Errorf("%d distinct messages reached the group, want %d", len(seen), msgs)
	}
	for s, n := range seen {
		if n != 1 {
			t.Errorf("%q delivered to %d members", s, n)
		}
	}
	for i, n := range perMember {
		if n == 0 {
			t.Errorf("member %d got nothing (per member: %v)", i, perMember)
		}
	}
}

// A subscription to ">" sees every client subject but never the gateway's
// own, NATS system or inbox subjects.
func TestWideSubscriptionFiltersReserved(t *testing.T) {
	e := newEnv(t, Config{})
	c := e.dial("/", nil, nil)
	e.sub(c, "sub >")
	w := e.worker()
	for _, subj := range []string{"wsgate", "wsgate.events.test", "wsgate.conn.abc.send", "_INBOX.x.y", "$JS.EVENT.x"} {
		if err := w.Publish(subj, []byte("secret")); err != nil {
			t.Fatal(err)
		}
	}
	// The gateway's own events for another connection.
	other := e.dial("/", nil, nil)
	other.c.Close()
	checkFor(t, 5*time.Second, func() error {
		if n := e.gw.Connections(); n != 1 {
			return fmt.Errorf("%d connections, want 1", n)
		}
		return nil
	})
	if err := w.Publish("chat.last", []byte("public")); err != nil {
		t.Fatal(err)
	}
	if got := c.read(); got != "msg chat.last public" {
		t.Fatalf("first delivery %q, want the public message only", got)
	}
	if n := e.gw.hub.filtered.Load(); n < 4 {
		t.Errorf("filtered %d reserved messages, want at least 4", n)
	}
	// The reserved space itself cannot be subscribed to.
	for _, p := range []string{"wsgate.>", "wsgate.events.*", "$JS.>", "_INBOX.>"} {
		c.send("sub " + p)
		if got := c.read(); !strings.HasPrefix(got, "err ") {
			t.Errorf("sub %s: %q, want an error", p, got)
		}
	}
}

// A client that stops reading is cut off with 1008 once its queue is full;
// a client on the same subject that keeps up gets every message.
func TestSlowConsumer(t *testing.T) {
	e := newEnv(t, Config{MaxQueuedBytes: 256 << 10})
	slow := e.dial("/", smallReadBuffer(), nil)
	e.sub(slow, "sub feed")
	fast := e.dial("/", nil, nil)
	e.sub(fast, "sub feed")
	ss, fs := e.session(slow), e.session(fast)

	w := e.worker()
	payload := strings.Repeat("x", 32<<10)
	sent := 0
	// One message at a time, each read by the fast client before the next,
	// until the slow one's queue overflows (its socket buffers hold a few
	// MiB at most).
	for ; sent < 1000 && !closing(ss); sent++ {
		if err := w.Publish("feed", []byte(fmt.Sprint(sent, " ", payload))); err != nil {
			t.Fatal(err)
		}
		if got := fast.read(); !strings.HasPrefix(got, fmt.Sprint("msg feed ", sent, " ")) {
			t.Fatalf("fast client read %.40q, want message %d", got, sent)
		}
	}
	if !closing(ss) {
		t.Fatalf("slow client not cut off after %d messages of 32 KiB", sent)
	}
	t.Logf("slow client cut off after %d messages of 32 KiB", sent)
	waitDone(t, ss)
	if ss.cause.Code != ClosePolicy || !strings.Contains(ss.cause.Reason, "slow consumer") {
		t.Errorf("slow session cause %+v, want 1008 slow consumer", ss.cause)
	}
	if err := ss.Send(TextFrame([]byte("late"))); !errors.Is(err, ErrClosed) {
		t.Errorf("Send after close = %v, want ErrClosed", err)
	}
	// The fast client is unaffected.
	for i := range 5 {
		if err := w.Publish("feed", []byte(fmt.Sprint("after-", i))); err != nil {
			t.Fatal(err)
		}
		if got, want := fast.read(), fmt.Sprint("msg feed after-", i); got != want {
			t.Fatalf("fast client read %.40q, want %q", got, want)
		}
	}
	if fs.isClosed() {
		t.Error("fast session closed")
	}
	if n := e.gw.hub.size(); n != 1 {
		t.Errorf("hub size %d, want 1", n)
	}
}

// closing reports whether a session's queue has taken its close frame.
func closing(s *Session) bool {
	s.w.mu.Lock()
	defer s.w.mu.Unlock()
	return s.w.closing || s.w.stopped
}

func TestPublishHeaders(t *testing.T) {
	e := newEnv(t, Config{})
	w := e.worker()
	sub, err := w.SubscribeSync("chat.room")
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	c := e.dial("/", nil, nil)
	c.do("pub chat.room hello there")
	m, err := sub.NextMsg(5 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if string(m.Data) != "hello there" {
		t.Errorf("data %q", m.Data)
	}
	for k, want := range map[string]string{
		HeaderConnectionID: c.id,
		HeaderProtocol:     "test",
		HeaderEvent:        EventMessage,
		HeaderGateway:      e.gw.ID(),
		HeaderSourceIP:     "127.0.0.1",
	} {
		if got := m.Header.Get(k); got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
	for _, bad := range []string{"pub wsgate.conn.x.send hi", "pub $JS.API.INFO x", "pub a.* x", "pub a..b x", "pub _INBOX.x y"} {
		c.send(bad)
		if got := c.read(); !strings.HasPrefix(got, "err ") {
			t.Errorf("%s: %q, want an error", bad, got)
		}
	}
}

func TestCheckPublishSubscribe(t *testing.T) {
	e := newEnv(t, Config{})
	s := e.gw.newSession(e.proto, "", httptest.NewRequest("GET", "/", nil), nil)
	restricted := e.gw.newSession(e.proto, "", httptest.NewRequest("GET", "/", nil), nil)
	restricted.setPrincipal(&auth.Principal{ID: "u1", Permissions: &auth.Permissions{
		Publish:   auth.Rules{Allow: []string{"chat.>"}, Deny: []string{"chat.admin"}},
		Subscribe: auth.Rules{Allow: []string{"chat.>"}, Deny: []string{"chat.secret.>"}},
	}})
	invalid := func(err error) bool {
		return errors.Is(err, subjects.ErrInvalidSubject) || errors.Is(err, subjects.ErrInvalidPattern)
	}
	reserved := func(err error) bool { return errors.Is(err, ErrReserved) }
	forbidden := func(err error) bool { return errors.Is(err, ErrForbidden) }
	tests := []struct {
		s       *Session
		sub     bool
		subject string
		want    func(error) bool // nil: allowed
	}{
		{s, false, "chat.lobby", nil},
		{s, false, "wsgate", reserved},
		{s, false, "wsgate.conn.abc.send", reserved},
		{s, false, "wsgate.events.connect", reserved},
		{s, false, "$JS.API.INFO", reserved},
		{s, false, "$SYS.x", reserved},
		{s, false, "_INBOX.abc", reserved},
		{s, false, "", invalid},
		{s, false, "a..b", invalid},
		{s, false, "a.*", invalid},
		{s, false, "a.>", invalid},
		{s, false, "a b", invalid},
		{s, false, ".a", invalid},
		{s, true, "chat.*", nil},
		{s, true, ">", nil},
		{s, true, "*.conn.>", nil},
		{s, true, "wsgate.>", reserved},
		{s, true, "wsgate.*.*", reserved},
		{s, true, "$JS.>", reserved},
		{s, true, "$JS.API.>", reserved},
		{s, true, "_INBOX.>", reserved},
		{s, true, "a.>.b", invalid},
		{s, true, "a.b*", invalid},
		{s, true, "", invalid},
		{restricted, false, "chat.x", nil},
		{restricted, false, "chat.admin", forbidden},
		{restricted, false, "news.x", forbidden},
		{restricted, false, "wsgate.conn.x.info", reserved},
		{restricted, true, "chat.*", nil},
		{restricted, true, "chat.>", forbidden}, // reaches chat.secret.>
		{restricted, true, "chat.secret.x", forbidden},
		{restricted, true, ">", forbidden},
	}
	for _, tc := range tests {
		name := "publish"
		check := tc.s.CheckPublish
		if tc.sub {
			name, check = "subscribe", tc.s.CheckSubscribe
		}
		who := "anonymous"
		if tc.s == restricted {
			who = "restricted"
		}
		t.Run(who+"/"+name+"/"+tc.subject, func(t *testing.T) {
			err := check(tc.subject)
			switch {
			case tc.want == nil && err != nil:
				t.Errorf("refused: %v", err)
			case tc.want != nil && (err == nil || !tc.want(err)):
				t.Errorf("error %v, not the expected kind", err)
			}
		})
	}
}

func TestCustomReservedPrefix(t *testing.T) {
	e := newEnv(t, Config{ReservedPrefix: "acme.gw"})
	s := e.gw.newSession(e.proto, "", httptest.NewRequest("GET", "/", nil), nil)
	if s.ReservedPrefix() != "acme.gw" {
		t.Errorf("ReservedPrefix = %q", s.ReservedPrefix())
	}
	if err := s.CheckPublish("acme.gw.conn.x.send"); !errors.Is(err, ErrReserved) {
		t.Errorf("acme.gw.conn.x.send: %v", err)
	}
	if err := s.CheckPublish("wsgate.conn.x.send"); err != nil {
		t.Errorf("wsgate.* with another prefix: %v", err)
	}
	if err := s.CheckPublish("acme.other"); err != nil {
		t.Errorf("acme.other: %v", err)
	}
	// Control subjects move with the prefix.
	c := e.dial("/", nil, nil)
	w := e.worker()
	m, err := w.Request("acme.gw.conn."+c.id+".info", nil, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var info ConnInfo
	if err := json.Unmarshal(m.Data, &info); err != nil || info.ConnectionID != c.id {
		t.Errorf("info %s: %v", m.Data, err)
	}
	if _, err := w.Request("wsgate.conn."+c.id+".info", nil, time.Second); !errors.Is(err, nats.ErrNoResponders) {
		t.Errorf("old prefix: %v, want no responders", err)
	}
}

func TestNewErrors(t *testing.T) {
	e := newEnv(t, Config{})
	a := &testProto{name: "a", tokens: []string{"x.v1"}, paths: []string{"/a"}}
	tests := []struct {
		name string
		o    Options
		want string
	}{
		{"no NATS", Options{Protocols: []Protocol{a}}, "NATS is required"},
		{"no protocols", Options{NATS: e.nc}, "no protocols"},
		{"token twice", Options{NATS: e.nc, Protocols: []Protocol{a, &testProto{name: "b", tokens: []string{"x.v1"}}}}, `subprotocol "x.v1" registered twice`},
		{"path twice", Options{NATS: e.nc, Protocols: []Protocol{a, &testProto{name: "b", paths: []string{"/a"}}}}, `path "/a" registered twice`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g, err := New(tc.o)
			if err == nil {
				_ = g.Shutdown(context.Background())
				t.Fatal("New succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want %q", err, tc.want)
			}
		})
	}
}
