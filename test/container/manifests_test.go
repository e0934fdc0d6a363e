package container

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/connectivity-exporter/connectivity_exporter/test/testbin"
)

// daemonSets reads every DaemonSet in deploy/kubernetes/*.yaml: the
// exporter's runs on the host network, the health pods' on the pod network.
func daemonSets(t *testing.T) (exporter appsv1.DaemonSet, health *appsv1.DaemonSet) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(testbin.RepoRoot(), "deploy", "kubernetes", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var exporters []appsv1.DaemonSet
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(data), -1) {
			var kind struct{ Kind string }
			if err := yaml.Unmarshal([]byte(doc), &kind); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if kind.Kind != "DaemonSet" {
				continue
			}
			var ds appsv1.DaemonSet
			if err := yaml.UnmarshalStrict([]byte(doc), &ds); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if len(ds.Spec.Template.Spec.Containers) != 1 {
				t.Fatalf("%s: DaemonSet %s has %d containers; the test runs one per DaemonSet", f, ds.Name, len(ds.Spec.Template.Spec.Containers))
			}
			if ds.Spec.Template.Spec.HostNetwork {
				exporters = append(exporters, ds)
			} else if health != nil {
				t.Fatalf("%s: a second DaemonSet on the pod network (%s, and %s before)", f, ds.Name, health.Name)
			} else {
				health = &ds
			}
		}
	}
	if len(exporters) != 1 {
		t.Fatalf("deploy/kubernetes: %d DaemonSets on the host network, want the exporter's only", len(exporters))
	}
	return exporters[0], health
}

// expectedHealthDaemonSet stands in for the health pods' DaemonSet until
// deploy/kubernetes/ has one: the shape it is to have (the hello command,
// uid 65534, read-only root, no capability).
func expectedHealthDaemonSet() appsv1.DaemonSet {
	uid, yes, no := int64(65534), true, false
	var ds appsv1.DaemonSet
	ds.Name = "connectivity-exporter-health (expected shape, not in deploy/kubernetes yet)"
	ds.Spec.Template.Spec.Containers = []corev1.Container{{
		Name: "health",
		Args: []string{"hello"},
		SecurityContext: &corev1.SecurityContext{
			RunAsUser:                &uid,
			RunAsNonRoot:             &yes,
			ReadOnlyRootFilesystem:   &yes,
			AllowPrivilegeEscalation: &no,
			Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
			SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		},
	}}
	return ds
}

// containerArgs are the manifest container's args, checked to need nothing
// the lab does not give (no $(VAR) from the downward API, no command other
// than the image's entrypoint).
func containerArgs(c corev1.Container) ([]string, error) {
	if len(c.Command) > 0 {
		return nil, fmt.Errorf("container %s: command %q replaces the image's entrypoint; the test does not translate it", c.Name, c.Command)
	}
	for _, a := range c.Args {
		if strings.Contains(a, "$(") {
			return nil, fmt.Errorf("container %s: arg %q needs an environment variable the lab does not set", c.Name, a)
		}
	}
	return c.Args, nil
}
