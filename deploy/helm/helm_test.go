// Package helm holds no code: its tests check the Helm chart beside them
// with the helm pinned in tools/helm/go.mod (lint, template), and that the
// chart with its default values renders what deploy/kubernetes holds.
// test/kubeapi applies the rendered chart to a real API server.
package helm

import (
	"bytes"
	"errors"
	"io"
	"testing"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/connectivity-exporter/connectivity_exporter/test/testbin"
)

// Where the chart is, and how its default release is installed: the
// names deploy/kubernetes uses.
const (
	releaseName = "connectivity-exporter"
	namespace   = "connectivity-exporter"
)

func chartDir() string { return testbin.HelmChart() }

func helm(t *testing.T, args ...string) ([]byte, error) {
	t.Helper()
	return testbin.Helm(t, args...)
}

// render is `helm template` of the chart with these --set-json values
// (key=JSON), as the default release.
func render(t *testing.T, values ...string) ([]object, error) {
	t.Helper()
	args := []string{"template", releaseName, chartDir(), "--namespace", namespace}
	for _, v := range values {
		args = append(args, "--set-json", v)
	}
	out, err := helm(t, args...)
	if err != nil {
		return nil, err
	}
	return decodeAll(t, "helm template", out), nil
}

func mustRender(t *testing.T, values ...string) []object {
	t.Helper()
	objs, err := render(t, values...)
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

// object is one Kubernetes object as decoded from YAML.
type object map[string]any

func (o object) kind() string { s, _ := o["kind"].(string); return s }

func (o object) name() string { return str(o, "metadata", "name") }

func (o object) label(key string) string { return str(o, "metadata", "labels", key) }

// get walks nested maps along path; nil when a step is missing.
func get(v any, path ...string) any {
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			if o, isObj := v.(object); isObj {
				m = o
			} else {
				return nil
			}
		}
		v = m[p]
	}
	return v
}

func str(v any, path ...string) string { s, _ := get(v, path...).(string); return s }

// decodeAll decodes a YAML stream into its objects, leaving out empty
// documents.
func decodeAll(t *testing.T, where string, data []byte) []object {
	t.Helper()
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var out []object
	for {
		var o map[string]any
		err := dec.Decode(&o)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("%s: %v", where, err)
		}
		if o != nil {
			out = append(out, o)
		}
	}
}

// byKindAndName finds the one object of kind whose app.kubernetes.io/name
// label is name ("" for any).
func find(objs []object, kind, name string) []object {
	var out []object
	for _, o := range objs {
		if o.kind() == kind && (name == "" || o.label("app.kubernetes.io/name") == name) {
			out = append(out, o)
		}
	}
	return out
}

func TestLint(t *testing.T) {
	for _, tc := range []struct {
		name   string
		values []string
	}{
		{"defaults", nil},
		{"everything on", []string{`podMonitor.enabled=true`, `serviceMonitor.enabled=true`, `prometheusRule.enabled=true`,
			`webConfig.config={"basic_auth_users":{"prometheus":"$2y$10$x"}}`}},
		{"health pods and priority class off", []string{`healthPods.enabled=false`, `priorityClass.create=false`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			args := []string{"lint", "--strict", chartDir()}
			for _, v := range tc.values {
				args = append(args, "--set-json", v)
			}
			out, err := helm(t, args...)
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
		})
	}
}
