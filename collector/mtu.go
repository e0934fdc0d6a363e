package collector

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/connectivity-exporter/connectivity_exporter/prober"
)

// mtuCollector builds the full-size probes' gauges from the results store
// at scrape time, like stateCollector the reachability gauges.
type mtuCollector struct {
	states  StateSource
	mode    func() PerPeerMode
	status  *prometheus.Desc
	pathMTU *prometheus.Desc
	peers   *prometheus.Desc
	// holeFlows exists only while a path probed over flows is a black
	// hole: a count per path, no flow label (cardinality).
	holeFlows *prometheus.Desc
}

func newMTUCollector(src prometheus.Labels, states StateSource, mode func() PerPeerMode) *mtuCollector {
	peerLabels := []string{"peer", "path", "protocol", "family"}
	return &mtuCollector{
		states: states,
		mode:   mode,
		status: prometheus.NewDesc(namespace+"_peer_mtu_status",
			"1 for what the full-size probes of the path to the peer found: ok (full-size packets get through), blackhole (small probes succeed, full-size ones are lost), reduced (a smaller path MTU, learned by path MTU discovery: information, not an outage); absent while unknown.",
			append(peerLabels, "status"), src),
		pathMTU: prometheus.NewDesc(namespace+"_peer_path_mtu_bytes",
			"The path MTU to the peer that full-size probes found: the expected MTU when they get through, the smaller learned one when reduced; absent otherwise.",
			peerLabels, src),
		holeFlows: prometheus.NewDesc(namespace+"_peer_mtu_blackhole_flows",
			"How many flows of a path probed over flows lose their full-size probes twice in a row while their small probes answer (a member of an equal-cost group dropping large packets, or every flow probed at full size since a black hole of the whole path opened); present only while the path is an MTU black hole.",
			peerLabels, src),
		peers: prometheus.NewDesc(namespace+"_mtu_peers",
			"Paths to peers by what their full-size probes found (ok, blackhole, reduced, unknown).",
			[]string{"path", "protocol", "family", "status"}, src),
	}
}

func (c *mtuCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.status
	ch <- c.pathMTU
	ch <- c.holeFlows
	ch <- c.peers
}

type mtuKey struct {
	path   prober.Path
	proto  prober.Protocol
	family prober.Family
}

func (c *mtuCollector) Collect(ch chan<- prometheus.Metric) {
	mode := c.mode()
	counts := map[mtuKey]*[len(prober.MTUStatuses)]int{}
	for _, st := range c.states.Snapshot() {
		fam := prober.FamilyOf(st.IP)
		k := mtuKey{st.Path, st.Protocol, fam}
		if counts[k] == nil {
			counts[k] = &[len(prober.MTUStatuses)]int{}
		}
		counts[k][mtuStatusIndex(st.MTU.Status)]++
		if !wantMTUPerPeer(mode, st.MTU.Status) {
			continue
		}
		labels := []string{st.Peer, string(st.Path), string(st.Protocol), string(fam)}
		ch <- prometheus.MustNewConstMetric(c.status, prometheus.GaugeValue, 1, append(labels, string(st.MTU.Status))...)
		if st.MTU.PathMTU > 0 {
			ch <- prometheus.MustNewConstMetric(c.pathMTU, prometheus.GaugeValue, float64(st.MTU.PathMTU), labels...)
		}
		if st.MTU.Status == prober.MTUStatusBlackhole && st.MTU.BlackholeFlows > 0 {
			ch <- prometheus.MustNewConstMetric(c.holeFlows, prometheus.GaugeValue, float64(st.MTU.BlackholeFlows), labels...)
		}
	}
	for k, byStatus := range counts {
		for i, s := range prober.MTUStatuses {
			ch <- prometheus.MustNewConstMetric(c.peers, prometheus.GaugeValue, float64(byStatus[i]), string(k.path), string(k.proto), string(k.family), string(s))
		}
	}
}

// wantMTUPerPeer: per-peer MTU series for every known verdict in "all"
// mode, and in "failing" mode for the paths whose verdict needs a look (a
// black hole, or a reduced MTU whose value matters).
func wantMTUPerPeer(mode PerPeerMode, s prober.MTUStatus) bool {
	switch {
	case s == prober.MTUStatusUnknown || s == "":
		return false
	case mode == PerPeerAll:
		return true
	case mode == PerPeerFailing:
		return s == prober.MTUStatusBlackhole || s == prober.MTUStatusReduced
	}
	return false
}

func mtuStatusIndex(s prober.MTUStatus) int {
	for i, x := range prober.MTUStatuses {
		if x == s {
			return i
		}
	}
	return len(prober.MTUStatuses) - 1 // unknown
}

// mtuProbeCounters counts full-size probes by path, protocol, family and
// result; each family's series are made on its first probe, all results
// at once, so that their rates start from zero.
type mtuProbeCounters struct {
	vec *prometheus.CounterVec
	// byFamily is guarded by Metrics.mu.
	byFamily map[prober.Family]*[2][2][len(prober.MTUResults)]prometheus.Counter
}

func newMTUProbeCounters(src prometheus.Labels) *mtuProbeCounters {
	return &mtuProbeCounters{
		vec: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "mtu_probes_total", ConstLabels: src,
			Help: "Full-size probes sent to all peers, by result: ok, lost (no answer, nothing said too big), too_big (refused with a smaller path MTU) or error.",
		}, []string{"path", "protocol", "family", "result"}),
		byFamily: map[prober.Family]*[2][2][len(prober.MTUResults)]prometheus.Counter{},
	}
}

func (c *mtuProbeCounters) counterLocked(t prober.Target, r prober.MTUResult) prometheus.Counter {
	fam := prober.FamilyOf(t.IP)
	set := c.byFamily[fam]
	if set == nil {
		set = &[2][2][len(prober.MTUResults)]prometheus.Counter{}
		for _, path := range []prober.Path{prober.PathHost, prober.PathEndpoint} {
			for _, proto := range []prober.Protocol{prober.ProtocolICMP, prober.ProtocolHTTP} {
				for i, res := range prober.MTUResults {
					set[pathIndex(path)][protocolIndex(proto)][i] = c.vec.WithLabelValues(string(path), string(proto), string(fam), string(res))
				}
			}
		}
		c.byFamily[fam] = set
	}
	ri := len(prober.MTUResults) - 1 // unknown results count as errors
	for i, x := range prober.MTUResults {
		if x == r {
			ri = i
		}
	}
	return set[pathIndex(t.Path)][protocolIndex(t.Protocol)][ri]
}

// MTUProbeDone records one full-size probe (prober.Observer).
func (m *Metrics) MTUProbeDone(st prober.PathState, o prober.MTUOutcome) {
	m.mu.Lock()
	c := m.mtuProbes.counterLocked(st.Target, o.Result)
	m.mu.Unlock()
	c.Inc()
}
