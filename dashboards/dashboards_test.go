// Package dashboards holds no code: the Grafana dashboards are plain JSON.
// These tests check them: schema, data sources, panel ids, variables, that
// every query parses, and that it selects only metrics the collector exposes
// (its golden files say which) or that the recording rules record.
package dashboards

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v4"

	"github.com/connectivity-exporter/connectivity_exporter/test/grafana"
	"github.com/connectivity-exporter/connectivity_exporter/test/metricnames"
	"github.com/connectivity-exporter/connectivity_exporter/test/testbin"
)

const (
	minSchemaVersion = 39
	datasourceVar    = "${datasource}"
)

// Every dashboard lets the user pick these.
var requiredVariables = []string{"datasource", "source", "peer", "path", "protocol", "family"}

// The dashboards, from this directory.
var dashboardFS = os.DirFS(".")

// rulesFile records the series named level:metric:operations.
const rulesFile = "../alerts/connectivity-rules.yml"

// Series of Prometheus' own that the dashboards may select.
var prometheusSeries = map[string]bool{"up": true, "ALERTS": true}

func dashboards(t *testing.T) []grafana.Dashboard {
	t.Helper()
	ds, err := grafana.Load(dashboardFS)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) < 2 {
		t.Fatalf("found %d dashboards, want the overview and the node-pair one", len(ds))
	}
	return ds
}

func TestDashboardsAreValid(t *testing.T) {
	uids := map[string]string{}
	for _, d := range dashboards(t) {
		// Whole-file checks on the raw JSON: nothing unknown to the model is lost.
		b, err := os.ReadFile(d.File)
		if err != nil {
			t.Fatal(err)
		}
		var raw map[string]any
		if err := json.Unmarshal(b, &raw); err != nil {
			t.Fatalf("%s: %v", d.File, err)
		}
		if _, ok := raw["id"]; ok {
			t.Errorf("%s: has an id: dashboards to import must leave it out", d.File)
		}
		if d.SchemaVersion < minSchemaVersion {
			t.Errorf("%s: schemaVersion %d, want %d or later", d.File, d.SchemaVersion, minSchemaVersion)
		}
		if d.Title == "" || d.UID == "" {
			t.Errorf("%s: title %q, uid %q: both are needed", d.File, d.Title, d.UID)
		}
		if other, ok := uids[d.UID]; ok {
			t.Errorf("%s and %s share the uid %q", d.File, other, d.UID)
		}
		uids[d.UID] = d.File
	}
}

func TestPanelDatasources(t *testing.T) {
	for _, d := range dashboards(t) {
		grafana.WalkPanels(d.Panels, func(p grafana.Panel) {
			if p.Type == "row" {
				if p.Datasource != nil && p.Datasource.UID != datasourceVar {
					t.Errorf("%s: row %q: datasource uid %q, want %q", d.File, p.Title, p.Datasource.UID, datasourceVar)
				}
				return
			}
			if p.Datasource == nil || p.Datasource.UID != datasourceVar || p.Datasource.Type != "prometheus" {
				t.Errorf("%s: panel %d %q: datasource %+v, want prometheus %q", d.File, p.ID, p.Title, p.Datasource, datasourceVar)
			}
			if len(p.Targets) == 0 {
				t.Errorf("%s: panel %d %q has no query", d.File, p.ID, p.Title)
			}
			for _, tg := range p.Targets {
				if tg.Datasource == nil || tg.Datasource.UID != datasourceVar {
					t.Errorf("%s: panel %d %q target %s: datasource %+v, want %q", d.File, p.ID, p.Title, tg.RefID, tg.Datasource, datasourceVar)
				}
			}
		})
		for _, a := range d.Annotations.List {
			if a.Expr != "" && (a.Datasource == nil || a.Datasource.UID != datasourceVar) {
				t.Errorf("%s: annotation %q: datasource %+v, want %q", d.File, a.Name, a.Datasource, datasourceVar)
			}
		}
	}
}

func TestPanelIDsAreUnique(t *testing.T) {
	for _, d := range dashboards(t) {
		seen := map[int]string{}
		grafana.WalkPanels(d.Panels, func(p grafana.Panel) {
			if p.ID <= 0 {
				t.Errorf("%s: panel %q has no id", d.File, p.Title)
			}
			if other, ok := seen[p.ID]; ok {
				t.Errorf("%s: panels %q and %q share the id %d", d.File, other, p.Title, p.ID)
			}
			seen[p.ID] = p.Title
		})
	}
}

func TestVariables(t *testing.T) {
	for _, d := range dashboards(t) {
		defined := map[string]grafana.Variable{}
		for _, v := range d.Templating.List {
			defined[v.Name] = v
		}
		for _, name := range requiredVariables {
			if _, ok := defined[name]; !ok {
				t.Errorf("%s: variable %q is not defined", d.File, name)
			}
		}
		if ds := defined["datasource"]; ds.Type != "datasource" || ds.QueryString() != "prometheus" {
			t.Errorf("%s: variable datasource must be of type datasource for prometheus, got type %q query %q", d.File, ds.Type, ds.QueryString())
		}
		check := func(where, s string) {
			for _, name := range grafana.VariableRefs(s) {
				if strings.HasPrefix(name, "__") {
					if _, ok := grafana.Builtin[name]; !ok {
						t.Errorf("%s: %s uses the global variable $%s, which Expand does not know", d.File, where, name)
					}
					continue
				}
				if _, ok := defined[name]; !ok {
					t.Errorf("%s: %s uses $%s, which is not defined", d.File, where, name)
				}
			}
		}
		for _, v := range d.Templating.List {
			if v.Type == "query" {
				if v.Datasource == nil || v.Datasource.UID != datasourceVar {
					t.Errorf("%s: variable %q: datasource %+v, want %q", d.File, v.Name, v.Datasource, datasourceVar)
				}
				q := v.QueryString()
				if !strings.HasPrefix(q, "label_values(") {
					t.Errorf("%s: variable %q: query %q, want a label_values() query", d.File, v.Name, q)
				}
				check(fmt.Sprintf("variable %q", v.Name), q)
			}
		}
		grafana.WalkPanels(d.Panels, func(p grafana.Panel) {
			for _, tg := range p.Targets {
				check(fmt.Sprintf("panel %d %q target %s", p.ID, p.Title, tg.RefID), tg.Expr)
			}
			check(fmt.Sprintf("title of panel %d", p.ID), p.Title)
			if p.Repeat != "" {
				v, ok := defined[p.Repeat]
				if !ok || (!v.Multi && !v.IncludeAll) {
					t.Errorf("%s: panel %d %q repeats over %q, which is not a multi-value variable", d.File, p.ID, p.Title, p.Repeat)
				}
			}
		})
		for _, a := range d.Annotations.List {
			check(fmt.Sprintf("annotation %q", a.Name), a.Expr)
		}
	}
}

