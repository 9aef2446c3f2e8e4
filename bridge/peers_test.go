package bridge

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// recordKeys lists the last words bucket's keys matching filter.
func recordKeys(t *testing.T, e *env, filter string) []string {
	t.Helper()
	kv, err := e.gw.js.KV(context.Background(), lastWordsBucket, KVConfig{})
	if err != nil {
		t.Fatal(err)
	}
	keys, err := kv.Keys(context.Background(), filter)
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// halt stops a gateway's heartbeat and leaves everything else running: to
// its peers it is dead, as after a SIGKILL.
func (p *peers) halt() { p.stop() }

// resume starts the heartbeat again, as a gateway that was stopped
// (SIGSTOP) and continued.
func (p *peers) resume() {
	p.reset()
	go p.run()
}

// TestGhosts: when a gateway stops beating, another one on the same NATS
// ends its connections within about 1.67 x GhostTimeout: one disconnect
// event each, and its protocol's Ghost with the connection's last words;
// when the presumed dead gateway comes back, it closes those connections
// with 1012 and no second event. A connection that closes normally, and a
// gateway that shuts down cleanly, leave no records.
func TestGhosts(t *testing.T) {
	cfg := Config{GhostTimeout: 3 * time.Second}
	a := newEnv(t, cfg)
	pb := newTestProto()
	pb.ghosts = make(chan *Ghost, 4)
	b := newEnvOn(t, a.emb, cfg, nil, pb)
	w := a.worker()
	events, err := w.SubscribeSync("wsgate.events.disconnect")
	if err != nil {
		t.Fatal(err)
	}
	w.Flush()

	ca := a.dial("/", nil, nil)
	ca.do("words last")
	short := a.dial("/", nil, nil)
	cb := b.dial("/", nil, nil)
	aKeys := "c." + a.gw.ID() + ".*"
	checkFor(t, 5*time.Second, func() error {
		if k := recordKeys(t, a, aKeys); len(k) != 2 {
			return fmt.Errorf("records %v, want 2", k)
		}
		return nil
	})
	short.send("close 1000 bye")
	m, err := events.NextMsg(5 * time.Second)
	if err != nil || m.Header.Get(HeaderConnectionID) != short.id {
		t.Fatalf("first event %v %v", m, err)
	}
	checkFor(t, 5*time.Second, func() error {
		if k := recordKeys(t, a, aKeys); len(k) != 1 || k[0] != "c."+a.gw.ID()+"."+ca.id {
			return fmt.Errorf("records %v, want only %s's", k, ca.id)
		}
		return nil
	})

	a.gw.peers.halt()
	start := time.Now()
	m, err = events.NextMsg(5 * time.Second)
	if err != nil {
		t.Fatalf("no disconnect event for the ghost: %v", err)
	}
	var info ConnInfo
	if err := json.Unmarshal(m.Data, &info); err != nil {
		t.Fatal(err)
	}
	if info.ConnectionID != ca.id || info.Gateway != a.gw.ID() || info.CloseCode != 1006 || info.ClosedBy != "error" ||
		m.Header.Get(HeaderConnectionID) != ca.id || m.Header.Get(HeaderGateway) != a.gw.ID() ||
		m.Header.Get(HeaderCloseCode) != "1006" || m.Header.Get(HeaderEvent) != EventDisconnect {
		t.Errorf("ghost event %+v %v", info, m.Header)
	}
	t.Logf("ghost ended %v after the heartbeat stopped (timeout %v)", time.Since(start).Round(time.Millisecond), cfg.GhostTimeout)
	select {
	case g := <-pb.ghosts:
		if string(g.Data) != "last" || g.Info.ConnectionID != ca.id {
			t.Errorf("Ghost got %q for %s", g.Data, g.Info.ConnectionID)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the protocol's Ghost was not called")
	}
	checkFor(t, 5*time.Second, func() error {
		if k := recordKeys(t, a, "g.*"); len(k) != 1 || k[0] != "g."+b.gw.ID() {
			return fmt.Errorf("marks %v, want only %s's", k, b.gw.ID())
		}
		return nil
	})

	// The dead one comes back: its connection was ended, so it closes it,
	// without a second event.
	a.gw.peers.resume()
	if code, reason := ca.readClose(); code != CloseServiceRestart {
		t.Errorf("presumed dead gateway closed its connection with %d %q", code, reason)
	}
	if m, err := events.NextMsg(700 * time.Millisecond); err == nil {
		t.Errorf("second event %v %s", m.Header, m.Data)
	}

	cb.send("hello")
	if got := cb.read(); got != "hello test "+cb.id {
		t.Errorf("the live gateway's connection says %q", got)
	}

	// A clean shutdown leaves nothing.
	if err := a.stop(); err != nil {
		t.Fatal(err)
	}
	if err := b.stop(); err != nil {
		t.Fatal(err)
	}
	if k := recordKeys(t, a, ">"); len(k) != 0 {
		t.Errorf("records left after shutdown: %v", k)
	}
}
