package mqtt

import (
	"context"
	"encoding/json"
	"time"

	"github.com/wsgate/wsgate/bridge"
	"github.com/wsgate/wsgate/subjects"
)

// Wills survive their gateway (bridge.GhostHandler): a connection with a
// will records it as its last words once CONNACK is out, and again when
// its client id claim has a revision. If the gateway dies with the
// connection open, the gateway that cleans up stores the will in the
// wills bucket due after its delay (min(Will Delay, session expiry), as
// when a connection ends abnormally), and the wills machinery of
// will.go publishes it once, on whichever gateway fires first; a delayed
// will is dropped if the client has come back since, on any gateway.

var _ bridge.GhostHandler = (*Protocol)(nil)

// ghostWill is a will as a connection records it.
type ghostWill struct {
	Subject string        `json:"s"`
	Header  bridge.Header `json:"h"`
	Payload []byte        `json:"p,omitempty"`
	Retain  bool          `json:"r,omitempty"`
	Delay   time.Duration `json:"d,omitempty"`
	Key     string        `json:"k,omitempty"` // client key; "" for an assigned id
	Claim   uint64        `json:"c,omitempty"` // revision of the client id claim
}

// recordWill records the connection's will as its last words, if it has
// one it may publish. The reader calls it once CONNACK is out.
func (c *conn) recordWill() {
	w := c.will
	if w == nil {
		return
	}
	subject, err := subjects.MQTTTopicToSubject(w.Topic)
	if err != nil || c.s.CheckPublish(subject) != nil {
		return
	}
	delay := time.Duration(w.Props.WillDelay) * time.Second
	if c.persist == nil {
		delay = 0
	}
	delay = min(delay, c.expiry)
	hdr := c.s.Headers(bridge.EventMessage, "")
	for k, v := range c.willHeaders(w) {
		hdr[k] = v
	}
	gw := &ghostWill{Subject: subject, Header: hdr, Payload: w.Payload, Retain: w.Retain, Delay: delay}
	if delay > 0 {
		gw.Key = c.clientKey
	}
	c.lastWill.Store(gw)
	c.recordClaim()
}

// recordClaim records the will with the client id claim's revision, which
// a delayed will needs to see whether the client came back. It runs on
// the reader and when the claim lands; whichever runs last sees both.
func (c *conn) recordClaim() {
	c.lastWillMu.Lock()
	defer c.lastWillMu.Unlock()
	gw := c.lastWill.Load()
	if gw == nil || c.clean.Load() {
		return
	}
	rec := *gw
	if rec.Delay > 0 {
		rec.Claim = c.claimRev.Load()
	}
	b, _ := json.Marshal(rec)
	c.s.SetLastWords(b)
}

// Ghost implements bridge.GhostHandler: the will of a connection whose
// gateway died goes to the wills bucket, due after its delay.
func (p *Protocol) Ghost(g *bridge.Ghost) {
	var gw ghostWill
	if len(g.Data) == 0 || json.Unmarshal(g.Data, &gw) != nil || gw.Subject == "" {
		return
	}
	log := g.Logger()
	js := g.JetStream()
	kv := p.willStore.open(js, log, p.cfg.WillsBucket, p.willsConfig(),
		"mqtt delayed wills kept in this gateway only", p.watchWills(log))
	if kv == nil {
		// No bucket: publish now, as a will with no delay.
		if err := js.Republish(gw.Subject, gw.Header, gw.Payload); err != nil {
			log.Warn("mqtt will of a lost connection not published", "err", err)
		}
		return
	}
	key := gw.Key
	if key == "" {
		// An assigned client id is never used again: a key of its own.
		key = "lost." + g.Info.ConnectionID
	}
	rec := willRecord{Subject: gw.Subject, Header: gw.Header, Payload: gw.Payload, Retain: gw.Retain,
		Claim: gw.Claim, Due: time.Now().Add(gw.Delay).UnixNano()}
	b, _ := json.Marshal(rec)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if _, err := kv.Put(ctx, key, b); err != nil {
		log.Warn("mqtt will of a lost connection not stored; publishing it now", "err", err)
		_ = js.Republish(gw.Subject, gw.Header, gw.Payload)
	}
}
