package e2e

import (
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
	"go.yaml.in/yaml/v3"
)

// dashboardQueries checks Grafana's provisioning in compose project p and
// returns the series the dashboards' queries name, each checked to exist:
// ours in bridge/metrics.go, NATS's in what the exporter makes of a real
// nats-server's monitoring endpoints.
func dashboardQueries(t *testing.T, p *types.Project) map[string]bool {
	t.Helper()
	s, ok := p.Services["grafana"]
	if !ok {
		t.Fatal("no grafana service")
	}
	mounts := map[string]string{}
	for _, v := range s.Volumes {
		mounts[v.Target] = v.Source
	}
	prov := mounts["/etc/grafana/provisioning"]
	if prov == "" {
		t.Fatal("grafana: no provisioning mounted at /etc/grafana/provisioning")
	}
	var ds struct {
		Datasources []struct {
			UID, Type, URL string
		} `yaml:"datasources"`
	}
	b, err := os.ReadFile(filepath.Join(prov, "datasources", "prometheus.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &ds); err != nil || len(ds.Datasources) != 1 {
		t.Fatalf("grafana datasources: %v %+v", err, ds)
	}
	src := ds.Datasources[0]
	if u, err := url.Parse(src.URL); err != nil || src.Type != "prometheus" || u.Port() != "9090" || p.Services[u.Hostname()].Image == "" ||
		!strings.HasPrefix(p.Services[u.Hostname()].Image, "prom/prometheus:") {
		t.Errorf("grafana's datasource %+v is not the prometheus service on 9090", src)
	}
	var prv struct {
		Providers []struct {
			Options struct{ Path string } `yaml:"options"`
		} `yaml:"providers"`
	}
	if b, err = os.ReadFile(filepath.Join(prov, "dashboards", "wsgate.yml")); err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &prv); err != nil || len(prv.Providers) != 1 {
		t.Fatalf("grafana dashboard providers: %v %+v", err, prv)
	}
	dir := mounts[prv.Providers[0].Options.Path]
	if dir == "" {
		t.Fatalf("grafana: the dashboards' path %s is not mounted", prv.Providers[0].Options.Path)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	if len(files) == 0 {
		t.Fatalf("no dashboard in %s", dir)
	}
	ours := gatewayMetrics(t)
	theirs := natsExporterMetrics(t, "varz", "routez")
	named := map[string]bool{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d struct {
			Panels []struct {
				Type, Title string
				Datasource  *struct{ UID string } `json:"datasource"`
				Targets     []struct {
					Expr       string `json:"expr"`
					Datasource *struct{ UID string }
				} `json:"targets"`
			} `json:"panels"`
		}
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, pn := range d.Panels {
			if pn.Type == "row" {
				continue
			}
			if pn.Datasource == nil || pn.Datasource.UID != src.UID || len(pn.Targets) == 0 {
				t.Errorf("%s: panel %q: datasource %+v, %d queries; want %s", filepath.Base(f), pn.Title, pn.Datasource, len(pn.Targets), src.UID)
			}
			for _, q := range pn.Targets {
				ms := promMetric.FindAllString(q.Expr, -1)
				if len(ms) == 0 {
					t.Errorf("panel %q: %q names no series of ours or NATS's", pn.Title, q.Expr)
				}
				for _, m := range ms {
					named[m] = true
					if !ours[m] && !theirs[m] {
						t.Errorf("panel %q: %s exists neither in bridge/metrics.go nor in the NATS exporter's series", pn.Title, m)
					}
				}
			}
		}
	}
	// What the dashboard must show.
	for _, m := range []string{"wsgate_connections", "wsgate_messages_in_total", "wsgate_messages_out_total",
		"wsgate_route_duration_seconds_bucket", "wsgate_slow_consumer_disconnects_total", "wsgate_protocol_errors_total",
		"gnatsd_varz_in_msgs", "gnatsd_routez_num_routes"} {
		if !named[m] {
			t.Errorf("no panel shows %s", m)
		}
	}
	return named
}
