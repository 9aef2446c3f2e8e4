package wamp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/wsgate/wsgate/bridge"
)

// call is one CALL waiting for its result, on the caller's side.
type call struct {
	req   uint64
	token string // HeaderCallToken

	mu     sync.Mutex
	done   bool               // the final RESULT or ERROR is sent
	cancel context.CancelFunc // set once the call runs
}

// onCall handles CALL [WAMP "Calling and Invocations"]: a NATS request on
// the procedure's subject, run beside the reader. The reply is the RESULT;
// a reply with Wamp-Progress is a progressive RESULT; one with Wamp-Error
// an ERROR with that URI.
func (c *conn) onCall(m *Call) error {
	fail := func(uri string, err error) { c.replyError(TypeCall, m.Request, uri, err) }
	subject, err := uriSubject(c.prefix, m.Procedure)
	if err != nil {
		fail(sessionError(err), err)
		return nil
	}
	if err := c.s.CheckPublish(subject); err != nil {
		fail(sessionError(err), err)
		return nil
	}
	if isWAMPURI(m.Procedure) {
		// The router answers the meta API itself (meta.go); no other
		// wamp.* procedure exists.
		c.metaCall(m)
		return nil
	}
	// "The Dealer [...] cancels the call [...] after the timeout" [WAMP
	// "Call Timeouts"]; the router's own bound always applies.
	timeout := c.p.cfg.CallTimeout
	if v, ok := m.Options["timeout"]; ok {
		ms, ok := asInt(v)
		if !ok {
			fail(errInvalidArgName, fmt.Errorf("timeout %v is not a number of milliseconds", v))
			return nil
		}
		if d := time.Duration(ms) * time.Millisecond; ms > 0 && d < timeout {
			timeout = d
		}
	}
	progress := dictBool(m.Options, "receive_progress")
	body, err := encodeBody(m.Args, m.Kwargs)
	if err != nil {
		fail(errInvalidArgName, err)
		return nil
	}
	token := newCallToken()
	hdr := bridge.Header{
		HeaderProcedure: {m.Procedure},
		HeaderTimeout:   {strconv.FormatInt(timeout.Milliseconds(), 10)},
		HeaderCallToken: {token},
	}
	if progress {
		hdr.Set(HeaderReceiveProgress, "1")
	}
	if dictBool(m.Options, "disclose_me") {
		c.identify(hdr, HeaderCaller, HeaderCallerAuthid, HeaderCallerAuthrole)
	}
	cl := &call{req: m.Request, token: token}
	c.mu.Lock()
	_, dup := c.calls[m.Request]
	if !dup {
		if c.calls == nil {
			c.calls = map[uint64]*call{}
		}
		c.calls[m.Request] = cl
	}
	c.mu.Unlock()
	if dup {
		return c.violation(fmt.Errorf("CALL request id %d is already in use", m.Request))
	}
	// Beside the reader, at most max_inflight at once; the connection's
	// end cancels the calls and waits for them.
	err = c.s.Beside(c.p.cfg.MaxInflight, func(ctx context.Context) {
		defer c.forget(cl)
		// A plain request has its timeout from Request: one timer a call.
		var cancel context.CancelFunc
		if progress {
			ctx, cancel = context.WithTimeout(ctx, timeout)
		} else {
			ctx, cancel = context.WithCancel(ctx)
		}
		defer cancel()
		cl.mu.Lock()
		cl.cancel = cancel
		done := cl.done // canceled before it started
		cl.mu.Unlock()
		if !done {
			c.runCall(ctx, cl, subject, hdr, body, progress, timeout)
		}
	})
	if err != nil {
		c.forget(cl)
		if bridge.KindOf(err) != bridge.KindClosed {
			fail(sessionError(err), err)
		}
	}
	return nil
}

func (c *conn) forget(cl *call) {
	c.mu.Lock()
	if c.calls[cl.req] == cl {
		delete(c.calls, cl.req)
	}
	c.mu.Unlock()
}

