package e2e

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestFaultClusterRestart: every node of a three-node JetStream cluster
// is stopped (SIGTERM) and started again while two gateways run. The
// gateways recover by themselves — ready again, their MQTT clients back —
// and nothing acknowledged before the restart is lost: a persistent
// session on one gateway gets every QoS 1 message acknowledged on the
// other, and what is published after the restart.
func TestFaultClusterRestart(t *testing.T) {
	long(t)
	nodes := startNATSCluster(t, 3)
	var urls []string
	for _, n := range nodes {
		urls = append(urls, n.url)
	}
	natsURL := strings.Join(urls, ",")
	a := startGateway(t, gwOpts{NATSURL: natsURL, Config: faultConfig})
	b := startGateway(t, gwOpts{NATSURL: natsURL, Config: faultConfig})
	sub := newFaultMQTT(t, b, "restart-sub")
	sub.subscribe(t, "restart/#")
	pub := newFaultMQTT(t, a, "restart-pub")
	eventually(t, 20*time.Second, func() error {
		if err := pub.publish("restart/warm", "warm"); err != nil {
			return err
		}
		if sub.count("warm") == 0 {
			return errors.New("the warm-up message has not arrived")
		}
		return nil
	})
	var acked []string
	for n := range 50 {
		p := "before-" + strconv.Itoa(n)
		if err := pub.publish("restart/x", p); err != nil {
			t.Fatalf("publish %s: %v", p, err)
		}
		acked = append(acked, p)
	}

	down := time.Now()
	for _, nd := range nodes {
		nd.proc.stop(t)
	}
	for _, nd := range nodes {
		nd.restart(t)
	}
	restarted := time.Now()
	// The gateways stop before the nodes do (cleanups run last first).
	t.Cleanup(func() { a.stop(); b.stop() })
	eventually(t, 60*time.Second, func() error {
		if err := getOK(a.HTTP("/readyz")); err != nil {
			return err
		}
		return getOK(b.HTTP("/readyz"))
	})
	readyAfter := time.Since(restarted)
	// The first store after the restart: it may wait for stream leaders.
	var storedAfter time.Duration
	eventually(t, 60*time.Second, func() error {
		if err := pub.publish("restart/x", "after"); err != nil {
			return err
		}
		storedAfter = time.Since(restarted)
		return nil
	})
	acked = append(acked, "after")
	deadline := time.Now().Add(45 * time.Second)
	for time.Now().Before(deadline) && len(sub.got.missing(acked)) > 0 {
		time.Sleep(100 * time.Millisecond)
	}
	deliveredAfter := time.Since(restarted)
	lost := sub.got.missing(acked)
	distinct, dups := sub.got.stats()
	t.Logf("cluster down %s; both gateways ready %s after the nodes were started again, the first QoS 1 store acknowledged after %s, everything delivered after %s",
		restarted.Sub(down).Round(time.Millisecond), readyAfter.Round(100*time.Millisecond),
		storedAfter.Round(100*time.Millisecond), deliveredAfter.Round(100*time.Millisecond))
	t.Logf("MQTT QoS 1: acknowledged %d, delivered %d (duplicates %d), lost %d; reconnects: publisher %d, subscriber %d",
		len(acked), distinct, dups, len(lost), pub.reconnects(), sub.reconnects())
	if len(lost) > 0 {
		t.Errorf("%d acknowledged messages not delivered: %.20q", len(lost), lost)
	}
	for _, g := range []*gateway{a, b} {
		select {
		case <-g.exited:
			t.Fatalf("gateway %s exited: %v", g.Addr, g.exitErr)
		default:
		}
	}
}
