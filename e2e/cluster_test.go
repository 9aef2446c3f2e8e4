package e2e

import (
	"fmt"
	"strings"
	"testing"
)

// TestClusterEmbedded: three gateways whose embedded NATS servers route to
// each other (nats.cluster.*) form one JetStream cluster, with no NATS of
// its own: a complete three-node deployment. Gateways on different nodes
// behave as one, and what JetStream keeps is on all three
// (nats.stream_replicas: 3).
func TestClusterEmbedded(t *testing.T) {
	long(t)
	const n = 3
	gws, routes := startEmbeddedCluster(t, n)
	for i, g := range gws {
		if !g.hasLog("embedded NATS started", map[string]any{"server_name": fmt.Sprintf("gw-%d", i+1), "cluster": "e2e", "route_url": routes[i]}) {
			t.Errorf("gateway %d does not say it is cluster node gw-%d at %s:\n%s", i+1, i+1, routes[i], g.logText())
		}
	}
	for _, g := range gws {
		g.waitReady()
	}
	all := make([]string, n)
	for i, g := range gws {
		all[i] = g.NATSURL
	}
	checkScaleOut(t, gws[0], gws[2], strings.Join(all, ","), 3)
}

// startEmbeddedCluster starts n gateways whose embedded NATS servers form
// one cluster, and returns them with their route URLs. Every port is
// chosen before the gateways start (a node's routes name the others'),
// so another process may take one meanwhile: then it starts them again
// on new ports.
func startEmbeddedCluster(t *testing.T, n int) ([]*gateway, []string) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		addrs := freeAddrs(t, 3*n) // per node: WebSocket, NATS clients, routes
		var routes []string
		for i := range n {
			routes = append(routes, "nats-route://"+addrs[3*i+2])
		}
		var gws []*gateway
		var err error
		for i := range n {
			cfg := fmt.Sprintf(`
nats:
  server_name: gw-%d
  stream_replicas: 3
  cluster:
    name: e2e
    listen: %s
    routes: [%s]
`, i+1, addrs[3*i+2], strings.Join(routes, ", ")) + scaleOutConfig
			// Started one after the other without waiting for /readyz: a
			// node is ready only once JetStream has a quorum.
			var g *gateway
			g, err = tryLaunchGateway(t, gwOpts{Config: cfg, Args: []string{"--listen", addrs[3*i], "--nats-listen", addrs[3*i+1]}})
			if err != nil {
				break
			}
			gws = append(gws, g)
		}
		if err == nil {
			return gws, routes
		}
		for _, g := range gws {
			g.stop()
		}
		if attempt == 3 || !strings.Contains(err.Error(), "address already in use") {
			t.Fatal(err)
		}
		t.Logf("attempt %d: a port was taken; again on new ones", attempt)
	}
}
