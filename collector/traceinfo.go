package collector

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// TraceInfo is the latest trace of one failing flow, or of a path probed
// without flows (as its flow 0), for connectivity_path_trace_info.
type TraceInfo struct {
	Peer, Path, Protocol, Family string
	// Flow is the flow's index among its path's flows.
	Flow int
	// LastHop is the last address that answered ("" for none), at
	// LastHopTTL; Reached says whether the peer itself answered.
	LastHop    string
	LastHopTTL int
	Reached    bool
}

// traceInfoCollector exports connectivity_path_trace_info from a snapshot
// taken at each scrape: a series exists exactly while its flow fails and
// has a trace, and there are as many as the snapshot bounds (the daemon
// keeps 64 failing flows at most).
type traceInfoCollector struct {
	desc     *prometheus.Desc
	snapshot func() []TraceInfo
}

// NewTraceInfoCollector returns the collector of
// connectivity_path_trace_info{source,peer,path,protocol,family,flow,last_hop,last_hop_ttl,reached}
// over what snapshot returns. src are the labels every series carries
// (source, source_zone).
func NewTraceInfoCollector(src prometheus.Labels, snapshot func() []TraceInfo) prometheus.Collector {
	return &traceInfoCollector{
		desc: prometheus.NewDesc(prometheus.BuildFQName(namespace, "", "path_trace_info"),
			"1 for each flow of a path that fails past the failure threshold (flow 0 for a path probed without flows that is unreachable while its peer answers on another path), labelled by its latest trace: the last hop that answered (last_hop, at TTL last_hop_ttl; empty if none) and whether the peer was reached. Absent while the flow answers.",
			[]string{"peer", "path", "protocol", "family", "flow", "last_hop", "last_hop_ttl", "reached"}, src),
		snapshot: snapshot,
	}
}

// SourceLabels are the labels every series of a collector made with o
// carries, for collectors made outside New.
func (o Options) SourceLabels() prometheus.Labels { return o.constLabels() }

func (c *traceInfoCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *traceInfoCollector) Collect(ch chan<- prometheus.Metric) {
	for _, t := range c.snapshot() {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, 1,
			t.Peer, t.Path, t.Protocol, t.Family, strconv.Itoa(t.Flow), t.LastHop, strconv.Itoa(t.LastHopTTL), strconv.FormatBool(t.Reached))
	}
}
