package daemon

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/connectivity-exporter/connectivity_exporter/nodes"
	"github.com/connectivity-exporter/connectivity_exporter/test/testbin"
)

// fixedSource is a node source that has one list, which its Watch
// delivers at once, as the Kubernetes source does once it has synced.
type fixedSource []nodes.Node

func (s fixedSource) Load(context.Context) ([]nodes.Node, error) { return s, nil }

func (s fixedSource) Watch(ctx context.Context, update func([]nodes.Node), _ func(error)) {
	update(s)
	<-ctx.Done()
}

// On Kubernetes, a node without a health IP (no health pod) is probed on
// the host paths only, and status calls that healthy either way. With
// health pods (the default) this node's missing pod is reported: after
// the grace, connectivity_health_endpoint_up is 0. Without them
// (--no-nodes.kubernetes.health-pods) there is nothing to report, and the
// series is absent, so ConnectivityHealthEndpointDown cannot fire.
func TestDaemonWithoutHealthPods(t *testing.T) {
	list := fixedSource{
		{Name: "node-1", HostIP: netip.MustParseAddr("198.18.0.1")},
		{Name: "node-2", HostIP: netip.MustParseAddr("198.18.0.2")},
	}
	const upSeries = `connectivity_health_endpoint_up{source="node-1"}`
	for _, tc := range []struct {
		name         string
		noHealthPods bool
		wantUp       string // the series' line, "" for absent
	}{
		{"health pods, none on this node: down after the grace", false, upSeries + " 0"},
		{"no health pods: no series", true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const checkEvery = 20 * time.Millisecond
			td := startTestDaemonWith(t, "", func(c *Config) {
				c.NodesFile, c.Kubernetes, c.Kube.NoHealthPods = "", true, tc.noHealthPods
				c.ProbeInterval, c.HealthPodGrace, c.HealthCheckInterval = 300*time.Millisecond, 0, checkEvery
			}, func(d *Deps) {
				d.NodeSource = func(*Config) (nodes.Source, func(), error) { return list, func() {}, nil }
			})
			out := td.waitHealthy(t) // exit 0: no endpoint path is missing
			if strings.Contains(out, "endpoint") && !strings.Contains(out, "Endpoint connectivity: none") {
				t.Errorf("status mentions endpoints beyond their absence:\n%s", out)
			}
			if tc.wantUp != "" {
				testbin.Eventually(t, 10*time.Second, tc.wantUp, func() error {
					m := td.metrics()
					return testbin.Holds(strings.Contains(m, tc.wantUp+"\n"), grep(m, upSeries))
				})
			} else {
				// Ten checks' time: a check that ran would have set it.
				time.Sleep(10 * checkEvery)
			}
			m := td.metrics()
			if tc.wantUp == "" && strings.Contains(m, upSeries) {
				t.Errorf("without health pods: %s", grep(m, upSeries))
			}
			for _, peer := range []string{"node-1", "node-2"} {
				for _, path := range []string{"host", "endpoint"} {
					s := fmt.Sprintf(`connectivity_peer_reachable{family="ipv4",path=%q,peer=%q,protocol="icmp",source="node-1"}`, path, peer)
					if got := strings.Contains(m, s); got != (path == "host") {
						t.Errorf("%s present: %v, want %v", s, got, path == "host")
					}
				}
			}
		})
	}
}
