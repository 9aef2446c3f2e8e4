package stomp

import (
	"fmt"

	"github.com/wsgate/wsgate/bridge"
)

// transaction holds the SEND, ACK and NACK frames of one open transaction
// until COMMIT applies them in order or ABORT drops them [STOMP-1.2
// "BEGIN", "COMMIT", "ABORT"]. It lives in the gateway's memory and dies
// with the connection: "any started transaction which has not been
// committed will be implicitly aborted" [STOMP-1.2 "BEGIN"].
type transaction struct {
	frames []*Frame
	bytes  int
}

// begin handles BEGIN.
func (c *conn) begin(f *Frame) error {
	name, err := c.require(f, "transaction")
	if err != nil {
		return err
	}
	if _, ok := c.txs[name]; ok {
		return c.fail(f, "transaction already open", bridge.CloseProtocolError, fmt.Errorf("transaction %q is already open", short(name)))
	}
	if len(c.txs) >= c.p.cfg.MaxTransactions {
		return c.fail(f, "too many transactions", bridge.ClosePolicy, fmt.Errorf("at most %d open transactions", c.p.cfg.MaxTransactions))
	}
	if c.txs == nil {
		c.txs = map[string]*transaction{}
	}
	c.txs[name] = &transaction{}
	return nil
}

// open returns the open transaction a frame names.
func (c *conn) open(f *Frame, name string) (*transaction, error) {
	tx := c.txs[name]
	if tx == nil {
		return nil, c.fail(f, "unknown transaction", bridge.CloseProtocolError, fmt.Errorf("no open transaction %q", short(name)))
	}
	return tx, nil
}

// hold keeps a frame in its transaction.
func (c *conn) hold(f *Frame, name string) error {
	tx, err := c.open(f, name)
	if err != nil {
		return err
	}
	if len(tx.frames) >= c.p.cfg.MaxTransactionFrames || tx.bytes+len(f.Body) > c.p.cfg.MaxTransactionBytes {
		return c.fail(f, "transaction too large", bridge.ClosePolicy,
			fmt.Errorf("a transaction holds at most %d frames and %d body bytes", c.p.cfg.MaxTransactionFrames, c.p.cfg.MaxTransactionBytes))
	}
	tx.frames = append(tx.frames, f)
	tx.bytes += len(f.Body)
	return nil
}

// commit handles COMMIT: the held frames are applied in order.
func (c *conn) commit(f *Frame) error {
	name, err := c.require(f, "transaction")
	if err != nil {
		return err
	}
	tx, err := c.open(f, name)
	if err != nil {
		return err
	}
	delete(c.txs, name)
	for _, h := range tx.frames {
		if h.Command == CmdSend {
			err = c.send(h, true)
		} else {
			err = c.ack(h, true)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// abort handles ABORT: the held frames are dropped.
func (c *conn) abort(f *Frame) error {
	name, err := c.require(f, "transaction")
	if err != nil {
		return err
	}
	if _, err := c.open(f, name); err != nil {
		return err
	}
	delete(c.txs, name)
	return nil
}
