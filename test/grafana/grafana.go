// Package grafana reads Grafana dashboards (the JSON of dashboards/) and
// lists the PromQL queries they run, so that tests can check them: their
// variables and metric names, and their answers from a real Prometheus.
package grafana

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strings"

	"github.com/connectivity-exporter/connectivity_exporter/test/metricnames"
)

// Query is one PromQL query of a dashboard: a panel target or an annotation.
type Query struct {
	// File is the dashboard's file name in the FS given to Queries.
	File string
	// Dashboard is the dashboard's title, UID its uid.
	Dashboard, UID string
	// Panel is the panel's title with variables substituted; annotations
	// are named "annotation: <name>". PanelID is 0 for annotations.
	Panel   string
	PanelID int
	// RefID is the target's refId ("A", "B"...).
	RefID string
	// Expr is the query with variables substituted; Raw is as in the JSON.
	Expr, Raw string
	// Format is the target's format: time_series, heatmap or table.
	Format string
	// Instant is true for instant queries (tables), false for range queries.
	Instant bool
	// Native is true when the query reads a native histogram (an RTT
	// histogram without the _bucket suffix): it returns nothing unless
	// Prometheus ingests native histograms.
	Native bool
	// Recorded is true when the query reads a series recorded by
	// alerts/connectivity-rules.yml: it returns nothing unless Prometheus
	// loads those rules (examples/prometheus.yml does).
	Recorded bool
}

// Builtin holds the values Expand gives Grafana's global variables unless
// told otherwise.
var Builtin = map[string]string{
	"__rate_interval": "1m",
	"__interval":      "15s",
	"__interval_ms":   "15000",
	"__range":         "1h",
	"__range_s":       "3600",
	"__range_ms":      "3600000",
}

// variableRef matches ${name}, ${name:format}, $name and [[name]] (or
// [[name:format]]). A name starts with a letter or an underscore, so PromQL's
// "$1" in label_replace is left alone.
var variableRef = regexp.MustCompile(`\$\{([A-Za-z_]\w*)(?::[^}]*)?\}|\$([A-Za-z_]\w*)|\[\[([A-Za-z_]\w*)(?::[^\]]*)?\]\]`)

