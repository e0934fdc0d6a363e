package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/connectivity-exporter/connectivity_exporter/test/testbin"
)

// The verdicts on real servers: six nodes in three zones (lab.sh LAB_ZONES:
// a bridge per zone joined by a router namespace), scraped by a real
// Prometheus that loads the rules and sends to a real Alertmanager with
// examples/alertmanager.yml. Each group fault must reach Alertmanager's
// webhook as one critical alert naming the fault, the per-pair alerts it
// explains held back:
//   - the link between zone-a and zone-b cut at the router: one
//     ConnectivityZoneLinkDegraded (both directions fire in Prometheus; the
//     forward one inhibits the reverse one);
//   - node-6 cut off: one ConnectivityNodeUnreachable, its per-pair alerts
//     inhibited;
//   - node-1's uplink dropping all traffic with other nodes: one
//     ConnectivityNodeIsolated naming node-1.
//
// Wall time is bounded by a copy of the rules with every for: at 10s and
// every 5m rate window at 20s (testbin.WriteRules), 2s scrape and evaluation
// intervals and 1s probes.
func TestZoneVerdictsReachAlertmanager(t *testing.T) {
	requirePrometheus(t)
	const nodes, zones = 6, 3
	l := startLabZones(t, nodes, zones, labArgs)
	dir := t.TempDir()
	hook := testbin.StartAlertReceiver(t)
	// Long enough for a verdict, whose rules read series recorded by
	// another group, to join the group of the per-pair alerts it inhibits.
	am := startAlertmanagerWait(t, dir, hook.URL, "10s")
	var targets []string
	for i := 1; i <= nodes; i++ {
		targets = append(targets, zonedHostIP(i, nodes, zones)+":9240")
	}
	prom := startPrometheusTargets(t, dir, "classic", testbin.WriteRules(t, dir, testbin.RulePace{For: "10s", Window: "20s"}), am, false, targets)

	testbin.Eventually(t, 60*time.Second, "Prometheus scraping the six exporters and recording the 9 zone pairs", func() error {
		up, err := prom.Query(`count(up{job="connectivity"} == 1)`)
		if err != nil {
			return err
		}
		pairs, err := prom.Query(`count(count by (source_zone, peer_zone) (zone_pair_path_protocol:connectivity_zone_probes:loss_ratio_rate5m{job="connectivity"}))`)
		if err != nil {
			return err
		}
		return testbin.Holds(len(up) == 1 && up[0].Value == 6 && len(pairs) == 1 && pairs[0].Value == 9, fmt.Sprint(up, pairs))
	})
	quiet(t, prom)

	cases := []struct {
		name         string
		inject       []string
		want         map[string]string // labels of the one critical alert
		inhibitedToo map[string]string // an alert Alertmanager must hold back meanwhile
	}{{
		name:         "zone-a <-> zone-b cut",
		inject:       []string{"zone-cut", "1", "2"},
		want:         map[string]string{"alertname": "ConnectivityZoneLinkDegraded", "link": "zone-a <-> zone-b", "link_direction": "forward"},
		inhibitedToo: map[string]string{"alertname": "ConnectivityZoneLinkDegraded", "link": "zone-a <-> zone-b", "link_direction": "reverse"},
	}, {
		name:         "node-6 cut off",
		inject:       []string{"cut", "6"},
		want:         map[string]string{"alertname": "ConnectivityNodeUnreachable", "node": "node-6", "peer_zone": "zone-c"},
		inhibitedToo: map[string]string{"alertname": "ConnectivityPeerUnreachable", "peer": "node-6"},
	}, {
		name:         "node-1 isolated",
		inject:       []string{"isolate", "1"},
		want:         map[string]string{"alertname": "ConnectivityNodeIsolated", "node": "node-1", "source_zone": "zone-a"},
		inhibitedToo: map[string]string{"alertname": "ConnectivityNodeUnreachable", "node": "node-1"},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			mark := hook.Mark()
			l.mustRun(append([]string{"fault"}, tc.inject...)...)
			cleared := false
			clearFault := func() {
				if !cleared {
					cleared = true
					l.mustRun(append([]string{"clear"}, tc.inject...)...)
				}
			}
			defer clearFault()
			testbin.Eventually(t, 90*time.Second, fmt.Sprintf("%v at the webhook", tc.want), func() error {
				for _, a := range hook.Firing(mark, "/critical") {
					if hasLabels(a, tc.want) {
						return nil
					}
				}
				return testbin.Holds(false, hook.Summary(mark))
			})
			testbin.Eventually(t, 30*time.Second, fmt.Sprintf("%v held back by Alertmanager", tc.inhibitedToo), func() error {
				got, err := testbin.AlertmanagerAPI{URL: am}.Alerts()
				if err != nil {
					return err
				}
				for _, a := range got {
					if hasLabels(a.Labels, tc.inhibitedToo) && len(a.Status.InhibitedBy) > 0 {
						return nil
					}
				}
				return testbin.Holds(false, fmt.Sprint(got))
			})
			// A storm would arrive within a group wait of the alerts
			// firing; wait two, then count.
			time.Sleep(20 * time.Second)
			critical := hook.Firing(mark, "/critical")
			if len(critical) != 1 {
				t.Errorf("want exactly one critical alert at the webhook, got %d:\n%s", len(critical), hook.Summary(mark))
			}
			t.Logf("webhook since the fault:\n%s", hook.Summary(mark))
			clearFault()
			quiet(t, prom)
		})
	}
}

// zonedHostIP is node i's host IP in a lab of k nodes in z zones (lab.sh).
func zonedHostIP(i, k, z int) string { return fmt.Sprintf("198.18.%d.%d", (i-1)*z/k+1, i) }

// quiet waits until Prometheus has no critical alert pending or firing.
func quiet(t *testing.T, prom *promServer) {
	t.Helper()
	testbin.Eventually(t, 120*time.Second, "no critical alert pending or firing", func() error {
		v, err := prom.Query(`ALERTS{job="connectivity", severity="critical"}`)
		return testbin.Holds(err == nil && len(v) == 0, fmt.Sprint(v, err))
	})
}

func hasLabels(labels, want map[string]string) bool {
	for k, v := range want {
		if labels[k] != v {
			return false
		}
	}
	return true
}
