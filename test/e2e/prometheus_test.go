package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.yaml.in/yaml/v4"

	"github.com/connectivity-exporter/connectivity_exporter/test/grafana"
	"github.com/connectivity-exporter/connectivity_exporter/test/testbin"
)

// requirePrometheus needs root and the pinned Prometheus and Alertmanager
// (scripts/install-deps.sh builds them into .bin/).
func requirePrometheus(t *testing.T) {
	t.Helper()
	requireRoot(t)
	for _, bin := range []string{"prometheus", "alertmanager"} {
		testbin.NeedTool(t, bin, testbin.BuildPrometheus)
	}
}

// A real Prometheus (the pinned 3.x) scrapes the lab twice over: one server
// ingests native histograms only, one classic buckets only, so that a panel
// that reads one kind is proven on that kind. Every dashboard panel must
// have data on both; then a
// FORWARD drop must take ConnectivityEndpointUnreachable through pending and
// firing, and its verdict ConnectivityNodeEndpointsCutOff to a real
// Alertmanager, which inhibits the per-pair alerts.
func TestPrometheusDashboardsAndAlerts(t *testing.T) {
	requirePrometheus(t)
	l := startLab(t, 3)
	dir := t.TempDir()
	hooks := testbin.StartAlertReceiver(t)
	am := startAlertmanager(t, dir, hooks.URL)
	rules := testbin.WriteRules(t, dir, testbin.RulePace{For: "10s"})
	native := startPrometheus(t, dir, "native", rules, am, true)
	classic := startPrometheus(t, dir, "classic", rules, am, false)

	for peer := 1; peer <= 3; peer++ {
		l.expectPaths(peer, allPaths, 1, converge)
	}
	for _, p := range []*promServer{native, classic} {
		testbin.Eventually(t, converge, p.name+" scraping all three exporters", func() error {
			v, err := p.query(`count(up{job="connectivity"} == 1)`)
			return testbin.Holds(err == nil && len(v) == 1 && v[0].Value[1] == "3", fmt.Sprint(v, err))
		})
	}

	l.mustRun("fault", "forward-drop", "2")
	states := map[string]bool{}
	testbin.Eventually(t, 90*time.Second, "ConnectivityEndpointUnreachable firing for node-2", func() error {
		alerts, err := native.alerts()
		if err != nil {
			return err
		}
		for _, a := range alerts {
			if a.Labels["alertname"] == "ConnectivityEndpointUnreachable" && a.Labels["peer"] == "node-2" {
				states[a.State] = true
			}
		}
		return testbin.Holds(states["firing"], fmt.Sprintf("states seen %v; alerts %v", states, alerts))
	})
	if !states["pending"] {
		t.Error("the alert was never seen pending before firing (for: must hold it back)")
	}
	// Both probers of node-2 see the same: the verdict names node-2, and
	// Alertmanager holds the per-pair alerts back in its favour.
	testbin.Eventually(t, converge, "the verdict in Alertmanager, the per-pair alert inhibited", func() error {
		got, err := alertmanagerAlerts(am)
		if err != nil {
			return err
		}
		verdict, inhibited := false, false
		for _, a := range got {
			if a.Labels["alertname"] == "ConnectivityNodeEndpointsCutOff" && a.Labels["node"] == "node-2" && a.Labels["severity"] == "critical" {
				verdict = true
			}
			if a.Labels["alertname"] == "ConnectivityEndpointUnreachable" && a.Labels["peer"] == "node-2" && len(a.Status.InhibitedBy) > 0 {
				inhibited = true
			}
		}
		return testbin.Holds(verdict && inhibited, fmt.Sprint(got))
	})
	testbin.Eventually(t, converge, "Alertmanager's webhook notification", func() error {
		return testbin.Holds(hooks.Received("/critical", "ConnectivityNodeEndpointsCutOff"), hooks.Summary(0))
	})

	// With data of every kind present (an alert firing included), every
	// panel of every dashboard must evaluate and show data.
	// Every panel must show data for some choice of the variables: both
	// protocols, since IPv4 ICMP paths have no flows (docs/ecmp.md) and
	// the flows' panels are empty for them.
	var queries []grafana.Query
	for _, protocol := range []string{"icmp", "http"} {
		values := map[string]string{"datasource": "prometheus", "cluster": ".*", "source": "node-1", "peer": "node-2", "path": "endpoint", "protocol": protocol, "family": "ipv4", "source_zone": ".*", "peer_zone": ".*"}
		qs, err := grafana.Queries(os.DirFS(filepath.Join(testbin.RepoRoot(), "dashboards")), values)
		if err != nil {
			t.Fatal(err)
		}
		queries = append(queries, qs...)
	}
	if len(queries) < 20 {
		t.Fatalf("only %d dashboard queries found", len(queries))
	}
	for _, p := range []*promServer{native, classic} {
		// Each server evaluates the rules on its own clock: the verdict
		// panels need the verdict firing on this one too.
		testbin.Eventually(t, converge, p.name+" Prometheus firing the verdict", func() error {
			alerts, err := p.alerts()
			for _, a := range alerts {
				if a.Labels["alertname"] == "ConnectivityNodeEndpointsCutOff" && a.State == "firing" {
					return nil
				}
			}
			return testbin.Holds(false, fmt.Sprint(alerts, err))
		})
		panelHasData := map[string]bool{}
		var panels []string
		for _, q := range queries {
			key := q.File + ": " + q.Panel
			if _, ok := panelHasData[key]; !ok {
				panels = append(panels, key)
				panelHasData[key] = false
			}
			v, err := p.query(q.Expr)
			if err != nil {
				t.Errorf("%s Prometheus: %s [%s]: %v\n%s", p.name, key, q.RefID, err, q.Expr)
				continue
			}
			if len(v) > 0 {
				panelHasData[key] = true
			}
		}
		withData, otherKind := 0, 0
		for _, key := range panels {
			if panelHasData[key] {
				withData++
			}
			// A panel that reads only one histogram kind is empty on the
			// other server by design; it must have data on its own kind.
			kind := panelKind(queries, key)
			if kind != "" && kind != p.name {
				otherKind++
				continue
			}
			if !panelHasData[key] {
				t.Errorf("%s Prometheus: panel %q shows no data on a live lab", p.name, key)
			}
		}
		t.Logf("%s Prometheus: %d queries evaluated, %d of %d panels show data, %d panels read only the other histogram kind",
			p.name, len(queries), withData, len(panels), otherKind)
	}
}

