package wamp

import (
	"testing"
	"time"
)

// TestCancelReachesCallee: a CANCEL in mode kill or killnowait on one
// gateway interrupts the invocation at a WAMP callee on another; skip
// does not.
func TestCancelReachesCallee(t *testing.T) {
	e1 := newEnv(t, Config{CallTimeout: 20 * time.Second}, nil)
	e2 := newEnvOn(t, e1.emb, Config{}, nil)
	callee, _ := e2.join(t, JSON)
	callee.send(&Register{Request: callee.id(), Options: Dict{}, Procedure: "svc.block"})
	expect[*Registered](callee)
	caller, _ := e1.join(t, Msgpack)

	for _, mode := range []string{"kill", "killnowait", "skip"} {
		caller.send(&Call{Request: caller.id(), Options: Dict{}, Procedure: "svc.block", Args: List{mode}})
		req := caller.seq
		inv := expect[*Invocation](callee)
		caller.send(&Cancel{Request: req, Options: Dict{"mode": mode}})
		if er := expect[*Error](caller); er.Error != errCanceled || er.Request != req {
			t.Fatalf("%s: caller got %#v", mode, er)
		}
		if mode == "skip" {
			callee.silent(300 * time.Millisecond)
			break
		}
		in := expect[*Interrupt](callee)
		if in.Request != inv.Request || in.Options["mode"] != mode {
			t.Errorf("%s: INTERRUPT %#v for invocation %d", mode, in, inv.Request)
		}
		// The callee answers as the spec asks; nobody waits for it.
		callee.send(&Error{RequestType: TypeInvocation, Request: inv.Request, Details: Dict{}, Error: errCanceled})
	}
}
