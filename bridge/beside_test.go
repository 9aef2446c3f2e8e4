package bridge

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/wsgate/wsgate/auth"
	"github.com/wsgate/wsgate/subjects"
)

func TestRequestAsync(t *testing.T) {
	e := newEnv(t, Config{})
	w := e.worker()
	release := make(chan struct{})
	if _, err := w.Subscribe("svc.echo", func(m *nats.Msg) { _ = m.Respond(append([]byte("echo:"), m.Data...)) }); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Subscribe("svc.hold", func(m *nats.Msg) {
		<-release
		_ = m.Respond([]byte("late"))
	}); err != nil {
		t.Fatal(err)
	}
	_ = w.Flush()
	c := e.dial("/", nil, nil)
	s := e.session(c)

	t.Run("reply", func(t *testing.T) {
		got := make(chan string, 1)
		data := []byte("ping")
		if err := s.RequestAsync(4, "svc.echo", "", nil, data, 5*time.Second, func(m *Message, err error) {
			got <- fmt.Sprint(string(m.Data), err)
		}); err != nil {
			t.Fatal(err)
		}
		copy(data, "XXXX") // the caller's buffer may be reused at once
		if g := <-got; g != "echo:ping<nil>" {
			t.Errorf("got %q", g)
		}
	})

	t.Run("errors classified", func(t *testing.T) {
		got := make(chan ErrorKind, 2)
		done := func(_ *Message, err error) { got <- KindOf(err) }
		_ = s.RequestAsync(4, "svc.nobody", "", nil, nil, 5*time.Second, done)
		if k := <-got; k != KindNoResponders {
			t.Errorf("no responders: %v", k)
		}
		if err := s.RequestAsync(4, "wsgate.conn.x.info", "", nil, nil, time.Second, done); KindOf(err) != KindForbidden {
			t.Errorf("reserved subject: %v", err)
		}
	})

	t.Run("bounded, then cancelled and waited for at the end", func(t *testing.T) {
		called := make(chan error, 3)
		for range 2 {
			if err := s.RequestAsync(2, "svc.hold", "", nil, nil, time.Minute, func(_ *Message, err error) { called <- err }); err != nil {
				t.Fatal(err)
			}
		}
		err := s.RequestAsync(2, "svc.hold", "", nil, nil, time.Minute, func(*Message, error) {})
		if !errors.Is(err, ErrTooManyRequests) || KindOf(err) != KindLimit {
			t.Fatalf("third request: %v, want ErrTooManyRequests", err)
		}
		start := time.Now()
		c.send("close 1000 bye")
		waitDone(t, s)
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("the end waited %s for requests", d)
		}
		close(release)
		select {
		case err := <-called:
			t.Errorf("done called after the connection ended: %v", err)
		case <-time.After(200 * time.Millisecond):
		}
		if err := s.Beside(2, func(context.Context) {}); !errors.Is(err, ErrClosed) {
			t.Errorf("Beside after the end: %v", err)
		}
	})
}

func TestKindOf(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want ErrorKind
	}{
		{fmt.Errorf("x: %w", ErrForbidden), KindForbidden},
		{fmt.Errorf("x: %w", ErrReserved), KindForbidden},
		{fmt.Errorf("x: %w", subjects.ErrInvalidSubject), KindInvalidName},
		{fmt.Errorf("x: %w", subjects.ErrInvalidPattern), KindInvalidName},
		{ErrTooManyRequests, KindLimit},
		{fmt.Errorf("x: %w", ErrLimit), KindLimit},
		{fmt.Errorf("x: %w", ErrTimeout), KindTimeout},
		{fmt.Errorf("x: %w", ErrNoResponders), KindNoResponders},
		{ErrClosed, KindClosed},
		{ErrSlowConsumer, KindClosed},
		{ErrNotSubscribed, KindNotSubscribed},
		{fmt.Errorf("x: %w", auth.ErrDenied), KindUnauthenticated},
		{errors.New("other"), KindFailed},
	} {
		if got := KindOf(tc.err); got != tc.want {
			t.Errorf("KindOf(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
	if KindNoResponders.String() != "no_responders" || ErrorKind(99).String() != "failed" {
		t.Error("names")
	}
}
