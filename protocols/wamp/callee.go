package wamp

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/wsgate/wsgate/bridge"
)

// queueGroup is the NATS queue group of every registration: a request on a
// procedure's subject reaches one of its callees, across gateways.
const queueGroup = "wamp"

// Invocation policies [WAMP "Shared Registration"].
const (
	invokeSingle     = "single"
	invokeRoundRobin = "roundrobin"
	invokeRandom     = "random"
)

// registration is one REGISTER of a session.
type registration struct {
	id      uint64
	uri     string
	subject string
	policy  string
	sub     *bridge.Subscription
}

func (r *registration) stop(c *conn) {
	r.sub.Unsubscribe()
	c.p.reg.release(r.subject)
}

// invocation is an INVOCATION waiting for its YIELD.
type invocation struct {
	id    uint64
	msg   *bridge.Message // its Reply is where the YIELD goes
	timer *time.Timer
	token string // the call's HeaderCallToken, for cancellation
}

// dropInvocation forgets a waiting invocation. Called with c.mu held.
func (c *conn) dropInvocation(inv *invocation) {
	delete(c.invs, inv.id)
	if inv.token != "" && c.tokens[inv.token] == inv.id {
		delete(c.tokens, inv.token)
	}
	inv.timer.Stop()
}

// abandon answers an invocation whose callee left.
func (inv *invocation) abandon(c *conn) {
	inv.timer.Stop()
	if inv.msg.Reply != "" {
		body, _ := encodeBody(List{"the callee left"}, nil)
		_ = c.s.Respond(inv.msg, bridge.Header{HeaderError: {errCanceled}}, body)
	}
}

// onRegister handles REGISTER [WAMP "Registering and Unregistering"]: a
// subscription to the procedure's subject in the queue group "wamp". With
// invoke single (the default) the procedure is claimed cluster-wide
// first; roundrobin and random share it.
func (c *conn) onRegister(m *Register) {
	fail := func(uri string, err error) { c.replyError(TypeRegister, m.Request, uri, err) }
	subject, err := uriSubject(c.prefix, m.Procedure)
	if err != nil {
		fail(sessionError(err), err)
		return
	}
	if isWAMPURI(m.Procedure) {
		fail(errInvalidURIName, fmt.Errorf("%q is reserved for WAMP itself", short(m.Procedure)))
		return
	}
	if match := dictString(m.Options, "match"); match != "" && match != matchExact {
		fail(errInvalidArgName, fmt.Errorf("match %.32q: only exact registrations are supported", match))
		return
	}
	policy := dictString(m.Options, "invoke")
	switch policy {
	case "":
		policy = invokeSingle
	case invokeSingle, invokeRoundRobin, invokeRandom:
	default:
		fail(errInvalidArgName, fmt.Errorf("invoke %.32q: single, roundrobin or random", policy))
		return
	}
	// Registering is subscribing to the procedure's subject.
	if err := c.s.CheckSubscribe(subject); err != nil {
		fail(sessionError(err), err)
		return
	}
	if err := c.listenForCancels(); err != nil {
		fail(sessionError(err), err)
		return
	}
	if uri, err := c.p.reg.acquire(c.s, subject, policy); err != nil {
		fail(uri, err)
		return
	}
	r := &registration{id: newID(), uri: m.Procedure, subject: subject, policy: policy}
	r.sub, err = c.s.Subscribe(subject, queueGroup, c.invoker(r))
	if err != nil {
		c.p.reg.release(subject)
		fail(sessionError(err), err)
		return
	}
	c.mu.Lock()
	if c.regs == nil {
		c.regs = map[uint64]*registration{}
	}
	c.regs[r.id] = r
	c.mu.Unlock()
	c.flush()
	c.send(&Registered{Request: m.Request, Registration: r.id})
}

// onUnregister handles UNREGISTER.
func (c *conn) onUnregister(m *Unregister) {
	c.mu.Lock()
	r := c.regs[m.Registration]
	delete(c.regs, m.Registration)
	c.mu.Unlock()
	if r == nil {
		c.replyError(TypeUnregister, m.Request, errNoSuchRegistration, nil)
		return
	}
	r.stop(c)
	c.send(&Unregistered{Request: m.Request})
}