// runCall waits for a call's replies. A call without receive_progress is
// a plain request, which shares the gateway's one reply subscription; one
// with it has an inbox of its own for the several replies.
func (c *conn) runCall(ctx context.Context, cl *call, subject string, hdr bridge.Header, body []byte, progress bool, timeout time.Duration) {
	if !progress {
		msg, err := c.s.Request(ctx, subject, "", hdr, body, timeout)
		switch {
		case errors.Is(err, context.Canceled):
		case errors.Is(err, context.DeadlineExceeded):
			c.finishCall(cl, c.callError(cl.req, errTimeout, err))
		case err != nil:
			c.finishCall(cl, c.callError(cl.req, sessionError(err), err))
		default:
			c.finishCall(cl, c.reply(cl.req, msg))
		}
		return
	}
	r, err := c.s.RequestReplies(subject, "", hdr, body)
	if err != nil {
		c.finishCall(cl, c.callError(cl.req, sessionError(err), err))
		return
	}
	defer r.Stop()
	for {
		msg, err := r.Next(ctx)
		if errors.Is(err, context.Canceled) {
			return // CANCEL answered it, or the session ended
		}
		if err != nil {
			c.finishCall(cl, c.callError(cl.req, sessionError(err), err))
			return
		}
		if msg.Header.Get(HeaderProgress) != "" && msg.Header.Get(HeaderError) == "" {
			args, kwargs := decodeBody(msg.Data, c.p.lim.MaxDepth)
			cl.mu.Lock()
			if !cl.done {
				c.send(&Result{Request: cl.req, Details: Dict{"progress": true}, Args: args, Kwargs: kwargs})
			}
			cl.mu.Unlock()
			continue
		}
		c.finishCall(cl, c.reply(cl.req, msg))
		return
	}
}

// reply is the final RESULT of a reply, or its ERROR when it has
// Wamp-Error. A JSON client gets a worker's JSON array of arguments as it
// is, neither decoded nor encoded again.
func (c *conn) reply(req uint64, msg *bridge.Message) Message {
	if c.ser == JSON && msg.Header.Get(HeaderError) == "" {
		if raw, ok := verbatimArgs(msg.Data, c.p.lim.MaxDepth); ok {
			if len(bytes.TrimSpace(raw[1:len(raw)-1])) == 0 {
				return &Result{Request: req, Details: Dict{}} // []: no arguments
			}
			return &Result{Request: req, Details: Dict{}, argsJSON: raw}
		}
	}
	args, kwargs := decodeBody(msg.Data, c.p.lim.MaxDepth)
	if uri := msg.Header.Get(HeaderError); uri != "" {
		return &Error{RequestType: TypeCall, Request: req, Details: Dict{}, Error: errorURI(uri), Args: args, Kwargs: kwargs}
	}
	return &Result{Request: req, Details: Dict{}, Args: args, Kwargs: kwargs}
}

func (c *conn) callError(req uint64, uri string, err error) *Error {
	return &Error{RequestType: TypeCall, Request: req, Details: Dict{}, Error: uri, Args: List{short(err.Error())}}
}

// finishCall sends a call's final message, once.
func (c *conn) finishCall(cl *call, m Message) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if cl.done {
		return
	}
	cl.done = true
	c.send(m)
}

// onCancel handles CANCEL [WAMP "Call Canceling"]. Every mode answers the
// caller at once with wamp.error.canceled and stops waiting; the callee's
// reply, if it comes, is dropped. In mode kill and killnowait a WAMP
// callee on any gateway gets INTERRUPT (cancel.go); a worker's request
// cannot be taken back.
func (c *conn) onCancel(m *Cancel) {
	mode := dictString(m.Options, "mode")
	switch mode {
	case "", "skip", "kill", "killnowait":
	default:
		c.replyError(TypeCancel, m.Request, errInvalidArgName, fmt.Errorf("cancel mode %.32q", mode))
		return
	}
	c.mu.Lock()
	cl := c.calls[m.Request]
	c.mu.Unlock()
	if cl == nil {
		return // finished already: nothing to cancel
	}
	c.finishCall(cl, &Error{RequestType: TypeCall, Request: m.Request, Details: Dict{}, Error: errCanceled, Args: List{"canceled by the caller"}})
	cl.mu.Lock()
	if cl.cancel != nil {
		cl.cancel()
	}
	cl.mu.Unlock()
	if mode == "kill" || mode == "killnowait" {
		c.cancelAtCallee(cl.token, mode)
	}
}

// errorURI is a worker's Wamp-Error value, or wamp.error.runtime_error if
// it cannot be a URI.
func errorURI(s string) string {
	if len(s) > 256 || !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return "wamp.error.runtime_error"
	}
	return s
}
