package cluster

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// prometheusRBAC is what deploy/kubernetes/prometheus-scrape.yml says a
// Prometheus needs for its job, and no more: get, list and watch on pods.
const prometheusRBAC = `apiVersion: v1
kind: ServiceAccount
metadata:
  name: cx-test-prometheus
  namespace: default
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: cx-test-prometheus
rules:
  - apiGroups: [""]
    resources: [pods]
    verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: cx-test-prometheus
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: cx-test-prometheus
subjects:
  - kind: ServiceAccount
    name: cx-test-prometheus
    namespace: default
`

// prometheusKubeconfig gives Prometheus its own service account with the
// RBAC the scrape config documents, and writes into dir a kubeconfig with
// a token of it; undo deletes the account and its role.
func (c *Cluster) prometheusKubeconfig(dir string) (path string, undo func(), err error) {
	if _, err := c.KubectlStdin([]byte(prometheusRBAC), "apply", "-f", "-"); err != nil {
		return "", nil, err
	}
	undo = func() { _, _ = c.KubectlStdin([]byte(prometheusRBAC), "delete", "--ignore-not-found", "-f", "-") }
	token, err := c.Kubectl("create", "token", "cx-test-prometheus", "-n", "default", "--duration=24h")
	if err != nil {
		undo()
		return "", nil, err
	}
	path = filepath.Join(dir, "prometheus.kubeconfig")
	if err := os.WriteFile(path, []byte(kubeconfig(c.APIServerURL(), c.pki.path("ca.crt"), strings.TrimSpace(token))), 0o600); err != nil {
		undo()
		return "", nil, fmt.Errorf("prometheus kubeconfig: %w", err)
	}
	return path, undo, nil
}
