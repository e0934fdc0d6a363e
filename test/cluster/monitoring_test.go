package cluster_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/connectivity-exporter/connectivity_exporter/test/cluster"
	"github.com/connectivity-exporter/connectivity_exporter/test/testbin"
)

// TestMonitoringOnRealCluster: the shipped Kubernetes scrape config finds
// every exporter through the API server and scrapes it over the cluster
// network; the recording rules give values and nothing fires while the
// cluster is healthy.
func TestMonitoringOnRealCluster(t *testing.T) {
	c := cluster.Start(t, cluster.Options{})
	if err := c.DeployExporter(3 * time.Minute); err != nil {
		t.Fatal(err)
	}
	m := cluster.StartMonitoring(t, c, cluster.MonitorOptions{})
	m.WaitTargetsUp(t, 2*time.Minute)
	expectHealthy(t, c, m)
}

// expectHealthy waits until the recording rules have a value per node and
// no alert is pending or firing; none may have reached Alertmanager.
func expectHealthy(t *testing.T, c *cluster.Cluster, m *cluster.Monitor) {
	t.Helper()
	n := len(c.Nodes())
	testbin.Eventually(t, 2*time.Minute, "the recording rules evaluated", func() error {
		for expr, want := range map[string]int{
			// Per source: the share of unreachable peers, one per path and protocol.
			`source_path_protocol:connectivity_peers_unreachable:ratio{job="connectivity"} == 0`:   4 * n,
			`job:connectivity_probers_per_node:expected{job="connectivity"} == ` + fmt.Sprint(n-1): 1,
		} {
			got, err := m.Query(expr)
			if err != nil {
				return err
			}
			if len(got) != want {
				return fmt.Errorf("%s: %d series, want %d: %v", expr, len(got), want, got)
			}
		}
		return nil
	})
	alerts, err := m.Alerts()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range alerts {
		t.Errorf("healthy cluster, yet %s %s", a.State, testbin.LabelKey(a.Labels))
	}
	if s := m.Hooks.Summary(0); s != "" {
		t.Errorf("healthy cluster, yet Alertmanager notified:\n%s", s)
	}
}