// allValues gives every variable of the dashboards the value ".*".
func allValues(ds []grafana.Dashboard) map[string]string {
	values := map[string]string{}
	for _, d := range ds {
		for _, v := range d.Templating.List {
			values[v.Name] = ".*"
		}
	}
	return values
}

func TestQueries(t *testing.T) {
	ds := dashboards(t)
	qs, err := grafana.Queries(dashboardFS, allValues(ds))
	if err != nil {
		t.Fatal(err)
	}
	exposed, err := metricnames.Exposed()
	if err != nil {
		t.Fatal(err)
	}
	recorded := recordedNames(t)
	perFile := map[string]int{}
	var classicHeatmap, nativeHeatmap bool
	for _, q := range qs {
		perFile[q.File]++
		if strings.Contains(q.Expr, "$") || strings.Contains(q.Expr, "[[") {
			t.Errorf("%s %q: variable left in %q", q.File, q.Panel, q.Expr)
		}
		for _, n := range metricnames.Selected(q.Expr) {
			if !exposed[n] && !recorded[n] && !prometheusSeries[n] {
				t.Errorf("%s %q: %s is neither exposed by the collector (collector/testdata/*.prom) nor recorded by %s", q.File, q.Panel, n, rulesFile)
			}
			if strings.HasPrefix(n, "connectivity_") && !strings.Contains(q.Raw, `job="connectivity"`) {
				t.Errorf("%s %q: selects %s without job=\"connectivity\"", q.File, q.Panel, n)
			}
		}
		if q.Format == "heatmap" && strings.Contains(q.Expr, "_bucket") && strings.Contains(q.Expr, "by (le)") {
			classicHeatmap = true
		}
		if q.Native && strings.HasPrefix(q.Expr, "sum(rate(") {
			nativeHeatmap = true
		}
	}
	for _, d := range ds {
		if perFile[d.File] == 0 {
			t.Errorf("%s: no query listed", d.File)
		}
		for _, v := range d.Templating.List {
			for _, n := range metricnames.Selected(v.QueryString()) {
				if !exposed[n] {
					t.Errorf("%s: variable %q: %s is not exposed by the collector (collector/testdata/*.prom)", d.File, v.Name, n)
				}
			}
		}
	}
	if !classicHeatmap || !nativeHeatmap {
		t.Errorf("want heatmaps from classic buckets (%v) and from native histograms (%v)", classicHeatmap, nativeHeatmap)
	}

	// A variable without a value is an error, not a silent pass-through.
	if _, err := grafana.Queries(dashboardFS, map[string]string{"source": "node-1"}); err == nil {
		t.Error("Queries with values missing: no error")
	}
}

func recordedNames(t *testing.T) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Groups []struct {
			Rules []struct {
				Record string `yaml:"record"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			if r.Record != "" {
				names[r.Record] = true
			}
		}
	}
	return names
}

var ruleName = regexp.MustCompile(`[^a-z0-9_]+`)

// Every query parses as PromQL: promtool checks them as recording rules.
func TestQueriesParse(t *testing.T) {
	promtool := testbin.NeedTool(t, "promtool", testbin.BuildPrometheus+"; it checks that the dashboards' queries parse")
	ds := dashboards(t)
	qs, err := grafana.Queries(dashboardFS, allValues(ds))
	if err != nil {
		t.Fatal(err)
	}
	type rule struct {
		Record string `yaml:"record"`
		Expr   string `yaml:"expr"`
	}
	type group struct {
		Name  string `yaml:"name"`
		Rules []rule `yaml:"rules"`
	}
	var groups []group
	where := map[string]string{}
	for _, d := range ds {
		g := group{Name: d.File}
		for i, q := range qs {
			if q.File != d.File {
				continue
			}
			name := fmt.Sprintf("dashboard_query_%d_%s", i, strings.Trim(ruleName.ReplaceAllString(strings.ToLower(q.Panel+"_"+q.RefID), "_"), "_"))
			where[name] = fmt.Sprintf("%s panel %q %s: %s", q.File, q.Panel, q.RefID, q.Expr)
			g.Rules = append(g.Rules, rule{Record: name, Expr: q.Expr})
		}
		groups = append(groups, g)
	}
	b, err := yaml.Marshal(map[string]any{"groups": groups})
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "dashboard-queries.yml")
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(promtool, "check", "rules", file)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		msg := out.String()
		for name, w := range where {
			if strings.Contains(msg, name) {
				msg += "\n" + name + " = " + w
			}
		}
		t.Fatalf("promtool check rules on the dashboards' queries: %v\n%s", err, msg)
	}
}
