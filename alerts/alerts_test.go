// Package alerts holds no code: the alerting and recording rules are plain
// YAML for Prometheus' rule_files, with promtool unit tests under tests/.
// These tests run promtool on them, check their conventions, and check that
// they select only metrics the collector exposes (its golden files say which).
//
// The rules select the exporters by job="connectivity": scrape them with a
// job of that name (see examples/prometheus.yml).
package alerts

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v4"

	"github.com/connectivity-exporter/connectivity_exporter/test/metricnames"
	"github.com/connectivity-exporter/connectivity_exporter/test/testbin"
)

// The rule files, in this directory.
const (
	AlertsFile = "connectivity-alerts.yml"
	RulesFile  = "connectivity-rules.yml"
)

// Job is the value of the job label the rules select.
const Job = "connectivity"

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []rule `yaml:"rules"`
	} `yaml:"groups"`
}

type rule struct {
	Alert       string            `yaml:"alert"`
	Record      string            `yaml:"record"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

type testFile struct {
	RuleFiles []string `yaml:"rule_files"`
	Tests     []struct {
		Name          string `yaml:"name"`
		AlertRuleTest []struct {
			EvalTime  string `yaml:"eval_time"`
			Alertname string `yaml:"alertname"`
			ExpAlerts []struct {
				ExpLabels      map[string]string `yaml:"exp_labels"`
				ExpAnnotations map[string]string `yaml:"exp_annotations"`
			} `yaml:"exp_alerts"`
		} `yaml:"alert_rule_test"`
	} `yaml:"tests"`
}

// readYAML reads the file name with read and decodes it into v.
func readYAML(t *testing.T, read func(string) ([]byte, error), name string, v any) {
	t.Helper()
	b, err := read(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

func loadRules(t *testing.T, name string) []rule {
	t.Helper()
	var f ruleFile
	readYAML(t, os.ReadFile, name, &f)
	var rules []rule
	for _, g := range f.Groups {
		rules = append(rules, g.Rules...)
	}
	if len(rules) == 0 {
		t.Fatalf("%s: no rules", name)
	}
	return rules
}

func testFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("tests", "*.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no promtool test files in tests/")
	}
	sort.Strings(files)
	return files
}

func promtool(t *testing.T) string {
	t.Helper()
	return testbin.NeedTool(t, "promtool", testbin.BuildPrometheus+"; it checks the rules and runs their unit tests")
}

func runPromtool(t *testing.T, args ...string) {
	t.Helper()
	cmd := exec.Command(promtool(t), args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out.String())
	}
}

func TestPromtoolCheckRules(t *testing.T) {
	runPromtool(t, "check", "rules", RulesFile, AlertsFile)
}

// examples/prometheus.yml loads these rules by relative path: keep it valid.
func TestExamplePrometheusConfig(t *testing.T) {
	runPromtool(t, "check", "config", filepath.Join("..", "examples", "prometheus.yml"))
}

func TestExampleAlertmanagerConfig(t *testing.T) {
	amtool := testbin.NeedTool(t, "amtool", testbin.BuildPrometheus+"; it checks examples/alertmanager.yml")
	cmd := exec.Command(amtool, "check-config", filepath.Join("..", "examples", "alertmanager.yml"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("amtool check-config: %v\n%s", err, out.String())
	}
}

// The alert names examples/alertmanager.yml refers to exist.
func TestExampleAlertmanagerNamesAlerts(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "examples", "alertmanager.yml"))
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, r := range loadRules(t, AlertsFile) {
		names[r.Alert] = true
	}
	for _, n := range regexp.MustCompile(`Connectivity[A-Za-z0-9]+`).FindAllString(string(b), -1) {
		if !names[n] {
			t.Errorf("examples/alertmanager.yml names %q, which is not an alert of %s", n, AlertsFile)
		}
	}
}

func TestPromtoolTestRules(t *testing.T) {
	runPromtool(t, append([]string{"test", "rules"}, testFiles(t)...)...)
}

var (
	alertName  = regexp.MustCompile(`^Connectivity[A-Z][A-Za-z0-9]*$`)
	recordName = regexp.MustCompile(`^[a-z][a-z0-9_]*:[a-z][a-z0-9_]*:[a-z][a-z0-9_]*$`)
	// Every selector of a connectivity_* or process_* metric, of up and of a
	// recorded series (level:metric:operations) names the job.
	selector = regexp.MustCompile(`\b([a-z][a-z0-9_]*:[a-z0-9_:]+|connectivity_[a-z_]+|process_[a-z_]+|up)(\{[^}]*\})?`)
)

func checkSelectors(t *testing.T, name, expr string) {
	t.Helper()
	for _, m := range selector.FindAllStringSubmatch(expr, -1) {
		if !strings.Contains(m[2], `job="`+Job+`"`) {
			t.Errorf("%s: selector %s lacks job=%q", name, m[0], Job)
		}
	}
}

func TestAlertConventions(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range loadRules(t, AlertsFile) {
		if r.Alert == "" {
			t.Errorf("%s has a recording rule %q: recording rules belong in %s", AlertsFile, r.Record, RulesFile)
			continue
		}
		if !alertName.MatchString(r.Alert) {
			t.Errorf("alert %q: name must be CamelCase and start with Connectivity", r.Alert)
		}
		if seen[r.Alert] {
			t.Errorf("alert %q is defined twice", r.Alert)
		}
		seen[r.Alert] = true
		switch r.Labels["severity"] {
		case "warning", "critical":
		default:
			t.Errorf("alert %q: severity label is %q, want warning or critical", r.Alert, r.Labels["severity"])
		}
		if r.For == "" {
			t.Errorf("alert %q has no for: one bad sample would fire it", r.Alert)
		}
		summary, desc := r.Annotations["summary"], r.Annotations["description"]
		if summary == "" {
			t.Errorf("alert %q has no summary annotation", r.Alert)
		}
		if strings.Contains(summary, "{{") {
			t.Errorf("alert %q: summary must be plain text, got %q", r.Alert, summary)
		}
		if desc == "" {
			t.Errorf("alert %q has no description annotation", r.Alert)
		} else if r.Alert != "ConnectivityExporterAbsent" && !strings.Contains(desc, "$labels.") {
			// absent() carries only the selector's equality matchers as
			// labels, none with a regex job selector: that alert names its
			// selector as rendered instead.
			t.Errorf("alert %q: description must be templated with the alert's labels", r.Alert)
		}
		// Name what the alert is about: the source (or its zone), the peer
		// for verdicts about a peer, and the peer for alerts built from
		// per-peer series.
		if r.Alert != "ConnectivityExporterAbsent" && !strings.Contains(desc, "$labels.source") && !strings.Contains(desc, "$labels.peer") {
			t.Errorf("alert %q: description names neither the source node nor the peer", r.Alert)
		}
		// connectivity_peer_leaving only mutes an alert about a node that
		// is leaving; the alert is not about a peer for it.
		if strings.Contains(strings.ReplaceAll(r.Expr, "connectivity_peer_leaving", ""), "connectivity_peer_") && !strings.Contains(desc, "$labels.peer") {
			t.Errorf("alert %q is about a peer but its description does not name it", r.Alert)
		}
		checkSelectors(t, r.Alert, r.Expr)
	}
}

func TestRecordingRuleConventions(t *testing.T) {
	for _, r := range loadRules(t, RulesFile) {
		if r.Record == "" {
			t.Errorf("%s has an alert %q: alerts belong in %s", RulesFile, r.Alert, AlertsFile)
			continue
		}
		if !recordName.MatchString(r.Record) {
			t.Errorf("recording rule %q: name must be level:metric:operations", r.Record)
		}
		checkSelectors(t, r.Record, r.Expr)
	}
}

// Every alert has unit tests where it fires and where it stays silent, and
// every firing case checks the severity and both annotations.
func TestEveryAlertIsUnitTested(t *testing.T) {
	fires, silent := map[string]int{}, map[string]int{}
	for _, name := range testFiles(t) {
		var f testFile
		readYAML(t, os.ReadFile, name, &f)
		want := []string{"../" + RulesFile, "../" + AlertsFile}
		if strings.Join(f.RuleFiles, ",") != strings.Join(want, ",") {
			t.Errorf("%s: rule_files is %v, want %v", name, f.RuleFiles, want)
		}
		for _, tc := range f.Tests {
			for _, at := range tc.AlertRuleTest {
				if len(at.ExpAlerts) == 0 {
					silent[at.Alertname]++
					continue
				}
				fires[at.Alertname]++
				for _, a := range at.ExpAlerts {
					if a.ExpLabels["severity"] == "" || a.ExpAnnotations["summary"] == "" || a.ExpAnnotations["description"] == "" {
						t.Errorf("%s: %q at %s: an expected alert must check severity, summary and description", name, tc.Name, at.EvalTime)
					}
				}
			}
		}
	}
	defined := map[string]bool{}
	for _, r := range loadRules(t, AlertsFile) {
		defined[r.Alert] = true
		if fires[r.Alert] == 0 {
			t.Errorf("alert %q has no unit test where it fires", r.Alert)
		}
		if silent[r.Alert] == 0 {
			t.Errorf("alert %q has no unit test where it stays silent", r.Alert)
		}
	}
	for name := range fires {
		if !defined[name] {
			t.Errorf("tests expect alert %q, which does not exist", name)
		}
	}
}

// Every series the rules select is one the collector exposes, one the
// recording rules record, Prometheus' own up, or the exporter's process
// start time (client_golang's process collector, which the collector's
// golden files leave out).
func TestRulesSelectExposedMetrics(t *testing.T) {
	exposed, err := metricnames.Exposed()
	if err != nil {
		t.Fatal(err)
	}
	recorded := map[string]bool{}
	for _, r := range loadRules(t, RulesFile) {
		recorded[r.Record] = true
	}
	for _, file := range []string{RulesFile, AlertsFile} {
		for _, r := range loadRules(t, file) {
			for _, n := range metricnames.Selected(r.Expr) {
				if !exposed[n] && !recorded[n] && n != "up" && n != "process_start_time_seconds" {
					t.Errorf("%s: rule %s%s selects %s, which the collector does not expose (collector/testdata/*.prom) and %s does not record", file, r.Alert, r.Record, n, RulesFile)
				}
			}
		}
	}
}
