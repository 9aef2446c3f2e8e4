package mqtt

import (
	"context"
	"time"

	"github.com/wsgate/wsgate/bridge"
)

// Session takeover across gateways [MQTT-3.1.4-3]: every connection with
// a client id of its own writes its connection id under that client id in a
// JetStream key-value bucket, and each gateway watches the bucket: a newer
// value for a client id one of its connections holds closes that
// connection with reason 0x8E. Within one gateway the takeover map closes
// the old connection at once. Ids the gateway assigns are unique and are
// not written.

// clientsKV opens the bucket and starts the watch, once.
func (p *Protocol) clientsKV(s *bridge.Session) *bridge.KV {
	// Two values per key: a claim that has since been released still
	// shows, for delayed wills (will.go). The watch lives as long as the
	// process: one per gateway.
	return p.takeovers.open(s.JetStream(), s.Logger(), p.cfg.ClientsBucket, bridge.KVConfig{TTL: 24 * time.Hour, History: 2},
		"mqtt takeover across gateways unavailable", func(_ *bridge.JetStream, kv *bridge.KV) error {
			_, err := kv.Watch(context.Background(), ">", p.remoteTakeover)
			return err
		})
}

// remoteTakeover closes the local connection of a client id another
// connection has claimed since.
func (p *Protocol) remoteTakeover(e bridge.KVEntry) {
	if e.Deleted {
		return
	}
	p.mu.Lock()
	c := p.clients[e.Key]
	p.mu.Unlock()
	if c == nil || string(e.Value) == c.s.ID() {
		return
	}
	// While the connection's own claim is on its way its revision is
	// unknown: remember the newest other claim for claim to compare, then
	// look again, so that one of the two sides sees the other.
	if c.claimRev.Load() == 0 {
		for seen := c.seenRev.Load(); e.Revision > seen && !c.seenRev.CompareAndSwap(seen, e.Revision); seen = c.seenRev.Load() {
		}
	}
	if rev := c.claimRev.Load(); rev != 0 && e.Revision > rev {
		c.close(rcSessionTakenOver, bridge.ClosePolicy, "session taken over")
	}
}

// claim records the connection as the holder of its client id without
// waiting for JetStream: a claim by another connection that the watch sees
// before this one's revision is known is kept in seenRev and compared when
// it is.
func (c *conn) claim() {
	kv := c.p.clientsKV(c.s)
	if kv == nil {
		return
	}
	c.wg.Add(1)
	kv.PutAsync(c.clientKey, []byte(c.s.ID()), func(rev uint64, err error) {
		defer c.wg.Done()
		if err != nil {
			c.s.Logger().Warn("mqtt client id claim failed", "err", err)
			return
		}
		c.claimRev.Store(rev)
		c.recordClaim() // a delayed will needs the claim's revision
		if c.seenRev.Load() > rev {
			c.close(rcSessionTakenOver, bridge.ClosePolicy, "session taken over")
		}
	})
}

// release forgets the claim if it is still this connection's: a
// conditional delete, so a newer claim stays.
func (c *conn) release() {
	rev := c.claimRev.Load()
	if rev == 0 {
		return
	}
	kv := c.p.clientsKV(c.s)
	if kv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_ = kv.DeleteIf(ctx, c.clientKey, rev)
}
