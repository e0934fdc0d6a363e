package e2e

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/connectivity-exporter/connectivity_exporter/test/grafana"
	"github.com/connectivity-exporter/connectivity_exporter/test/testbin"
)

// quietRecords are the recording rules that hold only while something is
// broken (verdicts and the conditions they count): on a healthy lab they
// record nothing. Every other recording rule must record series.
var quietRecords = map[string]bool{
	"source_peer:connectivity_peer_reachable:all_failed":             true,
	"source_peer:connectivity_peer_reachable:endpoints_failed":       true,
	"node:connectivity_isolated:verdict":                             true,
	"node:connectivity_unreachable:verdict":                          true,
	"node:connectivity_endpoints_cut_off:verdict":                    true,
	"source_peer_zone_path_protocol:connectivity_zone_link:affected": true,
	"zone_pair:connectivity_zone_link:verdict":                       true,
}

// The pinned Prometheus 3 as a user runs it: examples/prometheus.yml with
// its histogram settings untouched (native and classic ingested together),
// the shipped rule files unmodified, scraping a healthy lab of 4 nodes in 2
// zones. Every rule group must evaluate without error, every recording rule
// but the fault-only ones must record series, every dashboard query must
// evaluate without error or warning as Grafana runs it (range or instant),
// a native histogram from the exporter must answer histogram_quantile, and
// Prometheus must log no warning (a no-op 2.x flag, a deprecated setting).
func TestPrometheus3RulesAndDashboardQueries(t *testing.T) {
	requirePrometheus(t)
	const nodes, zones = 4, 2
	startLabZones(t, nodes, zones, labArgs)
	var targets []string
	for i := 1; i <= nodes; i++ {
		targets = append(targets, zonedHostIP(i, nodes, zones)+":9240")
	}
	dir := t.TempDir()
	prom := startExamplePrometheus(t, dir, targets)
	// Every node reaches every node on the four paths, as Prometheus sees it.
	want := float64(nodes * nodes * len(allPaths))
	testbin.Eventually(t, 60*time.Second, "every path of every pair reachable in Prometheus", func() error {
		v, err := prom.Query(`count(connectivity_peer_reachable{job="connectivity"} == 1)`)
		return testbin.Holds(err == nil && len(v) == 1 && v[0].Value == want, fmt.Sprint(v, err))
	})

	// Two evaluations after the first rate window has two samples of every
	// series: by then every rule that can record has.
	testbin.Eventually(t, 60*time.Second, "every rule evaluated, the native RTT histogram answering", func() error {
		groups, err := prom.RuleGroups()
		if err != nil {
			return testbin.Holds(false, err.Error())
		}
		for _, g := range groups {
			for _, r := range g.Rules {
				if r.Health == "unknown" || r.LastEvaluation.IsZero() {
					return testbin.Holds(false, fmt.Sprintf("group %s rule %s not evaluated yet", g.Name, r.Name))
				}
			}
		}
		v, err := prom.Query(`histogram_quantile(0.9, sum(rate(connectivity_rtt_seconds{job="connectivity"}[1m])))`)
		return testbin.Holds(err == nil && len(v) == 1 && !math.IsNaN(v[0].Value), fmt.Sprint(v, err))
	})

	groups, err := prom.RuleGroups()
	if err != nil {
		t.Fatal(err)
	}
	var loaded, mustRecord []string
	for _, g := range groups {
		for _, r := range g.Rules {
			loaded = append(loaded, r.Name)
			if r.Type == "recording" && !quietRecords[r.Name] {
				mustRecord = append(mustRecord, r.Name)
			}
		}
	}
	if len(loaded) == 0 {
		t.Fatal("Prometheus loaded no rules")
	}
	for name := range quietRecords {
		if !slices.Contains(loaded, name) {
			t.Errorf("quietRecords names %s, which no loaded rule records", name)
		}
	}
	// A rule that reads another group's records needs an evaluation or two
	// more, and evaluations lag on a loaded machine: wait for them.
	testbin.Eventually(t, 30*time.Second, "every recording rule but the fault-only ones recording series", func() error {
		var none []string
		for _, name := range mustRecord {
			if v, err := prom.Query(fmt.Sprintf(`count({__name__=%q})`, name)); err != nil || len(v) == 0 {
				none = append(none, name)
			}
		}
		return testbin.Holds(len(none) == 0, "nothing recorded by "+strings.Join(none, ", "))
	})
	// Then every rule is still healthy.
	if groups, err = prom.RuleGroups(); err != nil {
		t.Fatal(err)
	}
	for _, g := range groups {
		for _, r := range g.Rules {
			if r.Health != "ok" || r.LastError != "" {
				t.Errorf("rule group %s, %s %s: health %q: %s", g.Name, r.Type, r.Name, r.Health, r.LastError)
			}
		}
	}

	// Native histograms are queryable as such, and the classic buckets are
	// kept next to them (always_scrape_classic_histograms).
	for _, q := range []string{
		`histogram_count(sum(rate(connectivity_rtt_seconds{job="connectivity"}[1m]))) > 0`,
		`histogram_quantile(0.9, sum(rate(connectivity_zone_rtt_seconds{job="connectivity"}[1m])))`,
		`histogram_quantile(0.9, sum by (le) (rate(connectivity_rtt_seconds_bucket{job="connectivity"}[1m])))`,
	} {
		v, err := prom.Query(q)
		if err != nil || len(v) != 1 || math.IsNaN(v[0].Value) {
			t.Errorf("%s = %v, %v; want one number", q, v, err)
		}
	}

	values := map[string]string{"datasource": "prometheus", "cluster": ".*", "source": "node-1", "peer": "node-2", "path": "endpoint", "protocol": "icmp", "family": "ipv4", "source_zone": ".*", "peer_zone": ".*"}
	queries, err := grafana.Queries(os.DirFS(filepath.Join(testbin.RepoRoot(), "dashboards")), values)
	if err != nil {
		t.Fatal(err)
	}
	if len(queries) < 20 {
		t.Fatalf("only %d dashboard queries found", len(queries))
	}
	var empty []string
	for _, q := range queries {
		// As Grafana runs it: a range query over the last minute at its
		// step, or an instant query.
		window := time.Minute
		if q.Instant {
			window = 0
		}
		n, warnings, err := prom.Evaluate(q.Expr, window, 15*time.Second)
		where := fmt.Sprintf("%s panel %q [%s]", q.File, q.Panel, q.RefID)
		if err != nil {
			t.Errorf("%s: %v\n%s", where, err, q.Expr)
			continue
		}
		if len(warnings) > 0 {
			t.Errorf("%s: Prometheus warns: %s\n%s", where, strings.Join(warnings, "; "), q.Expr)
		}
		if n == 0 {
			empty = append(empty, where)
		}
	}
	// Nothing deprecated or failing in the example config: Prometheus 3
	// warns of a no-op feature flag or a failed rule in its log.
	logText, err := os.ReadFile(filepath.Join(dir, "prometheus-example.log"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(logText), "\n") {
		if strings.Contains(line, "level=WARN") || strings.Contains(line, "level=ERROR") {
			t.Errorf("Prometheus logs: %s", line)
		}
	}

	// Some panels are empty on a healthy lab by design (alerts firing, MTU
	// black holes): TestPrometheusDashboardsAndAlerts checks data with a fault.
	t.Logf("%d rules healthy, %d recording; %d dashboard queries evaluated, %d without data on a healthy lab: %s",
		len(loaded), len(mustRecord), len(queries), len(empty), strings.Join(empty, ", "))
}

// evalInterval is the evaluation (and scrape) interval of
// startExamplePrometheus.
const evalInterval = 2 * time.Second

// startExamplePrometheus runs Prometheus with examples/prometheus.yml as
// shipped but for: the lab's targets, 2s intervals, absolute paths to the
// repository's rule files, and no Alertmanager.
func startExamplePrometheus(t *testing.T, dir string, targets []string) *promServer {
	t.Helper()
	cfg := examplePrometheusConfig(t, evalInterval)
	examples := filepath.Join(testbin.RepoRoot(), "examples")
	var rules []string
	for _, r := range cfg["rule_files"].([]any) {
		rules = append(rules, filepath.Join(examples, r.(string)))
	}
	cfg["rule_files"] = rules
	delete(cfg, "alerting")
	jobs := cfg["scrape_configs"].([]any)
	if len(jobs) != 1 {
		t.Fatalf("examples/prometheus.yml has %d jobs, want the lab's only", len(jobs))
	}
	job := jobs[0].(map[string]any)
	job["static_configs"] = []any{map[string]any{"targets": targets}}
	return runPrometheus(t, dir, "example", cfg)
}
