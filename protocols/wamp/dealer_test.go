package wamp

import (
	"encoding/json"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/wsgate/wsgate/bridge"
)

func TestCallToWorker(t *testing.T) {
	e := newEnv(t, Config{CallTimeout: 2 * time.Second}, nil)
	nc := e.worker()
	nc.Subscribe("math.add", func(m *nats.Msg) {
		var args []float64
		if err := json.Unmarshal(m.Data, &args); err != nil {
			r := nats.NewMsg(m.Reply)
			r.Header.Set(HeaderError, "com.math.error.bad_args")
			r.Data = []byte(`{"args":["need numbers"],"kwargs":{"got":` + strconv.Quote(string(m.Data)) + `}}`)
			m.RespondMsg(r)
			return
		}
		m.Respond([]byte(strconv.FormatFloat(args[0]+args[1], 'f', -1, 64)))
	})
	nc.Subscribe("svc.who", func(m *nats.Msg) {
		b, _ := json.Marshal([]string{m.Header.Get(HeaderProcedure), m.Header.Get(HeaderCaller), m.Header.Get(bridge.HeaderProtocol), m.Header.Get(HeaderTimeout)})
		m.Respond(b)
	})
	nc.Subscribe("svc.count", func(m *nats.Msg) {
		if m.Header.Get(HeaderReceiveProgress) == "1" {
			for i := 1; i <= 3; i++ {
				r := nats.NewMsg(m.Reply)
				r.Header.Set(HeaderProgress, "1")
				r.Data = []byte(strconv.Itoa(i))
				m.RespondMsg(r)
			}
		}
		m.Respond([]byte(`"done"`))
	})
	nc.Subscribe("svc.slow", func(m *nats.Msg) {})
	nc.Flush()
	for _, ser := range []Serializer{JSON, Msgpack, CBOR} {
		t.Run(ser.Subprotocol(), func(t *testing.T) {
			c, w := e.join(t, ser)
			call := func(proc string, opts Dict, args ...any) {
				c.send(&Call{Request: c.id(), Options: opts, Procedure: proc, Args: args})
			}
			call("math.add", Dict{}, int64(2), 3.5)
			if r := expect[*Result](c); r.Request != c.seq || !sameValue(r.Args, List{5.5}) {
				t.Errorf("result %#v", r)
			}
			call("math.add", Dict{}, "x")
			er := expect[*Error](c)
			if er.Error != "com.math.error.bad_args" || er.RequestType != TypeCall || !sameValue(er.Args, List{"need numbers"}) || er.Kwargs["got"] != `["x"]` {
				t.Errorf("error %#v", er)
			}
			call("svc.who", Dict{"disclose_me": true, "timeout": int64(1500)})
			r := expect[*Result](c)
			if !sameValue(r.Args, List{"svc.who", strconv.FormatUint(w.Session, 10), "wamp", "1500"}) {
				t.Errorf("who %#v", r.Args)
			}
			call("svc.nobody", Dict{})
			if er := expect[*Error](c); er.Error != errNoSuchProcedure {
				t.Errorf("no responders: %#v", er)
			}
			call("svc.count", Dict{"receive_progress": true})
			for i := 1; i <= 3; i++ {
				r := expect[*Result](c)
				if r.Details["progress"] != true || !sameValue(r.Args, List{int64(i)}) {
					t.Errorf("progress %d: %#v", i, r)
				}
			}
			if r := expect[*Result](c); r.Details["progress"] != nil || r.Args[0] != "done" {
				t.Errorf("final %#v", r)
			}
			// Without receive_progress the worker answers once.
			call("svc.count", Dict{})
			if r := expect[*Result](c); r.Args[0] != "done" {
				t.Errorf("final %#v", r)
			}
			start := time.Now()
			call("svc.slow", Dict{"timeout": int64(200)})
			if er := expect[*Error](c); er.Error != errTimeout || time.Since(start) > time.Second {
				t.Errorf("timeout %#v after %s", er, time.Since(start))
			}
			call("svc.slow", Dict{"timeout": int64(60000)}) // capped by call_timeout (2s)
			if er := expect[*Error](c); er.Error != errTimeout || time.Since(start) > 4*time.Second {
				t.Errorf("capped timeout %#v after %s", er, time.Since(start))
			}
			call("svc.slow", Dict{})
			req := c.seq
			c.send(&Cancel{Request: req, Options: Dict{"mode": "kill"}})
			if er := expect[*Error](c); er.Error != errCanceled || er.Request != req {
				t.Errorf("cancel %#v", er)
			}
		})
	}
}

