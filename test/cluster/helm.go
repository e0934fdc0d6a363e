package cluster

import (
	"fmt"
	"strings"
	"testing"

	"github.com/connectivity-exporter/connectivity_exporter/test/testbin"
)

// ChartManifests renders the Helm chart (deploy/helm/connectivity-exporter,
// with the helm pinned in tools/helm) as the release a user of this
// cluster would install: ExporterNamespace, the image's repository and
// tag, and the API server's address in the exporter's environment (no
// kube-proxy here, see WriteExporterOverlay). values are more --set-json
// key=JSON pairs. Apply the result with KubectlStdin; the namespace must
// exist (helm install --create-namespace would make it).
func (c *Cluster) ChartManifests(t testing.TB, values ...string) (string, error) {
	t.Helper()
	name, tag, _ := strings.Cut(c.ExporterImage, ":")
	env := fmt.Sprintf(`extraEnv=[{"name":"KUBERNETES_SERVICE_HOST","value":%q},{"name":"KUBERNETES_SERVICE_PORT","value":"%d"}]`,
		c.APIServerHost(), c.APIServerPort())
	args := []string{"template", "connectivity-exporter", testbin.HelmChart(), "--namespace", ExporterNamespace,
		"--set-json", fmt.Sprintf("image.repository=%q", name),
		"--set-json", fmt.Sprintf("image.tag=%q", tag),
		"--set-json", env}
	for _, v := range values {
		args = append(args, "--set-json", v)
	}
	out, err := testbin.Helm(t, args...)
	return string(out), err
}
