package manifests

import (
	"os/exec"
	"testing"

	"github.com/connectivity-exporter/connectivity_exporter/test/testbin"
)

// The scrape job for a plain Prometheus is valid for the pinned Prometheus 3
// (built with Kubernetes discovery): its native-histogram settings included.
func TestPrometheusScrapeConfigPassesPromtool(t *testing.T) {
	promtool := testbin.NeedTool(t, "promtool", testbin.BuildPrometheus)
	out, err := exec.Command(promtool, "check", "config", "--syntax-only", "prometheus-scrape.yml").CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check config prometheus-scrape.yml: %v\n%s", err, out)
	}
}