func TestCallee(t *testing.T) {
	e := newEnv(t, Config{CallTimeout: 3 * time.Second}, nil)
	nc := e.worker()
	callee, _ := e.join(t, Msgpack)
	caller, w := e.join(t, JSON)
	callee.send(&Register{Request: 1, Options: Dict{}, Procedure: "com.app.echo"})
	reg := expect[*Registered](callee)

	t.Run("a NATS request reaches the callee", func(t *testing.T) {
		type reply struct {
			m   *nats.Msg
			err error
		}
		done := make(chan reply, 1)
		go func() {
			m, err := nc.Request("com.app.echo", []byte(`{"args":[1],"kwargs":{"x":"y"}}`), 5*time.Second)
			done <- reply{m, err}
		}()
		inv := expect[*Invocation](callee)
		if inv.Registration != reg.Registration || !sameValue(inv.Args, List{int64(1)}) || inv.Kwargs["x"] != "y" {
			t.Errorf("invocation %#v", inv)
		}
		callee.send(&Yield{Request: inv.Request, Options: Dict{}, Args: List{"back", []byte{7}}})
		r := <-done
		if r.err != nil || string(r.m.Data) != `["back","\u0000Bw=="]` || r.m.Header.Get(bridge.HeaderProtocol) != "wamp" {
			t.Fatalf("reply %v %v", r.m, r.err)
		}
	})
	t.Run("a WAMP call reaches the callee, with progress, identity and errors", func(t *testing.T) {
		caller.send(&Call{Request: 1, Options: Dict{"receive_progress": true, "disclose_me": true}, Procedure: "com.app.echo", Args: List{"a"}})
		inv := expect[*Invocation](callee)
		if id, _ := asID(inv.Details["caller"]); id != w.Session || inv.Details["receive_progress"] != true {
			t.Errorf("details %#v", inv.Details)
		}
		callee.send(&Yield{Request: inv.Request, Options: Dict{"progress": true}, Args: List{int64(1)}})
		callee.send(&Yield{Request: inv.Request, Options: Dict{}, Args: List{int64(2)}})
		if r := expect[*Result](caller); r.Details["progress"] != true || r.Args[0] != int64(1) {
			t.Errorf("progress %#v", r)
		}
		if r := expect[*Result](caller); r.Details["progress"] != nil || r.Args[0] != int64(2) {
			t.Errorf("final %#v", r)
		}
		caller.send(&Call{Request: 2, Options: Dict{}, Procedure: "com.app.echo"})
		inv = expect[*Invocation](callee)
		callee.send(&Error{RequestType: TypeInvocation, Request: inv.Request, Details: Dict{}, Error: "com.app.error.nope", Args: List{"why"}, Kwargs: Dict{"code": int64(4)}})
		er := expect[*Error](caller)
		if er.Error != "com.app.error.nope" || er.Args[0] != "why" || er.Kwargs["code"] != int64(4) {
			t.Errorf("error %#v", er)
		}
	})
	t.Run("single registration is exclusive, even across gateways", func(t *testing.T) {
		caller.send(&Register{Request: 3, Options: Dict{}, Procedure: "com.app.echo"})
		if er := expect[*Error](caller); er.Error != errProcedureExists {
			t.Errorf("second single: %#v", er)
		}
		caller.send(&Register{Request: 4, Options: Dict{"invoke": "roundrobin"}, Procedure: "com.app.echo"})
		if er := expect[*Error](caller); er.Error != errDifferentPolicy {
			t.Errorf("different policy: %#v", er)
		}
		e2 := newEnvOn(t, e.emb, Config{}, nil)
		other, _ := e2.join(t, JSON)
		other.send(&Register{Request: 1, Options: Dict{}, Procedure: "com.app.echo"})
		if er := expect[*Error](other); er.Error != errProcedureExists {
			t.Errorf("other gateway: %#v", er)
		}
		// Unregistered, the procedure is free for the other gateway.
		callee.send(&Unregister{Request: 5, Registration: reg.Registration})
		expect[*Unregistered](callee)
		other.send(&Register{Request: 2, Options: Dict{}, Procedure: "com.app.echo"})
		expect[*Registered](other)
		caller.send(&Call{Request: 6, Options: Dict{}, Procedure: "com.app.echo", Args: List{"x"}})
		inv := expect[*Invocation](other)
		other.send(&Yield{Request: inv.Request, Options: Dict{}, Args: List{"from e2"}})
		if r := expect[*Result](caller); r.Args[0] != "from e2" {
			t.Errorf("result %#v", r)
		}
	})
	t.Run("shared registrations take turns", func(t *testing.T) {
		for _, c := range []*client{callee, caller} {
			c.send(&Register{Request: 10, Options: Dict{"invoke": "roundrobin"}, Procedure: "com.app.shared"})
			expect[*Registered](c)
		}
		for range 2 {
			go nc.Request("com.app.shared", nil, 5*time.Second)
		}
		// Within one gateway the hub alternates between local members.
		a, b := expect[*Invocation](callee), expect[*Invocation](caller)
		callee.send(&Yield{Request: a.Request, Options: Dict{}})
		caller.send(&Yield{Request: b.Request, Options: Dict{}})
	})
	t.Run("the callee leaves: its invocations fail", func(t *testing.T) {
		c3, _ := e.join(t, JSON)
		c3.send(&Register{Request: 1, Options: Dict{}, Procedure: "com.app.leaving"})
		expect[*Registered](c3)
		done := make(chan *nats.Msg, 1)
		go func() {
			m, _ := nc.Request("com.app.leaving", nil, 5*time.Second)
			done <- m
		}()
		expect[*Invocation](c3)
		c3.ws.Close()
		m := <-done
		if m == nil || m.Header.Get(HeaderError) != errCanceled {
			t.Fatalf("reply %v", m)
		}
	})
	t.Run("an invocation past its timeout is interrupted", func(t *testing.T) {
		caller.send(&Register{Request: 20, Options: Dict{}, Procedure: "com.app.sleepy"})
		expect[*Registered](caller)
		c4, _ := e.join(t, JSON)
		c4.send(&Call{Request: 1, Options: Dict{"timeout": int64(300)}, Procedure: "com.app.sleepy"})
		inv := expect[*Invocation](caller)
		if er := expect[*Error](c4); er.Error != errTimeout {
			t.Errorf("caller %#v", er)
		}
		if in := expect[*Interrupt](caller); in.Request != inv.Request {
			t.Errorf("interrupt %#v", in)
		}
		caller.send(&Yield{Request: inv.Request, Options: Dict{}}) // too late: ignored
	})
}

