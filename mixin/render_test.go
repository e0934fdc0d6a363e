package main

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v4"

	"github.com/connectivity-exporter/connectivity_exporter/test/testbin"
)

// The repository's files, rendered with DefaultConfig: make generate writes
// them, make lint (go run ./mixin -check) and this test catch drift.
var repoLayouts = []Layout{
	{Dashboards: "../dashboards", Rules: "../alerts"},
	{Dashboards: "../deploy/helm/connectivity-exporter/files/dashboards", Rules: "../deploy/helm/connectivity-exporter/files/rules"},
}

func TestRepositoryFilesAreRendered(t *testing.T) {
	files, err := Render(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range repoLayouts {
		drift, err := Drift(l, files)
		if err != nil {
			t.Fatal(err)
		}
		if len(drift) > 0 {
			t.Error(driftError(drift))
		}
	}
}

type rulesFile struct {
	Groups []struct {
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Record      string            `yaml:"record"`
			Expr        string            `yaml:"expr"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

type dashboard struct {
	Templating struct {
		List []struct {
			Name       string          `json:"name"`
			Hide       int             `json:"hide"`
			IncludeAll bool            `json:"includeAll"`
			Query      json.RawMessage `json:"query"`
			Definition string          `json:"definition"`
		} `json:"list"`
	} `json:"templating"`
}

var (
	byOrOn = regexp.MustCompile(`\b(by|on)\s*\(([^)]*)\)`)
	// A selector of a connectivity_* series, or of up.
	exporterSelector = regexp.MustCompile(`\b(connectivity_[a-z_]+|up)\{([^}]*)\}`)
	// Every "expr" string of a dashboard's JSON, still escaped.
	exprField = regexp.MustCompile(`"expr": "((?:[^"\\]|\\.)*)"`)
)

// A configuration unlike the default in every field: nothing of the
// default may be left in what it renders.
func TestRenderCustomConfig(t *testing.T) {
	c := Config{
		JobSelector:       `job=~"cx|connectivity-exporter", namespace="monitoring"`,
		ClusterLabel:      "k8s_cluster",
		RunbookURLPattern: "https://wiki.example.com/net/%s",
		ShowMultiCluster:  true,
	}
	files, err := Render(c)
	if err != nil {
		t.Fatal(err)
	}
	var dashboards, rules int
	for _, f := range files {
		text := string(f.Data)
		for _, stale := range []string{`job="connectivity"`, `job=\"connectivity\"`, "(cluster,", " cluster=~", "{cluster=~", "docs/runbooks.md#", "<%", "%>"} {
			if strings.Contains(text, stale) {
				t.Errorf("%s: holds %q, which the configuration replaces", f.Name, stale)
			}
		}
		switch f.Kind {
		case Rules:
			rules++
			checkCustomRules(t, c, f)
		case Dashboard:
			dashboards++
			checkCustomDashboard(t, c, f)
		}
	}
	if dashboards != 3 || rules != 2 {
		t.Errorf("rendered %d dashboards and %d rule files, want 3 and 2", dashboards, rules)
	}
}

func checkCustomRules(t *testing.T, c Config, f File) {
	t.Helper()
	var rf rulesFile
	if err := yaml.Unmarshal(f.Data, &rf); err != nil {
		t.Fatal(err)
	}
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			name := r.Alert + r.Record
			for _, m := range byOrOn.FindAllStringSubmatch(r.Expr, -1) {
				if !strings.Contains(m[2], c.ClusterLabel) {
					t.Errorf("%s: %s: %q leaves out %s", f.Name, name, m[0], c.ClusterLabel)
				}
			}
			for _, m := range exporterSelector.FindAllStringSubmatch(r.Expr, -1) {
				if !strings.Contains(m[2], c.JobSelector) {
					t.Errorf("%s: %s: selector %s lacks %s", f.Name, name, m[0], c.JobSelector)
				}
			}
			if r.Alert != "" {
				if got, want := r.Annotations["runbook_url"], c.RunbookURL(r.Alert); got != want {
					t.Errorf("%s: %s: runbook_url %q, want %q", f.Name, name, got, want)
				}
			}
		}
	}
}

func checkCustomDashboard(t *testing.T, c Config, f File) {
	t.Helper()
	var d dashboard
	if err := json.Unmarshal(f.Data, &d); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, v := range d.Templating.List {
		if v.Name == "cluster" {
			found = true
			if v.Hide != 0 || v.IncludeAll || !strings.Contains(v.Definition, ", "+c.ClusterLabel+")") {
				t.Errorf("%s: cluster variable hide %d, includeAll %v, definition %q: want shown, one cluster at a time, values of %s", f.Name, v.Hide, v.IncludeAll, v.Definition, c.ClusterLabel)
			}
		}
	}
	if !found {
		t.Errorf("%s: no cluster variable", f.Name)
	}
	exprs := exprField.FindAllSubmatch(f.Data, -1)
	if len(exprs) == 0 {
		t.Fatalf("%s: no expr", f.Name)
	}
	for _, m := range exprs {
		var expr string
		if err := json.Unmarshal(append(append([]byte{'"'}, m[1]...), '"'), &expr); err != nil {
			t.Fatal(err)
		}
		for _, s := range exporterSelector.FindAllStringSubmatch(expr, -1) {
			if !strings.Contains(s[2], c.JobSelector+", "+c.ClusterLabel+`=~"$cluster"`) {
				t.Errorf("%s: selector %s lacks the job selector and the cluster filter", f.Name, s[0])
			}
		}
	}
}

// What a custom configuration renders is valid Prometheus rules.
func TestCustomRulesPassPromtool(t *testing.T) {
	promtool := testbin.NeedTool(t, "promtool", "Debian: apt-get install prometheus")
	c := Config{
		JobSelector:       `job=~"cx|connectivity-exporter", namespace="monitoring"`,
		ClusterLabel:      "__tenant_id__",
		RunbookURLPattern: "https://wiki.example.com/net/%s",
	}
	files, err := Render(c)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	l := Layout{Dashboards: filepath.Join(dir, "dashboards"), Rules: filepath.Join(dir, "rules")}
	if err := Write(l, files); err != nil {
		t.Fatal(err)
	}
	paths, err := filepath.Glob(filepath.Join(l.Rules, "*.yml"))
	if err != nil || len(paths) != 2 {
		t.Fatalf("rule files %v (%v), want 2", paths, err)
	}
	cmd := exec.Command(promtool, append([]string{"check", "rules"}, paths...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out.String())
	}
}

// A selector with quotes and backslashes stays valid JSON and YAML, and
// reads back as written.
func TestRenderEscapes(t *testing.T) {
	c := DefaultConfig()
	c.JobSelector = `job=~"connectivity\\..*"`
	files, err := Render(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		var text string
		switch f.Kind {
		case Dashboard:
			var d dashboard
			if err := json.Unmarshal(f.Data, &d); err != nil {
				t.Fatal(err)
			}
			text = d.Templating.List[1].Definition
		case Rules:
			var rf rulesFile
			if err := yaml.Unmarshal(f.Data, &rf); err != nil {
				t.Fatal(err)
			}
			text = rf.Groups[0].Rules[0].Expr
		}
		if !strings.Contains(text, c.JobSelector) {
			t.Errorf("%s: %q does not hold %s", f.Name, text, c.JobSelector)
		}
	}
}

func TestRenderRejectsBadConfig(t *testing.T) {
	c := DefaultConfig()
	c.ClusterLabel = "not a label"
	if _, err := Render(c); err == nil {
		t.Error("Render with a bad cluster label: no error")
	}
}
