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
	var listens, routes []string
	for range n {
		a := freeAddr(t)
		listens = append(listens, a)
		routes = append(routes, "nats-route://"+a)
	}
	var gws []*gateway
	for i := range n {
		cfg := fmt.Sprintf(`
nats:
  server_name: gw-%d
  stream_replicas: 3
  cluster:
    name: e2e
    listen: %s
    routes: [%s]
`, i+1, listens[i], strings.Join(routes, ", ")) + scaleOutConfig
		// The three start at once: a node is ready only once JetStream
		// has a quorum.
		gws = append(gws, launchGateway(t, gwOpts{Config: cfg}))
	}
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
