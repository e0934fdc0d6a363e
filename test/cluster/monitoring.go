package cluster

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/connectivity-exporter/connectivity_exporter/test/testbin"
)

// MonitorOptions say how StartMonitoring paces the project's rules.
type MonitorOptions struct {
	// Pace speeds the rules up for a test (testbin.WriteRules). Zero:
	// every for: and range window divided by DefaultRuleDivide. Use the
	// same pace for a test's positive controls and its no-alert cases.
	Pace testbin.RulePace
	// GroupWait, if not empty, replaces Alertmanager's group_wait. Empty
	// keeps examples/alertmanager.yml's 30s, and should: Pace does not
	// shorten the exporter's probe interval, and the group wait is what
	// lets a verdict, which needs a second prober to see the fault (up to
	// a probe and a scrape interval later), inhibit the per-pair alert of
	// the first before it is notified.
	GroupWait string
}

// DefaultRuleDivide is how much faster than shipped the rules run unless
// MonitorOptions.Pace says otherwise: every duration divided alike keeps
// the rules' proportions (the verdicts' 2m becomes 30s, a rate alert
// still waits longer than its window), so what fires nothing at full
// length, e.g. a health pod replaced, fires nothing here either.
const DefaultRuleDivide = 4

// Monitor is a Prometheus 3 and an Alertmanager watching a cluster's
// exporters the way the project ships it for Kubernetes:
// deploy/kubernetes/prometheus-scrape.yml (Kubernetes service discovery
// against the cluster's API server), the mixin's rendered rules
// (alerts/), and examples/alertmanager.yml's routes and inhibitions, its
// webhooks pointed at Hooks. Both daemons run in the control plane's
// network namespace, so Prometheus reaches the API server and scrapes
// the exporters over the cluster network as an in-cluster one would.
type Monitor struct {
	// Hooks receives Alertmanager's notifications: paths /default,
	// /critical and /warning, as examples/alertmanager.yml routes them.
	Hooks *testbin.AlertReceiver
	// PrometheusURL and AlertmanagerURL are on loopback of the control
	// plane's namespace: reach them with Monitor's methods.
	PrometheusURL, AlertmanagerURL string

	c      *Cluster
	client *http.Client
}

// StartMonitoring starts Prometheus and Alertmanager for c (see Monitor),
// waits until both are ready, and stops them when t ends (their logs are
// in c.Dir/logs, printed by Start when t fails). It skips (fails under
// CX_TEST_STRICT=1 or CI=true) without the pinned prometheus and
// alertmanager (scripts/build-prometheus.sh). Deploy the exporter
// before or after: discovery follows the pods. One Monitor per cluster at
// a time: Prometheus' service account (cx-test-prometheus in default) is
// made at the start and deleted at the end.
func StartMonitoring(t testing.TB, c *Cluster, opts MonitorOptions) *Monitor {
	t.Helper()
	promBin := testbin.NeedTool(t, "prometheus", testbin.BuildPrometheus)
	amBin := testbin.NeedTool(t, "alertmanager", testbin.BuildPrometheus)
	if opts.Pace == (testbin.RulePace{}) {
		opts.Pace.Divide = DefaultRuleDivide
	}
	dir := t.TempDir()
	m := &Monitor{c: c, client: httpClientIn(c.ControlPlaneNS())}

	hookLn, err := listenIn(c.ControlPlaneNS(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m.Hooks = testbin.StartAlertReceiverOn(t, hookLn)

	amPort, err := m.freePort()
	if err != nil {
		t.Fatal(err)
	}
	m.AlertmanagerURL = fmt.Sprintf("http://127.0.0.1:%d", amPort)
	amConfig, err := alertmanagerConfig(m.Hooks.URL, opts.GroupWait)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "alertmanager.yml"), amConfig, 0o644); err != nil {
		t.Fatal(err)
	}
	m.start(t, "alertmanager", m.AlertmanagerURL, amBin,
		"--config.file="+filepath.Join(dir, "alertmanager.yml"),
		"--storage.path="+filepath.Join(dir, "alertmanager"),
		fmt.Sprintf("--web.listen-address=127.0.0.1:%d", amPort),
		"--cluster.listen-address=") // one instance: no gossip port

	rules := testbin.WriteRules(t, dir, opts.Pace)
	kubeconfig, undo, err := c.prometheusKubeconfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(undo)
	promConfig, err := prometheusConfig(kubeconfig, rules, strings.TrimPrefix(m.AlertmanagerURL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), promConfig, 0o644); err != nil {
		t.Fatal(err)
	}
	promPort, err := m.freePort()
	if err != nil {
		t.Fatal(err)
	}
	m.PrometheusURL = fmt.Sprintf("http://127.0.0.1:%d", promPort)
	m.start(t, "prometheus", m.PrometheusURL, promBin,
		"--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "prometheus"),
		fmt.Sprintf("--web.listen-address=127.0.0.1:%d", promPort))
	return m
}

