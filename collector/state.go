package collector

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/connectivity-exporter/connectivity_exporter/prober"
)

// stateCollector builds the reachability gauges from the results store at
// scrape time, so that they can never disagree with it.
type stateCollector struct {
	states    StateSource
	mode      func() PerPeerMode
	reachable *prometheus.Desc
	peers     *prometheus.Desc
}

func newStateCollector(src prometheus.Labels, states StateSource, mode func() PerPeerMode) *stateCollector {
	return &stateCollector{
		states: states,
		mode:   mode,
		reachable: prometheus.NewDesc(namespace+"_peer_reachable",
			"1 if the path to the peer is reachable, 0 after failure-threshold consecutive failed probes; absent while unknown.",
			[]string{"peer", "path", "protocol"}, src),
		peers: prometheus.NewDesc(namespace+"_peers",
			"Paths to peers by status.",
			[]string{"path", "protocol", "status"}, src),
	}
}

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.reachable
	ch <- c.peers
}

type pathKey struct {
	path  prober.Path
	proto prober.Protocol
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	mode := c.mode()
	counts := map[pathKey]map[prober.Status]int{}
	for _, path := range []prober.Path{prober.PathHost, prober.PathEndpoint} {
		for _, proto := range []prober.Protocol{prober.ProtocolICMP, prober.ProtocolHTTP} {
			counts[pathKey{path, proto}] = map[prober.Status]int{}
		}
	}
	for _, st := range c.states.Snapshot() {
		counts[pathKey{st.Path, st.Protocol}][st.Status]++
		if st.Status == prober.StatusUnknown || mode == PerPeerNone || (mode == PerPeerFailing && !st.Failing()) {
			continue
		}
		v := 0.0
		if st.Status == prober.StatusReachable {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(c.reachable, prometheus.GaugeValue, v, st.Peer, string(st.Path), string(st.Protocol))
	}
	for k, byStatus := range counts {
		for _, s := range prober.Statuses {
			ch <- prometheus.MustNewConstMetric(c.peers, prometheus.GaugeValue, float64(byStatus[s]), string(k.path), string(k.proto), string(s))
		}
	}
}
