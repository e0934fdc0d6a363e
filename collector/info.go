package collector

import (
	"github.com/prometheus/client_golang/prometheus"
)

// BuildInfo is what connectivity_build_info reports.
type BuildInfo struct {
	Version, Revision, GoVersion string
}

func newBuildInfoCollector(src prometheus.Labels, b BuildInfo) prometheus.Collector {
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace, Name: "build_info", Help: "A metric with a constant '1' value labeled by the exporter's version, revision and Go version.",
		ConstLabels: prometheus.Labels{"source": src["source"], "version": b.Version, "revision": b.Revision, "goversion": b.GoVersion},
	})
	g.Set(1)
	return g
}

// configGauges export the probe interval and timeout, so that rules can
// tell an overrunning sweep from a normal one.
func configGauges(src prometheus.Labels, o Options) []prometheus.Collector {
	interval := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace, Name: "probe_interval_seconds", ConstLabels: src,
		Help: "The configured probe interval: each path of each peer is probed once per interval.",
	})
	interval.Set(o.Interval.Seconds())
	timeout := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace, Name: "probe_timeout_seconds", ConstLabels: src,
		Help: "The configured deadline of one probe.",
	})
	timeout.Set(o.Timeout.Seconds())
	return []prometheus.Collector{interval, timeout}
}