// freePort is a TCP port free a moment ago on the control plane's loopback.
func (m *Monitor) freePort() (int, error) {
	ln, err := listenIn(m.c.ControlPlaneNS(), "tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// start runs a daemon in the control plane's namespace until t ends and
// waits until base/-/ready answers.
func (m *Monitor) start(t testing.TB, name, base, bin string, args ...string) {
	t.Helper()
	logDir := filepath.Join(m.c.Dir, "logs")
	p, err := startIn(logDir, name, netnsName(m.c.state.ID, "cp"), nil, append([]string{bin}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.stop(10 * time.Second) })
	err = m.c.waitFor(name+" ready", time.Minute, func() error {
		if p.exited() {
			return errExited(name, logDir)
		}
		resp, err := m.client.Get(base + "/-/ready")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return errors.New(resp.Status)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// alertmanagerConfig is examples/alertmanager.yml with its webhooks at
// hookURL, and group_wait set to groupWait unless that is empty: the
// routes and inhibitions a user starts from.
func alertmanagerConfig(hookURL, groupWait string) ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(RepoDir(), "examples", "alertmanager.yml"))
	if err != nil {
		return nil, err
	}
	const placeholder = "http://127.0.0.1:5001"
	if !strings.Contains(string(b), placeholder) {
		return nil, fmt.Errorf("examples/alertmanager.yml: no webhook at %s to point at the test", placeholder)
	}
	b = []byte(strings.ReplaceAll(string(b), placeholder, hookURL))
	if groupWait == "" {
		return b, nil
	}
	return regexp.MustCompile(`group_wait: \S+`).ReplaceAll(b, []byte("group_wait: "+groupWait)), nil
}

// prometheusConfig is deploy/kubernetes/prometheus-scrape.yml's job as
// shipped, with only what this setup forces on it, plus the rules and
// Alertmanager. Each change says why.
func prometheusConfig(kubeconfig string, rules []string, alertmanager string) ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(RepoDir(), "deploy", "kubernetes", "prometheus-scrape.yml"))
	if err != nil {
		return nil, err
	}
	var shipped struct {
		ScrapeConfigs []map[string]any `json:"scrape_configs"`
	}
	if err := yaml.Unmarshal(b, &shipped); err != nil {
		return nil, fmt.Errorf("prometheus-scrape.yml: %w", err)
	}
	if len(shipped.ScrapeConfigs) != 1 {
		return nil, fmt.Errorf("prometheus-scrape.yml: %d scrape configs, want the one job", len(shipped.ScrapeConfigs))
	}
	job := shipped.ScrapeConfigs[0]
	sds, _ := job["kubernetes_sd_configs"].([]any)
	if len(sds) == 0 {
		return nil, errors.New("prometheus-scrape.yml: the job has no kubernetes_sd_configs")
	}
	for _, sd := range sds {
		sd, ok := sd.(map[string]any)
		if !ok {
			return nil, errors.New("prometheus-scrape.yml: a kubernetes_sd_config is not a map")
		}
		// The one adaptation of the job: this Prometheus is not a pod, so
		// it has no in-cluster service account and the kubernetes Service
		// leads nowhere (no kube-proxy); it reaches the API server as the
		// "or with a kubeconfig" of the file's header says, with a token
		// of a service account holding only the RBAC the file asks for.
		sd["kubeconfig_file"] = kubeconfig
	}
	cfg := map[string]any{
		// Not in the shipped file (a user's prometheus.yml has its own):
		// rules evaluated every 5s instead of Prometheus' default minute,
		// so that the sped-up for: durations mean what they say.
		"global":         map[string]any{"evaluation_interval": EvaluationInterval.String()},
		"rule_files":     rules,
		"scrape_configs": []any{job},
		"alerting": map[string]any{"alertmanagers": []any{map[string]any{
			"static_configs": []any{map[string]any{"targets": []string{alertmanager}}},
		}}},
	}
	return yaml.Marshal(cfg)
}

// Sample is one series of a query's result.
type Sample = testbin.Sample

// Query evaluates the PromQL expr now and returns its series (an instant
// vector; a scalar comes back as one series without labels).
func (m *Monitor) Query(expr string) ([]Sample, error) { return m.prometheus().Query(expr) }

// TargetsUp reports nil when Prometheus scrapes exactly one exporter per
// node of the cluster (instance = node name) and every scrape succeeds;
// otherwise an error saying what it sees.
func (m *Monitor) TargetsUp() error {
	up, err := m.Query(`up{job="connectivity"}`)
	if err != nil {
		return err
	}
	nodes := m.c.Nodes()
	var seen, bad []string
	for _, s := range up {
		seen = append(seen, s.Labels["instance"])
		if s.Value != 1 || !slices.Contains(nodes, s.Labels["instance"]) {
			bad = append(bad, fmt.Sprintf("%s up=%v", s.Labels["instance"], s.Value))
		}
	}
	slices.Sort(seen)
	if len(bad) > 0 || !slices.Equal(seen, nodes) {
		return fmt.Errorf("exporter targets %v (%v), want one up per node %v", seen, bad, nodes)
	}
	return nil
}

// WaitTargetsUp waits until TargetsUp holds, failing t after timeout.
func (m *Monitor) WaitTargetsUp(t testing.TB, timeout time.Duration) {
	t.Helper()
	testbin.Eventually(t, timeout, "every exporter target up", m.TargetsUp)
}

// EvaluationInterval is how often Prometheus evaluates the rules.
const EvaluationInterval = 5 * time.Second

// WaitScrapedSince waits until Prometheus has scraped every exporter target
// after since and evaluated the rules twice on it, failing t after
// timeout: what an exporter reported since is then in the alerts' state.
func (m *Monitor) WaitScrapedSince(t testing.TB, since time.Time, timeout time.Duration) {
	t.Helper()
	testbin.Eventually(t, timeout, "every target scraped since "+since.Format(time.TimeOnly), func() error {
		got, err := m.Query(`min(timestamp(up{job="connectivity"}))`)
		if err != nil {
			return err
		}
		if len(got) != 1 || got[0].Value <= float64(since.UnixMilli())/1000 {
			return fmt.Errorf("oldest scrape at %v", got)
		}
		return nil
	})
	time.Sleep(2 * EvaluationInterval)
}

// Alert is an alert as Prometheus holds it: State is pending or firing.
type Alert = testbin.PromAlert

// Alerts are Prometheus' active alerts, pending and firing.
func (m *Monitor) Alerts() ([]Alert, error) { return m.prometheus().Alerts() }

// Firing are Prometheus' firing alerts.
func (m *Monitor) Firing() ([]Alert, error) { return m.prometheus().Firing() }

// AlertmanagerAlert is an alert as Alertmanager holds it: State is active,
// suppressed (inhibited or silenced) or unprocessed.
type AlertmanagerAlert = testbin.AlertmanagerAlert

// AlertmanagerAlerts are the alerts Alertmanager holds now, inhibited ones
// included.
func (m *Monitor) AlertmanagerAlerts() ([]AlertmanagerAlert, error) {
	return testbin.AlertmanagerAPI{URL: m.AlertmanagerURL, Client: m.client}.Alerts()
}

// prometheus is the HTTP API of m's Prometheus, reached in the control
// plane's namespace.
func (m *Monitor) prometheus() testbin.PrometheusAPI {
	return testbin.PrometheusAPI{URL: m.PrometheusURL, Client: m.client}
}
