package collector

import (
	"maps"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/version"
)

// BuildInfo is what connectivity_build_info and
// connectivity_exporter_build_info report.
type BuildInfo struct {
	Version, Revision, GoVersion string
	// Only in connectivity_exporter_build_info, as Prometheus' own
	// exporters have them.
	Branch, GoOS, GoArch, Tags string
}

// CurrentBuildInfo is this binary's, from prometheus/common/version: what
// make's ldflags stamped, or the module build info of a plain go build.
func CurrentBuildInfo() BuildInfo {
	return BuildInfo{
		Version: version.Version, Revision: version.GetRevision(), GoVersion: version.GoVersion,
		Branch: version.Branch, GoOS: version.GoOS, GoArch: version.GoArch, Tags: version.GetTags(),
	}
}

func newBuildInfoCollector(src prometheus.Labels, b BuildInfo) prometheus.Collector {
	labels := prometheus.Labels{"version": b.Version, "revision": b.Revision, "goversion": b.GoVersion}
	maps.Copy(labels, src)
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace, Name: "build_info", Help: "A metric with a constant '1' value labeled by the exporter's version, revision and Go version.",
		ConstLabels: labels,
	})
	g.Set(1)
	return g
}

// exporterProgram names connectivity_exporter_build_info.
const exporterProgram = "connectivity_exporter"

// newExporterBuildInfoCollector is connectivity_exporter_build_info, the
// series every Prometheus exporter has: what client_golang's
// collectors/version.NewCollector(exporterProgram,
// WithExtraConstLabels(src)) exports, for dashboards and inventories made
// for <program>_build_info. src adds source and source_zone, which every
// connectivity_* series carries. connectivity_build_info stays beside it,
// as the rules and dashboards read it.
func newExporterBuildInfoCollector(src prometheus.Labels, b BuildInfo) prometheus.Collector {
	labels := prometheus.Labels{
		"version": b.Version, "revision": b.Revision, "branch": b.Branch, "goversion": b.GoVersion,
		"goos": b.GoOS, "goarch": b.GoArch, "tags": b.Tags,
	}
	maps.Copy(labels, src)
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: exporterProgram, Name: "build_info",
		Help:        "A metric with a constant '1' value labeled by version, revision, branch, goversion from which " + exporterProgram + " was built, and the goos and goarch for the build.",
		ConstLabels: labels,
	})
	g.Set(1)
	return g
}

// configGauges export the probe interval and timeout, so that rules can
// tell an overrunning sweep from a normal one, and --probe.peers, so that
// they know how many nodes probe a given node.
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
	peers := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace, Name: "probe_peers", ConstLabels: src,
		Help: "The configured --probe.peers: how many peers besides itself this node probes; 0 probes every node.",
	})
	peers.Set(float64(o.PeerLimit))
	mtuEvery := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace, Name: "probe_mtu_every", ConstLabels: src,
		Help: "How many probe intervals apart a path's full-size probes are, from --probe.mtu.every (a duration is rounded down to whole intervals); 0 when full-size probes are off.",
	})
	mtuEvery.Set(float64(o.MTUEvery))
	return []prometheus.Collector{interval, timeout, peers, mtuEvery}
}