// TestInflightBound: calls beyond max_inflight are refused at once, and
// the connection goes on.
func TestInflightBound(t *testing.T) {
	e := newEnv(t, Config{MaxInflight: 2}, nil)
	nc := e.worker()
	nc.Subscribe("svc.hold", func(*nats.Msg) {})
	nc.Flush()
	c, _ := e.join(t, JSON)
	for i := range 3 {
		c.send(&Call{Request: uint64(i + 1), Options: Dict{}, Procedure: "svc.hold"})
	}
	if er := expect[*Error](c); er.Request != 3 || er.Error != errLimitExceeded {
		t.Errorf("third call: %#v", er)
	}
	c.send(&Cancel{Request: 1, Options: Dict{"mode": "kill"}})
	if er := expect[*Error](c); er.Request != 1 || er.Error != errCanceled {
		t.Errorf("cancel: %#v", er)
	}
	// The canceled call's slot frees once its request gives up.
	deadline := time.Now().Add(5 * time.Second)
	for req := uint64(10); ; req++ {
		c.send(&Call{Request: req, Options: Dict{"timeout": int64(100)}, Procedure: "svc.hold"})
		er := expect[*Error](c)
		if er.Error == errTimeout {
			break
		}
		if er.Error != errLimitExceeded || time.Now().After(deadline) {
			t.Fatalf("got %#v", er)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestCallResultBodies: a worker's array of arguments reaches a JSON caller
// byte for byte; what cannot pass verbatim is decoded and encoded, and
// every serializer reads the same arguments.
func TestCallResultBodies(t *testing.T) {
	e := newEnv(t, Config{}, nil)
	nc := e.worker()
	nc.Subscribe("svc.echo", func(m *nats.Msg) {
		var args []string
		json.Unmarshal(m.Data, &args)
		m.Respond([]byte(args[0]))
	})
	nc.Flush()
	for _, tc := range []struct {
		body     string
		args     List
		verbatim string // the RESULT a JSON caller reads, when verbatim
	}{
		{` [1, "é", {"k":[true,null]}, "\u0000AAE="] `, List{int64(1), "é", Dict{"k": List{true, nil}}, []byte{0, 1}}, `[50,%d,{},[1, "é", {"k":[true,null]}, "\u0000AAE="]]`},
		{`[]`, nil, `[50,%d,{}]`},
		{`["\u00e9\ud800"]`, List{"é\ufffd"}, ""},
		{`[1e400]`, List{"[1e400]"}, ""},
		{`{"args":[1],"kwargs":{"a":2}}`, List{int64(1)}, ""},
	} {
		t.Run(tc.body, func(t *testing.T) {
			for _, ser := range []Serializer{JSON, Msgpack, CBOR} {
				c, _ := e.join(t, ser)
				c.send(&Call{Request: c.id(), Options: Dict{}, Procedure: "svc.echo", Args: List{tc.body}})
				if ser == JSON && tc.verbatim != "" {
					_ = c.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
					_, b, err := c.ws.ReadMessage()
					if want := fmt.Sprintf(tc.verbatim, c.seq); err != nil || string(b) != want {
						t.Fatalf("JSON RESULT %q, %v; want %q", b, err, want)
					}
					continue
				}
				r := expect[*Result](c)
				if !sameValue([]any(r.Args), []any(tc.args)) && !(len(r.Args) == 0 && len(tc.args) == 0) {
					t.Errorf("%s: args %#v, want %#v", ser.Subprotocol(), r.Args, tc.args)
				}
			}
		})
	}
}
