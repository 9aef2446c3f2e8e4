package wamp

import (
	"math/rand/v2"
	"strconv"

	"github.com/wsgate/wsgate/bridge"
)

// Cancelling a call at its WAMP callee [WAMP "Call Canceling"], on any
// gateway. Every CALL carries a random token (HeaderCallToken). A CANCEL
// in mode kill or killnowait makes the caller's gateway publish the
// token, as the gateway itself (bridge.Session.Announce), on the subject
// of cancelURI under the realm's prefix. Every session that has
// registered a procedure listens there (bridge.Session.Listen: one NATS
// subscription per gateway, whatever the session may subscribe to) and
// sends INTERRUPT for an invocation it holds with that token. Only
// cancellations from WAMP sessions' gateways and from workers are
// believed (identityTrusted), and a token is never shown to a WAMP
// client. A NATS worker's request cannot be taken back; a worker may
// listen on the subject too.
const cancelURI = "wamp.wsgate.cancel"

// newCallToken draws a call's token.
func newCallToken() string { return strconv.FormatUint(rand.Uint64(), 36) }

// cancelAtCallee tells the callee of a call, wherever it is, that the
// caller cancelled it in mode (kill or killnowait).
func (c *conn) cancelAtCallee(token, mode string) {
	subject, err := uriSubject(c.prefix, cancelURI)
	if err == nil {
		err = c.s.Announce(subject, bridge.Header{HeaderCallToken: {token}, HeaderCancelMode: {mode}}, nil)
	}
	if err != nil {
		c.s.Logger().Warn("wamp cancel", "err", err)
	}
}

// listenForCancels subscribes the session, a callee, to the cancellations
// of its realm, once. Called on the reader.
func (c *conn) listenForCancels() error {
	c.mu.Lock()
	listening := c.cancels != nil
	c.mu.Unlock()
	if listening {
		return nil
	}
	subject, err := uriSubject(c.prefix, cancelURI)
	if err != nil {
		return err
	}
	sub, err := c.s.Listen(subject, func(d *bridge.Delivery) {
		h := d.Msg.Header
		if identityTrusted(h) {
			c.interrupt(h.Get(HeaderCallToken), h.Get(HeaderCancelMode))
		}
	})
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.cancels = sub
	c.mu.Unlock()
	return nil
}

// interrupt sends INTERRUPT for the invocation with token, if the session
// holds it. In mode killnowait the invocation is dropped at once; in mode
// kill the callee's ERROR (or YIELD) still answers it, to no one.
func (c *conn) interrupt(token, mode string) {
	if token == "" || (mode != "kill" && mode != "killnowait") {
		return
	}
	c.mu.Lock()
	inv := c.invs[c.tokens[token]]
	if inv != nil && mode == "killnowait" {
		c.dropInvocation(inv)
	}
	c.mu.Unlock()
	if inv != nil && c.state.Load() == stateEstablished {
		c.send(&Interrupt{Request: inv.id, Options: Dict{"mode": mode, "reason": errCanceled}})
	}
}
