package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
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
// every 5m rate window at 20s (writeLabRules), 2s scrape and evaluation
// intervals and 1s probes.
func TestZoneVerdictsReachAlertmanager(t *testing.T) {
	requirePrometheus(t)
	const nodes, zones = 6, 3
	l := startLabZones(t, nodes, zones, labArgs)
	dir := t.TempDir()
	hook := startAlertRecorder(t)
	// Long enough for a verdict, whose rules read series recorded by
	// another group, to join the group of the per-pair alerts it inhibits.
	am := startAlertmanagerWait(t, dir, hook.url, "10s")
	var targets []string
	for i := 1; i <= nodes; i++ {
		targets = append(targets, zonedHostIP(i, nodes, zones)+":9240")
	}
	prom := startPrometheusTargets(t, dir, "classic", writeLabRules(t, dir), am, false, targets)

	eventually(t, 60*time.Second, "Prometheus scraping the six exporters and recording the 9 zone pairs", func() (bool, string) {
		up, err := prom.query(`count(up{job="connectivity"} == 1)`)
		if err != nil {
			return false, err.Error()
		}
		pairs, err := prom.query(`count(count by (source_zone, peer_zone) (zone_pair_path_protocol:connectivity_zone_probes:loss_ratio_rate5m{job="connectivity"}))`)
		if err != nil {
			return false, err.Error()
		}
		return len(up) == 1 && up[0].Value[1] == "6" && len(pairs) == 1 && pairs[0].Value[1] == "9", fmt.Sprint(up, pairs)
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
			mark := hook.mark()
			l.mustRun(append([]string{"fault"}, tc.inject...)...)
			cleared := false
			clearFault := func() {
				if !cleared {
					cleared = true
					l.mustRun(append([]string{"clear"}, tc.inject...)...)
				}
			}
			defer clearFault()
			eventually(t, 90*time.Second, fmt.Sprintf("%v at the webhook", tc.want), func() (bool, string) {
				for _, a := range hook.firing(mark, "/critical") {
					if hasLabels(a, tc.want) {
						return true, ""
					}
				}
				return false, hook.summary(mark)
			})
			eventually(t, 30*time.Second, fmt.Sprintf("%v held back by Alertmanager", tc.inhibitedToo), func() (bool, string) {
				got, err := alertmanagerAlerts(am)
				if err != nil {
					return false, err.Error()
				}
				for _, a := range got {
					if hasLabels(a.Labels, tc.inhibitedToo) && len(a.Status.InhibitedBy) > 0 {
						return true, ""
					}
				}
				return false, fmt.Sprint(got)
			})
			// A storm would arrive within a group wait of the alerts
			// firing; wait two, then count.
			time.Sleep(20 * time.Second)
			critical := hook.firing(mark, "/critical")
			if len(critical) != 1 {
				t.Errorf("want exactly one critical alert at the webhook, got %d:\n%s", len(critical), hook.summary(mark))
			}
			t.Logf("webhook since the fault:\n%s", hook.summary(mark))
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
	eventually(t, 120*time.Second, "no critical alert pending or firing", func() (bool, string) {
		v, err := prom.query(`ALERTS{job="connectivity", severity="critical"}`)
		return err == nil && len(v) == 0, fmt.Sprint(v, err)
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

var (
	labForClause = regexp.MustCompile(`(?m)^(\s+for:) \S+`)
	labWindow    = regexp.MustCompile(`\[5m\]`)
)

// writeLabRules copies the rules for the lab's pace: every for: at 10s and
// every 5m rate window at 20s (ten 2s scrapes, twenty 1s probes).
func writeLabRules(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	for _, name := range []string{"connectivity-rules.yml", "connectivity-alerts.yml"} {
		b, err := os.ReadFile(filepath.Join(testbin.RepoRoot(), "alerts", name))
		if err != nil {
			t.Fatal(err)
		}
		b = labForClause.ReplaceAll(b, []byte("$1 10s"))
		b = labWindow.ReplaceAll(b, []byte("[20s]"))
		path := filepath.Join(dir, "lab-"+name)
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		out = append(out, path)
	}
	return out
}

// alertRecorder is Alertmanager's webhook receiver: it keeps every alert of
// every notification, in order.
type alertRecorder struct {
	url string
	mu  sync.Mutex
	got []recordedAlert
}

type recordedAlert struct {
	path   string // the receiver's URL path: /critical, /warning, /default
	status string // firing or resolved
	labels map[string]string
}

func startAlertRecorder(t *testing.T) *alertRecorder {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &alertRecorder{url: "http://" + ln.Addr().String()}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var msg struct {
			Alerts []struct {
				Status string            `json:"status"`
				Labels map[string]string `json:"labels"`
			} `json:"alerts"`
		}
		if err := json.NewDecoder(io.LimitReader(req.Body, 1<<20)).Decode(&msg); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		for _, a := range msg.Alerts {
			r.got = append(r.got, recordedAlert{path: req.URL.Path, status: a.Status, labels: a.Labels})
		}
		r.mu.Unlock()
	}), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return r
}

// mark is a position in the record: what arrives later is after it.
func (r *alertRecorder) mark() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got)
}

// firing returns the distinct alerts (by label set) notified as firing to
// path since mark.
func (r *alertRecorder) firing(mark int, path string) []map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	seen := map[string]bool{}
	var out []map[string]string
	for _, a := range r.got[mark:] {
		if a.path != path || a.status != "firing" {
			continue
		}
		if k := labelKey(a.labels); !seen[k] {
			seen[k] = true
			out = append(out, a.labels)
		}
	}
	return out
}

func (r *alertRecorder) summary(mark int) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	for _, a := range r.got[mark:] {
		fmt.Fprintf(&b, "  %s %s %s\n", a.path, a.status, labelKey(a.labels))
	}
	return b.String()
}

func labelKey(labels map[string]string) string {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + labels[k]
	}
	return "{" + strings.Join(parts, ", ") + "}"
}