// panelKind is "native" or "classic" when every query of the panel reads
// only that kind of histogram, else "".
func panelKind(queries []grafana.Query, key string) string {
	kind := ""
	for _, q := range queries {
		if q.File+": "+q.Panel != key {
			continue
		}
		k := ""
		switch {
		case q.Native && !strings.Contains(q.Expr, "_bucket"):
			k = "native"
		case strings.Contains(q.Expr, "_bucket") && !q.Native:
			k = "classic"
		default:
			return ""
		}
		if kind != "" && kind != k {
			return ""
		}
		kind = k
	}
	return kind
}

type promServer struct {
	name string
	url  string
}

type promSample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

// query evaluates expr at now (a range query's last point is what an
// instant query returns, so one kind suffices to prove it evaluates).
func (p *promServer) query(expr string) ([]promSample, error) {
	var out struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string          `json:"resultType"`
			Result     json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := getJSON(p.url+"/api/v1/query?query="+url.QueryEscape(expr), &out); err != nil {
		return nil, err
	}
	if out.Status != "success" {
		return nil, fmt.Errorf("query failed: %s", out.Error)
	}
	var samples []promSample
	if out.Data.ResultType == "vector" {
		if err := json.Unmarshal(out.Data.Result, &samples); err != nil {
			return nil, err
		}
		for i := range samples {
			samples[i].Value[1] = fmt.Sprint(samples[i].Value[1])
		}
	}
	return samples, nil
}

type promAlert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	State       string            `json:"state"`
	// Status is set by Alertmanager (API v2), not by Prometheus.
	Status struct {
		State       string   `json:"state"`
		InhibitedBy []string `json:"inhibitedBy"`
	} `json:"status"`
}

func (p *promServer) alerts() ([]promAlert, error) {
	var out struct {
		Data struct {
			Alerts []promAlert `json:"alerts"`
		} `json:"data"`
	}
	err := getJSON(p.url+"/api/v1/alerts", &out)
	return out.Data.Alerts, err
}

func alertmanagerAlerts(amURL string) ([]promAlert, error) {
	var out []promAlert
	err := getJSON(amURL+"/api/v2/alerts", &out)
	return out, err
}

func getJSON(u string, v any) error {
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(u)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", u, resp.Status, body)
	}
	return json.Unmarshal(body, v)
}