// VariableRefs returns the names of the variables s uses, sorted, each once.
func VariableRefs(s string) []string {
	seen := map[string]bool{}
	var names []string
	for _, m := range variableRef.FindAllStringSubmatch(s, -1) {
		name := m[1] + m[2] + m[3]
		if !seen[name] {
			seen[name] = true
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}

// Expand substitutes every variable of s with its value in values, else in
// Builtin. Values are inserted as they are: give a regular expression (".*",
// "node-1|node-2") where the dashboard matches with =~, a plain value where
// it matches with =. A variable without a value is an error.
func Expand(s string, values map[string]string) (string, error) {
	var missing []string
	out := variableRef.ReplaceAllStringFunc(s, func(ref string) string {
		m := variableRef.FindStringSubmatch(ref)
		name := m[1] + m[2] + m[3]
		if v, ok := values[name]; ok {
			return v
		}
		if v, ok := Builtin[name]; ok {
			return v
		}
		missing = append(missing, name)
		return ref
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("no value for variable(s) %s in %q", strings.Join(missing, ", "), s)
	}
	return out, nil
}

// Dashboard is the subset of Grafana's dashboard model that the tests read.
type Dashboard struct {
	// File is the dashboard's file name.
	File          string  `json:"-"`
	UID           string  `json:"uid"`
	Title         string  `json:"title"`
	SchemaVersion int     `json:"schemaVersion"`
	Panels        []Panel `json:"panels"`
	Templating    struct {
		List []Variable `json:"list"`
	} `json:"templating"`
	Annotations struct {
		List []Annotation `json:"list"`
	} `json:"annotations"`
}

// Datasource is a panel's, a target's, a variable's or an annotation's.
type Datasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

// Panel is a panel or a row.
type Panel struct {
	ID         int         `json:"id"`
	Type       string      `json:"type"`
	Title      string      `json:"title"`
	Repeat     string      `json:"repeat"`
	Datasource *Datasource `json:"datasource"`
	Targets    []Target    `json:"targets"`
	// Panels of a collapsed row.
	Panels []Panel `json:"panels"`
}

// Target is one query of a panel.
type Target struct {
	RefID      string      `json:"refId"`
	Expr       string      `json:"expr"`
	Format     string      `json:"format"`
	Instant    bool        `json:"instant"`
	Datasource *Datasource `json:"datasource"`
}

// Variable is a templating variable.
type Variable struct {
	Name       string      `json:"name"`
	Type       string      `json:"type"`
	Datasource *Datasource `json:"datasource"`
	// Query is a string for datasource and custom variables, an object with
	// a "query" string for Prometheus query variables in current Grafana.
	Query      json.RawMessage `json:"query"`
	Definition string          `json:"definition"`
	Multi      bool            `json:"multi"`
	IncludeAll bool            `json:"includeAll"`
}

// QueryString returns the variable's query whichever form it has.
func (v Variable) QueryString() string {
	var s string
	if json.Unmarshal(v.Query, &s) == nil {
		return s
	}
	var o struct {
		Query string `json:"query"`
	}
	if json.Unmarshal(v.Query, &o) == nil && o.Query != "" {
		return o.Query
	}
	return v.Definition
}

// Annotation is an annotation query.
type Annotation struct {
	Name       string      `json:"name"`
	Expr       string      `json:"expr"`
	Datasource *Datasource `json:"datasource"`
}

// Load reads every dashboard (*.json) of fsys, in file name order.
func Load(fsys fs.FS) ([]Dashboard, error) {
	names, err := fs.Glob(fsys, "*.json")
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("no dashboard (*.json) found")
	}
	sort.Strings(names)
	var ds []Dashboard
	for _, name := range names {
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		var d Dashboard
		if err := json.Unmarshal(b, &d); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		d.File = path.Base(name)
		ds = append(ds, d)
	}
	return ds, nil
}

// WalkPanels calls f for every panel, rows and the panels of collapsed rows included.
func WalkPanels(ps []Panel, f func(p Panel)) {
	for _, p := range ps {
		f(p)
		WalkPanels(p.Panels, f)
	}
}

// Queries lists every panel query and annotation query of the dashboards
// (*.json) in fsys, in file and panel order, with variables substituted by
// values (see Expand).
func Queries(fsys fs.FS, values map[string]string) ([]Query, error) {
	ds, err := Load(fsys)
	if err != nil {
		return nil, err
	}
	var qs []Query
	var errs []string
	add := func(d Dashboard, panel string, id int, refID, raw, format string, instant bool) {
		expr, err := Expand(raw, values)
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: panel %q %s: %v", d.File, panel, refID, err))
			return
		}
		title, err := Expand(panel, values)
		if err != nil {
			title = panel
		}
		qs = append(qs, Query{
			File: d.File, Dashboard: d.Title, UID: d.UID,
			Panel: title, PanelID: id, RefID: refID,
			Expr: expr, Raw: raw, Format: format, Instant: instant,
			Native: readsNativeHistogram(raw), Recorded: readsRecordedSeries(raw),
		})
	}
	for _, d := range ds {
		WalkPanels(d.Panels, func(p Panel) {
			for _, t := range p.Targets {
				if strings.TrimSpace(t.Expr) == "" {
					continue
				}
				format := t.Format
				if format == "" {
					format = "time_series"
				}
				add(d, p.Title, p.ID, t.RefID, t.Expr, format, t.Instant)
			}
		})
		for _, a := range d.Annotations.List {
			if strings.TrimSpace(a.Expr) != "" {
				add(d, "annotation: "+a.Name, 0, "", a.Expr, "time_series", false)
			}
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return qs, nil
}

func readsNativeHistogram(expr string) bool {
	for _, n := range metricnames.Selected(expr) {
		if n == "connectivity_rtt_seconds" || n == "connectivity_peer_rtt_seconds" || n == "connectivity_zone_rtt_seconds" {
			return true
		}
	}
	return false
}

func readsRecordedSeries(expr string) bool {
	for _, n := range metricnames.Selected(expr) {
		if strings.Contains(n, ":") {
			return true
		}
	}
	return false
}
