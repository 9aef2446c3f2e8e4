package bridge

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// respondProto exercises Respond and RequestReplies:
//
//	serve SUBJ       subscribe; answer each request twice ("part:DATA", then
//	                 "last:DATA" with header Last: 1)
//	ask SUBJ DATA    RequestReplies; each reply comes back as "got DATA",
//	                 until one with Last, or an error ("err TEXT")
type respondProto struct{ testProto }

func (p *respondProto) Open(s *Session) Handler { return &respondHandler{s: s} }

type respondHandler struct{ s *Session }

func (h *respondHandler) say(s string) { _ = h.s.Send(TextFrame([]byte(s))) }

func (h *respondHandler) Push(*Message) {}

func (h *respondHandler) HandleMessage(_ bool, data []byte) error {
	verb, rest, _ := strings.Cut(string(data), " ")
	switch verb {
	case "hello": // what env.dial expects
		h.say("hello test " + h.s.ID())
	case "serve":
		_, err := h.s.Subscribe(rest, "", func(d *Delivery) {
			_ = h.s.Respond(d.Msg, nil, append([]byte("part:"), d.Msg.Data...))
			_ = h.s.Respond(d.Msg, Header{"Last": {"1"}}, append([]byte("last:"), d.Msg.Data...))
		})
		if err != nil {
			h.say("err " + err.Error())
			return nil
		}
		if err := h.s.FlushSubscriptions(context.Background()); err != nil {
			h.say("err " + err.Error())
			return nil
		}
		h.say("ok")
	case "ask":
		subj, payload, _ := strings.Cut(rest, " ")
		r, err := h.s.RequestReplies(subj, "", nil, []byte(payload))
		if err != nil {
			h.say("err " + err.Error())
			return nil
		}
		go func() {
			defer r.Stop()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			for {
				m, err := r.Next(ctx)
				if err != nil {
					h.say("err " + err.Error())
					return
				}
				h.say("got " + string(m.Data))
				if m.Header.Get("Last") != "" {
					return
				}
			}
		}()
	}
	return nil
}

func TestRespondAndReplies(t *testing.T) {
	e := newEnv(t, Config{}, &respondProto{*newTestProto()})
	callee := e.dial("/", nil, nil)
	caller := e.dial("/", nil, nil)
	nc := e.worker()

	t.Run("no responders", func(t *testing.T) {
		caller.send("ask svc.none x")
		if got := caller.read(); !strings.Contains(got, ErrNoResponders.Error()) {
			t.Fatalf("got %q", got)
		}
	})
	t.Run("a client's replies reach a NATS requester, with headers", func(t *testing.T) {
		callee.send("serve svc.twice")
		if got := callee.read(); got != "ok" {
			t.Fatalf("serve: %q", got)
		}
		inbox := nats.NewInbox()
		sub, _ := nc.SubscribeSync(inbox)
		if err := nc.PublishRequest("svc.twice", inbox, []byte("q")); err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"part:q", "last:q"} {
			m, err := sub.NextMsg(5 * time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if string(m.Data) != want || m.Header.Get(HeaderConnectionID) != callee.id {
				t.Fatalf("got %q %v, want %q from %s", m.Data, m.Header, want, callee.id)
			}
		}
	})
	t.Run("several replies reach RequestReplies", func(t *testing.T) {
		caller.send("ask svc.twice hi")
		for _, want := range []string{"got part:hi", "got last:hi"} {
			if got := caller.read(); got != want {
				t.Fatalf("got %q, want %q", got, want)
			}
		}
	})
	t.Run("timeout", func(t *testing.T) {
		if _, err := nc.Subscribe("svc.silent", func(*nats.Msg) {}); err != nil {
			t.Fatal(err)
		}
		nc.Flush()
		caller.send("ask svc.silent x")
		if got := caller.read(); !strings.Contains(got, ErrTimeout.Error()) {
			t.Fatalf("got %q", got)
		}
	})
	t.Run("permissions and reserved subjects", func(t *testing.T) {
		caller.send("ask wsgate.conn.x.info x")
		if got := caller.read(); !strings.Contains(got, ErrReserved.Error()) {
			t.Fatalf("got %q", got)
		}
	})
	t.Run("a message without a reply subject", func(t *testing.T) {
		s := &Session{}
		if err := s.Respond(&Message{Subject: "a"}, nil, nil); !errors.Is(err, ErrNoReply) {
			t.Fatalf("got %v", err)
		}
	})
}
