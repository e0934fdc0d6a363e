package collector

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
)

// connectivity_exporter_build_info is what client_golang's version collector
// would export for this binary: the same name, help, labels and values, so
// that anything made for Prometheus' exporters reads it.
func TestExporterBuildInfoFollowsConvention(t *testing.T) {
	src := prometheus.Labels{"source": "node-1", "source_zone": "zone-a"}
	ours := descriptions(t, newExporterBuildInfoCollector(src, CurrentBuildInfo()))
	theirs := descriptions(t, versioncollector.NewCollector(exporterProgram, versioncollector.WithExtraConstLabels(src)))
	if len(ours) != 1 || len(theirs) != 1 || ours[0] != theirs[0] {
		t.Errorf("ours:\n%v\nclient_golang's:\n%v", ours, theirs)
	}
}

func descriptions(t *testing.T, c prometheus.Collector) []string {
	t.Helper()
	ch := make(chan *prometheus.Desc, 10)
	c.Describe(ch)
	close(ch)
	var out []string
	for d := range ch {
		out = append(out, d.String())
	}
	return out
}
