package helm

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/connectivity-exporter/connectivity_exporter/test/testbin"
)

// The labels Helm and kustomize set differently by nature: who manages the
// object, and the chart's own version.
var toolLabels = []string{"app.kubernetes.io/managed-by", "helm.sh/chart"}

// kustomizeObjects is every object of deploy/kubernetes/*.yaml as written
// (kustomization.yaml adds the namespace; manifests_test.go checks that).
func kustomizeObjects(t *testing.T) []object {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(testbin.RepoRoot(), "deploy", "kubernetes", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var out []object
	for _, f := range files {
		if filepath.Base(f) == "kustomization.yaml" {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, decodeAll(t, f, data)...)
	}
	return out
}

// driftKey names an object the same way on both sides: its kind and its
// app.kubernetes.io/name (the two DaemonSets differ by it).
func driftKey(o object) string {
	return o.kind() + " " + o.label("app.kubernetes.io/name")
}

// normalize removes from a copy of o what legitimately differs between
// the chart and kustomize: the namespace (Helm sets it, kustomize adds it
// at build), the labels of the tool, the health DaemonSet's name (Helm
// derives it from the release), and, on the chart's side only, the
// release's instance label in selectors (a selector is immutable, so
// deploy/kubernetes keeps selecting by name alone) and the namespace of
// binding subjects.
func normalize(o object, chart bool) map[string]any {
	c := deepCopy(map[string]any(o)).(map[string]any)
	meta, _ := c["metadata"].(map[string]any)
	delete(meta, "namespace")
	if c["kind"] == "DaemonSet" && o.label("app.kubernetes.io/component") == "health" {
		delete(meta, "name")
	}
	for _, labels := range []any{get(c, "metadata", "labels"), get(c, "spec", "template", "metadata", "labels")} {
		if m, ok := labels.(map[string]any); ok {
			for _, l := range toolLabels {
				delete(m, l)
			}
		}
	}
	if chart {
		sel := get(c, "spec", "selector", "matchLabels")
		if c["kind"] == "Service" {
			sel = get(c, "spec", "selector")
		}
		if m, ok := sel.(map[string]any); ok {
			delete(m, "app.kubernetes.io/instance")
		}
		if subjects, ok := c["subjects"].([]any); ok {
			for _, s := range subjects {
				delete(s.(map[string]any), "namespace")
			}
		}
	}
	return c
}

func deepCopy(v any) any {
	switch v := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, e := range v {
			m[k] = deepCopy(e)
		}
		return m
	case object:
		return deepCopy(map[string]any(v))
	case []any:
		s := make([]any, len(v))
		for i, e := range v {
			s[i] = deepCopy(e)
		}
		return s
	default:
		return v
	}
}

// diff lists the paths at which a and b differ.
func diff(path string, a, b any) []string {
	if reflect.DeepEqual(a, b) {
		return nil
	}
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if aok && bok {
		var out []string
		keys := slices.Collect(maps.Keys(am))
		for k := range bm {
			if _, ok := am[k]; !ok {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			out = append(out, diff(path+"."+k, am[k], bm[k])...)
		}
		return out
	}
	as, aok := a.([]any)
	bs, bok := b.([]any)
	if aok && bok && len(as) == len(bs) {
		var out []string
		for i := range as {
			out = append(out, diff(fmt.Sprintf("%s[%d]", path, i), as[i], bs[i])...)
		}
		return out
	}
	return []string{fmt.Sprintf("%s: chart %v, kustomize %v", path, a, b)}
}

// TestChartMatchesKustomize renders the chart with its default values
// (and the PodMonitor, which deploy/kubernetes ships as an option) and
// compares every object with its deploy/kubernetes twin field by field:
// the two cannot drift apart. Only the Namespace is kustomize's alone
// (helm install --create-namespace makes it); the ServiceMonitor,
// PrometheusRule, dashboards and web configuration are the chart's extras.
func TestChartMatchesKustomize(t *testing.T) {
	chart := map[string]object{}
	chartOnly := map[string]bool{}
	for _, o := range mustRender(t, `podMonitor.enabled=true`) {
		switch o.kind() {
		case "ConfigMap", "ServiceMonitor", "PrometheusRule", "Secret":
			continue // the chart's extras
		}
		k := driftKey(o)
		if _, dup := chart[k]; dup {
			t.Fatalf("the chart renders two objects keyed %q", k)
		}
		chart[k] = o
		chartOnly[k] = true
	}
	compared := 0
	for _, k := range kustomizeObjects(t) {
		key := driftKey(k)
		if k.kind() == "Namespace" {
			continue
		}
		c, ok := chart[key]
		if !ok {
			t.Errorf("%s of deploy/kubernetes is not in the chart", key)
			continue
		}
		delete(chartOnly, key)
		compared++
		if d := diff(key, normalize(c, true), normalize(k, false)); len(d) > 0 {
			t.Errorf("the chart and deploy/kubernetes differ:\n  %s", strings.Join(d, "\n  "))
		}
	}
	for k := range chartOnly {
		t.Errorf("%s is in the chart but not in deploy/kubernetes", k)
	}
	if compared < 10 {
		t.Errorf("compared %d objects, want the 10 of deploy/kubernetes but its Namespace", compared)
	}
}

// TestChartSelectsItsRelease: the chart's selectors hold the release, so
// that its DaemonSets, Service and monitors select its own pods only.
func TestChartSelectsItsRelease(t *testing.T) {
	objs := mustRender(t, `podMonitor.enabled=true`, `serviceMonitor.enabled=true`)
	for _, o := range objs {
		var sel any
		switch o.kind() {
		case "DaemonSet", "PodMonitor", "ServiceMonitor":
			sel = get(o, "spec", "selector", "matchLabels")
		case "Service":
			sel = get(o, "spec", "selector")
		default:
			continue
		}
		if str(sel, "app.kubernetes.io/instance") != releaseName {
			t.Errorf("%s %s selects %v, want app.kubernetes.io/instance=%s among them", o.kind(), o.name(), sel, releaseName)
		}
		if o.kind() == "DaemonSet" {
			labels, _ := get(o, "spec", "template", "metadata", "labels").(map[string]any)
			for k, v := range sel.(map[string]any) {
				if labels[k] != v {
					t.Errorf("DaemonSet %s: selector %s=%v does not match its pods' labels %v", o.name(), k, v, labels)
				}
			}
		}
	}
}
