package collector

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/connectivity-exporter/connectivity_exporter/prober"
)

// flowStatuses are the statuses of connectivity_flows: a flow failing past
// the threshold, one whose latest probes answer, one never probed yet.
var flowStatuses = [...]string{"ok", "failing", "unknown"}

// flowsCollector builds the flows' gauges (--probe.flows above 1) from the
// results store at scrape time. Flow identities are never labels (the
// admin API says which flows fail): per path a count, in aggregate counts
// by status, so the series stay bounded by paths, not flows.
type flowsCollector struct {
	states  StateSource
	mode    func() PerPeerMode
	failing *prometheus.Desc
	flows   *prometheus.Desc
	partial *prometheus.Desc
}

func newFlowsCollector(src prometheus.Labels, states StateSource, mode func() PerPeerMode) *flowsCollector {
	aggLabels := []string{"path", "protocol", "family"}
	return &flowsCollector{
		states: states,
		mode:   mode,
		failing: prometheus.NewDesc(namespace+"_peer_flows_failing",
			"Flows of the path to the peer that failed failure-threshold times in a row (of connectivity_probe_flows; IPv4 ICMP paths have one flow and no series); above 0 while the path answers on other flows, it is partial: a member of an equal-cost group drops.",
			[]string{"peer", "path", "protocol", "family"}, src),
		flows: prometheus.NewDesc(namespace+"_flows",
			"Flows of the paths to all peers by status: ok (the latest probes answer), failing (failure-threshold failures in a row), unknown (not probed yet).",
			append(aggLabels, "status"), src),
		partial: prometheus.NewDesc(namespace+"_partial_peers",
			"Paths to peers that are partial: some flows fail past the threshold while others answer.",
			aggLabels, src),
	}
}

func (c *flowsCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.failing
	ch <- c.flows
	ch <- c.partial
}

type flowCounts struct {
	byStatus [len(flowStatuses)]int
	partial  int
}

func (c *flowsCollector) Collect(ch chan<- prometheus.Metric) {
	mode := c.mode()
	counts := map[mtuKey]*flowCounts{}
	for _, st := range c.states.Snapshot() {
		fl := st.Flows
		if fl.Count == 0 {
			continue // probed without flows
		}
		fam := prober.FamilyOf(st.IP)
		k := mtuKey{st.Path, st.Protocol, fam}
		if counts[k] == nil {
			counts[k] = &flowCounts{}
		}
		kc := counts[k]
		failing := len(fl.Failing)
		kc.byStatus[0] += fl.Probed - failing
		kc.byStatus[1] += failing
		kc.byStatus[2] += fl.Count - fl.Probed
		if st.Partial() {
			kc.partial++
		}
		if mode == PerPeerNone || (mode == PerPeerFailing && !st.Failing()) {
			continue
		}
		ch <- prometheus.MustNewConstMetric(c.failing, prometheus.GaugeValue, float64(failing), st.Peer, string(st.Path), string(st.Protocol), string(fam))
	}
	for k, kc := range counts {
		labels := []string{string(k.path), string(k.proto), string(k.family)}
		for i, s := range flowStatuses {
			ch <- prometheus.MustNewConstMetric(c.flows, prometheus.GaugeValue, float64(kc.byStatus[i]), append(labels, s)...)
		}
		ch <- prometheus.MustNewConstMetric(c.partial, prometheus.GaugeValue, float64(kc.partial), labels...)
	}
}

// flowsGauge is the configured --probe.flows, so that rules and
// dashboards know how many flows a path has.
func flowsGauge(src prometheus.Labels, flows int) prometheus.Collector {
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace, Name: "probe_flows", ConstLabels: src,
		Help: "The configured --probe.flows: each path is probed over this many sticky flows, one per interval in rotation (IPv4 ICMP paths over one).",
	})
	g.Set(float64(flows))
	return g
}
