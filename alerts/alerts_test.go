// Package alerts holds no code: the alerting and recording rules are plain
// YAML for Prometheus' rule_files, with promtool unit tests under tests/.
// These tests run promtool on them, check their conventions, and check that
// they select only metrics the collector exposes (its golden files say which).
//
// The rule files are rendered by go run ./mixin from mixin/templates (make
// generate). These render the default configuration: the exporters are
// selected by job="connectivity" (see examples/prometheus.yml), clusters are
// told apart by the cluster label, and every alert's runbook_url points at
// its section of docs/runbooks.md.
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

// ClusterLabel tells clusters apart: every by and on of the rules keeps it.
const ClusterLabel = "cluster"

// The runbooks, and where the rules' runbook_url points: its section about
// the alert, whose anchor is the alert's name in lower case.
const (
	RunbookFile    = "../docs/runbooks.md"
	RunbookURLBase = "https://github.com/connectivity-exporter/connectivity_exporter/blob/main/docs/runbooks.md#"
)

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
	return testbin.NeedTool(t, "promtool", "Debian: apt-get install prometheus")
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
	amtool := testbin.NeedTool(t, "amtool", "Debian: apt-get install prometheus-alertmanager")
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
		// ConnectivityExporterAbsent has no labels to name: absent()
		// gives only the job selector's.
		if desc == "" {
			t.Errorf("alert %q has no description annotation", r.Alert)
		} else if !strings.Contains(desc, "$labels.") && r.Alert != "ConnectivityExporterAbsent" {
			t.Errorf("alert %q: description must be templated with the alert's labels", r.Alert)
		}
		// Name what the alert is about: the source (or its zone), the peer
		// for verdicts about a peer, and the peer for alerts built from
		// per-peer series.
		if r.Alert != "ConnectivityExporterAbsent" && !strings.Contains(desc, "$labels.source") && !strings.Contains(desc, "$labels.peer") {
			t.Errorf("alert %q: description names neither the source node nor the peer", r.Alert)
		}
		if strings.Contains(r.Expr, "connectivity_peer_") && !strings.Contains(desc, "$labels.peer") {
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

// A by or on clause: the labels an aggregation keeps or a join matches on.
var byOrOn = regexp.MustCompile(`\b(by|on)\s*\(([^)]*)\)`)

// Every aggregation by and every join on of the rules keeps the cluster
// label, so that a Prometheus holding several clusters (federation, Thanos,
// Mimir) neither adds their series up nor fails joins matching one of each.
// (Aggregations "without" keep it anyway.)
func TestRulesKeepTheClusterLabel(t *testing.T) {
	for _, file := range []string{RulesFile, AlertsFile} {
		for _, r := range loadRules(t, file) {
			for _, m := range byOrOn.FindAllStringSubmatch(r.Expr, -1) {
				if !hasLabel(m[2], ClusterLabel) {
					t.Errorf("%s: rule %s%s: %q leaves out %s", file, r.Alert, r.Record, m[0], ClusterLabel)
				}
			}
		}
	}
}

func hasLabel(list, label string) bool {
	for _, l := range strings.Split(list, ",") {
		if strings.TrimSpace(l) == label {
			return true
		}
	}
	return false
}

// A Markdown heading, and GitHub's anchor of it: lower case, punctuation
// dropped, spaces as dashes.
var (
	heading         = regexp.MustCompile(`(?m)^(#{1,6})\s+(.+?)\s*$`)
	anchorDropChars = regexp.MustCompile(`[^\p{L}\p{N}\- _]`)
)

func anchor(title string) string {
	s := anchorDropChars.ReplaceAllString(strings.ToLower(title), "")
	return strings.ReplaceAll(s, " ", "-")
}

// runbookSections maps the anchor of every section of the runbook file to
// its text, up to the next heading of the same or a higher level.
func runbookSections(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile(RunbookFile)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	ms := heading.FindAllStringSubmatchIndex(text, -1)
	sections := map[string]string{}
	for i, m := range ms {
		level := m[3] - m[2]
		end := len(text)
		for _, n := range ms[i+1:] {
			if n[3]-n[2] <= level {
				end = n[0]
				break
			}
		}
		sections[anchor(text[m[4]:m[5]])] = text[m[1]:end]
	}
	return sections
}

// Every alert has a runbook_url pointing at a section of docs/runbooks.md
// that says what the alert means, how to confirm it with
// `connectivity_exporter status` (or get) and what to do.
func TestEveryAlertHasARunbook(t *testing.T) {
	sections := runbookSections(t)
	for _, r := range loadRules(t, AlertsFile) {
		url := r.Annotations["runbook_url"]
		a, ok := strings.CutPrefix(url, RunbookURLBase)
		if !ok {
			t.Errorf("alert %q: runbook_url %q, want %s<anchor>", r.Alert, url, RunbookURLBase)
			continue
		}
		if a != strings.ToLower(r.Alert) {
			t.Errorf("alert %q: runbook_url anchor %q, want %q", r.Alert, a, strings.ToLower(r.Alert))
		}
		section, ok := sections[a]
		if !ok {
			t.Errorf("alert %q: runbook_url %q: %s has no heading with the anchor %q", r.Alert, url, RunbookFile, a)
			continue
		}
		for _, part := range []string{"**Meaning**", "**Confirm**", "**Act**"} {
			if !strings.Contains(section, part) {
				t.Errorf("alert %q: its runbook section lacks %s", r.Alert, part)
			}
		}
		if !strings.Contains(section, "connectivity_exporter status") && !strings.Contains(section, "connectivity_exporter get") {
			t.Errorf("alert %q: its runbook section does not say how to confirm it with connectivity_exporter status (or get)", r.Alert)
		}
	}
}

func TestAnchor(t *testing.T) {
	for _, tc := range []struct{ title, want string }{
		{"ConnectivityNodeUnreachable", "connectivitynodeunreachable"},
		{"Reading `status`: the four paths", "reading-status-the-four-paths"},
		{"MTU black holes (full-size probes)", "mtu-black-holes-full-size-probes"},
	} {
		if got := anchor(tc.title); got != tc.want {
			t.Errorf("anchor(%q) = %q, want %q", tc.title, got, tc.want)
		}
	}
}