// startDaemon runs a server process until the test ends, and waits until
// readyURL answers 200.
func startDaemon(t *testing.T, logFile, readyURL string, name string, args ...string) {
	t.Helper()
	log, err := os.Create(logFile)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		log.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logFile)
			t.Logf("%s log (tail):\n%s", name, tail(string(b), 30))
		}
	})
	testbin.Eventually(t, 30*time.Second, name+" ready", func() error {
		select {
		case <-done:
			b, _ := os.ReadFile(logFile)
			t.Fatalf("%s exited:\n%s", name, tail(string(b), 30))
		default:
		}
		resp, err := (&http.Client{Timeout: time.Second}).Get(readyURL)
		if err != nil {
			return err
		}
		resp.Body.Close()
		return testbin.Holds(resp.StatusCode == 200, resp.Status)
	})
}

// startAlertmanager runs Alertmanager with examples/alertmanager.yml, its
// webhooks pointed at the test and its group wait shortened to 1s.
func startAlertmanager(t *testing.T, dir, hookURL string) string {
	t.Helper()
	return startAlertmanagerWait(t, dir, hookURL, "1s")
}

// startAlertmanagerWait is startAlertmanager with another group wait.
func startAlertmanagerWait(t *testing.T, dir, hookURL, groupWait string) string {
	t.Helper()
	return startAlertmanagerPace(t, dir, hookURL, groupWait, "")
}

// startAlertmanagerPace is startAlertmanagerWait with another group
// interval too ("" keeps the example's), for a test that waits for a
// resolved notification (sent at the next group interval).
func startAlertmanagerPace(t *testing.T, dir, hookURL, groupWait, groupInterval string) string {
	t.Helper()
	cfg, err := os.ReadFile(filepath.Join(testbin.RepoRoot(), "examples", "alertmanager.yml"))
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(string(cfg), "http://127.0.0.1:5001", hookURL)
	text = regexp.MustCompile(`group_wait: \S+`).ReplaceAllString(text, "group_wait: "+groupWait)
	if groupInterval != "" {
		text = regexp.MustCompile(`group_interval: \S+`).ReplaceAllString(text, "group_interval: "+groupInterval)
	}
	path := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	port := testbin.FreeLoopbackPort(t)
	u := fmt.Sprintf("http://127.0.0.1:%d", port)
	startDaemon(t, filepath.Join(dir, "alertmanager.log"), u+"/-/ready", testbin.NeedTool(t, "alertmanager", testbin.BuildPrometheus),
		"--config.file="+path, "--storage.path="+filepath.Join(dir, "am-data"),
		fmt.Sprintf("--web.listen-address=127.0.0.1:%d", port), "--cluster.listen-address=")
	return u
}

// startPrometheus runs Prometheus with examples/prometheus.yml, faster
// intervals, the test's rule copies and Alertmanager.
func startPrometheus(t *testing.T, dir, name string, rules []string, amURL string, native bool) *promServer {
	t.Helper()
	return startPrometheusTargets(t, dir, name, rules, amURL, native, nil)
}

// startPrometheusTargets is startPrometheus scraping targets (host:port)
// instead of the example's lab, when targets is not nil.
func startPrometheusTargets(t *testing.T, dir, name string, rules []string, amURL string, native bool, targets []string) *promServer {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testbin.RepoRoot(), "examples", "prometheus.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	global := cfg["global"].(map[string]any)
	global["scrape_interval"], global["evaluation_interval"], global["scrape_timeout"] = "2s", "2s", "2s"
	cfg["rule_files"] = rules
	if targets != nil {
		cfg["scrape_configs"] = []any{map[string]any{
			"job_name":       "connectivity",
			"static_configs": []any{map[string]any{"targets": targets}},
		}}
	}
	// Prometheus 3 ingests native histograms per scrape config. The example
	// keeps the classic buckets too; here a server ingests one kind only, so
	// that each panel is proven on the kind it reads.
	for _, sc := range cfg["scrape_configs"].([]any) {
		sc := sc.(map[string]any)
		sc["scrape_native_histograms"] = native
		sc["always_scrape_classic_histograms"] = false
	}
	cfg["alerting"] = map[string]any{"alertmanagers": []any{map[string]any{
		"static_configs": []any{map[string]any{"targets": []string{strings.TrimPrefix(amURL, "http://")}}},
	}}}
	out, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "prometheus-"+name+".yml")
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
	port := testbin.FreeLoopbackPort(t)
	u := fmt.Sprintf("http://127.0.0.1:%d", port)
	args := []string{"--config.file=" + path, "--storage.tsdb.path=" + filepath.Join(dir, "tsdb-"+name),
		fmt.Sprintf("--web.listen-address=127.0.0.1:%d", port)}
	startDaemon(t, filepath.Join(dir, "prometheus-"+name+".log"), u+"/-/ready", testbin.NeedTool(t, "prometheus", testbin.BuildPrometheus), args...)
	return &promServer{name: name, url: u}
}
