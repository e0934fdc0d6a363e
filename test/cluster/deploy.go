package cluster

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// ExporterNamespace is the namespace deploy/kubernetes installs into.
const ExporterNamespace = "connectivity-exporter"

// WriteExporterOverlay writes, into dir, the kustomize overlay a user of
// this cluster would write over deploy/kubernetes: the image's tag, and
// the API server's address for the exporter (this cluster has no
// kube-proxy, so the kubernetes Service's address leads nowhere).
func (c *Cluster) WriteExporterOverlay(dir string) error {
	base, err := filepath.Rel(dir, filepath.Join(RepoDir(), "deploy", "kubernetes"))
	if err != nil {
		return err
	}
	name, tag, _ := strings.Cut(c.ExporterImage, ":")
	kustomization := fmt.Sprintf(`apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - %s
images:
  - name: connectivity-exporter
    newName: %s
    newTag: %q
patches:
  - target:
      kind: DaemonSet
      name: connectivity-exporter
    patch: |-
      - op: add
        path: /spec/template/spec/containers/0/env/-
        value: {name: KUBERNETES_SERVICE_HOST, value: %q}
      - op: add
        path: /spec/template/spec/containers/0/env/-
        value: {name: KUBERNETES_SERVICE_PORT, value: "%d"}
`, base, name, tag, c.APIServerHost(), c.APIServerPort())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(kustomization), 0o644)
}

// KustomizeManifests renders the overlay (WriteExporterOverlay) with
// kubectl kustomize: what DeployExporter applies.
func (c *Cluster) KustomizeManifests() (string, error) {
	dir := filepath.Join(c.Dir, "overlay")
	if err := c.WriteExporterOverlay(dir); err != nil {
		return "", err
	}
	return c.Kubectl("kustomize", dir)
}

// DeployExporter renders the overlay with kubectl kustomize, applies it,
// and waits until both DaemonSets have a Ready pod on every node.
func (c *Cluster) DeployExporter(timeout time.Duration) error {
	manifests, err := c.KustomizeManifests()
	if err != nil {
		return err
	}
	if _, err := c.KubectlStdin([]byte(manifests), "apply", "-f", "-"); err != nil {
		return err
	}
	return c.WaitDaemonSets(ExporterNamespace, timeout, "connectivity-exporter", "connectivity-health")
}

// WaitDaemonSets waits until each DaemonSet is rolled out: a current,
// Ready pod on every node it schedules to.
func (c *Cluster) WaitDaemonSets(namespace string, timeout time.Duration, names ...string) error {
	want := len(c.Nodes())
	return c.waitFor("DaemonSets "+strings.Join(names, ", "), timeout, func() error {
		for _, name := range names {
			out, err := c.Kubectl("get", "daemonset", "-n", namespace, name, "-o",
				"jsonpath={.status.desiredNumberScheduled} {.status.numberReady} {.status.updatedNumberScheduled}")
			if err != nil {
				return err
			}
			var desired, ready, updated int
			if _, err := fmt.Sscan(out, &desired, &ready, &updated); err != nil {
				return fmt.Errorf("%s status %q: %w", name, out, err)
			}
			if desired != want || ready != want || updated != want {
				return fmt.Errorf("%s: %d desired, %d ready, %d updated of %d nodes", name, desired, ready, updated, want)
			}
		}
		return nil
	})
}