// invoker returns the delivery callback of a registration: each request on
// the procedure's subject becomes an INVOCATION. It runs on a hub
// dispatcher and never blocks.
func (c *conn) invoker(r *registration) func(*bridge.Delivery) {
	return func(d *bridge.Delivery) {
		msg := d.Msg
		h := msg.Header
		timeout := c.p.cfg.CallTimeout
		if ms, err := strconv.ParseInt(h.Get(HeaderTimeout), 10, 64); err == nil && ms > 0 {
			timeout = min(timeout, time.Duration(ms)*time.Millisecond)
		}
		c.mu.Lock()
		if c.state.Load() == stateClosed {
			c.mu.Unlock()
			return // closed: the callee's departure answers nothing more
		}
		if c.invs == nil {
			c.invs, c.tokens = map[uint64]*invocation{}, map[string]uint64{}
		}
		if len(c.invs) >= c.p.cfg.MaxInvocations {
			c.mu.Unlock()
			c.s.Metrics().LimitExceeded(Name, "max_invocations")
			if msg.Reply != "" {
				body, _ := encodeBody(List{"the callee has too many invocations waiting"}, nil)
				_ = c.s.Respond(msg, bridge.Header{HeaderError: {errLimitExceeded}}, body)
			}
			return
		}
		c.invSeq++
		inv := &invocation{id: c.invSeq, msg: msg}
		inv.timer = time.AfterFunc(timeout, func() { c.expire(inv.id) })
		c.invs[inv.id] = inv
		if t := h.Get(HeaderCallToken); t != "" && identityTrusted(h) {
			inv.token = t
			c.tokens[t] = inv.id
		}
		c.mu.Unlock()

		details := Dict{}
		if caller, err := strconv.ParseUint(h.Get(HeaderCaller), 10, 64); err == nil && caller > 0 && identityTrusted(h) {
			// Caller identification [WAMP "Caller Identification"].
			details["caller"] = caller
			if a := h.Get(HeaderCallerAuthid); a != "" {
				details["caller_authid"] = a
			}
			if a := h.Get(HeaderCallerAuthrole); a != "" {
				details["caller_authrole"] = a
			}
		}
		if h.Get(HeaderReceiveProgress) != "" {
			details["receive_progress"] = true
		}
		details["timeout"] = timeout.Milliseconds()
		args, kwargs := decodeBody(msg.Data, c.p.lim.MaxDepth)
		c.send(&Invocation{Request: inv.id, Registration: r.id, Details: details, Args: args, Kwargs: kwargs})
	}
}

// expire drops an invocation whose call has timed out and tells the
// callee [WAMP "Call Timeouts": the Dealer sends INTERRUPT].
func (c *conn) expire(id uint64) {
	c.mu.Lock()
	inv := c.invs[id]
	if inv != nil {
		c.dropInvocation(inv)
	}
	c.mu.Unlock()
	if inv != nil && c.state.Load() == stateEstablished {
		c.send(&Interrupt{Request: id, Options: Dict{"mode": "killnowait", "reason": errTimeout}})
	}
}

// take removes and returns a waiting invocation, or keeps it when keep is
// set (a progressive YIELD).
func (c *conn) take(id uint64, keep bool) *invocation {
	c.mu.Lock()
	defer c.mu.Unlock()
	inv := c.invs[id]
	if inv != nil && !keep {
		c.dropInvocation(inv)
	}
	return inv
}

// onYield handles YIELD: the reply to the NATS request, several for
// progressive results (each but the last with Wamp-Progress: 1). A YIELD
// for an invocation that is no longer waiting (interrupted, timed out) is
// ignored.
func (c *conn) onYield(m *Yield) {
	progress := dictBool(m.Options, "progress")
	inv := c.take(m.Request, progress)
	if inv == nil || inv.msg.Reply == "" {
		return
	}
	body, err := encodeBody(m.Args, m.Kwargs)
	var hdr bridge.Header
	if err != nil {
		hdr = bridge.Header{HeaderError: {errInvalidArgName}}
		body, _ = encodeBody(List{err.Error()}, nil)
	} else if progress {
		hdr = bridge.Header{HeaderProgress: {"1"}}
	}
	_ = c.s.Respond(inv.msg, hdr, body)
}

// onInvocationError handles a callee's ERROR: the reply carries its URI in
// Wamp-Error and its arguments in the body.
func (c *conn) onInvocationError(m *Error) {
	inv := c.take(m.Request, false)
	if inv == nil || inv.msg.Reply == "" {
		return
	}
	body, err := encodeBody(m.Args, m.Kwargs)
	if err != nil {
		body, _ = encodeBody(List{err.Error()}, nil)
	}
	_ = c.s.Respond(inv.msg, bridge.Header{HeaderError: {errorURI(m.Error)}}, body)
}

// flush waits until NATS has the connection's subscriptions, so that an
// acknowledgement promises delivery.
func (c *conn) flush() {
	_ = c.s.FlushSubscriptions(context.Background())
}
