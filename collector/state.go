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
	zones     func() map[string]string // peer -> zone, of the probed peers
	reachable *prometheus.Desc
	peers     *prometheus.Desc
	zonePeers *prometheus.Desc
}

func newStateCollector(src prometheus.Labels, states StateSource, mode func() PerPeerMode, zones func() map[string]string) *stateCollector {
	return &stateCollector{
		states: states,
		mode:   mode,
		zones:  zones,
		reachable: prometheus.NewDesc(namespace+"_peer_reachable",
			"1 if the path to the peer is reachable, 0 after failure-threshold consecutive failed probes; absent while unknown.",
			[]string{"peer", "path", "protocol"}, src),
		peers: prometheus.NewDesc(namespace+"_peers",
			"Paths to peers by status.",
			[]string{"path", "protocol", "status"}, src),
		zonePeers: prometheus.NewDesc(namespace+"_zone_peers",
			"Paths to the probed peers of one zone by status; the local node counts in its own zone.",
			[]string{"path", "protocol", "peer_zone", "status"}, src),
	}
}

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.reachable
	ch <- c.peers
	ch <- c.zonePeers
}

type pathKey struct {
	path  prober.Path
	proto prober.Protocol
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	mode := c.mode()
	peerZones := c.zones()
	counts := map[pathKey]map[prober.Status]int{}
	for _, path := range []prober.Path{prober.PathHost, prober.PathEndpoint} {
		for _, proto := range []prober.Protocol{prober.ProtocolICMP, prober.ProtocolHTTP} {
			counts[pathKey{path, proto}] = map[prober.Status]int{}
		}
	}
	zoneCounts := map[string]*zoneStatusCounts{}
	for _, z := range peerZones {
		if zoneCounts[z] == nil {
			zoneCounts[z] = &zoneStatusCounts{}
		}
	}
	for _, st := range c.states.Snapshot() {
		counts[pathKey{st.Path, st.Protocol}][st.Status]++
		if z, ok := peerZones[st.Peer]; ok {
			zoneCounts[z][pathIndex(st.Path)][protocolIndex(st.Protocol)][statusIndex(st.Status)]++
		}
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
	for z, zc := range zoneCounts {
		for _, path := range []prober.Path{prober.PathHost, prober.PathEndpoint} {
			for _, proto := range []prober.Protocol{prober.ProtocolICMP, prober.ProtocolHTTP} {
				for i, s := range prober.Statuses {
					n := zc[pathIndex(path)][protocolIndex(proto)][i]
					ch <- prometheus.MustNewConstMetric(c.zonePeers, prometheus.GaugeValue, float64(n), string(path), string(proto), z, string(s))
				}
			}
		}
	}
}

// zoneStatusCounts counts the paths of one zone by path, protocol and
// status (in the order of prober.Statuses).
type zoneStatusCounts [2][2][len(prober.Statuses)]int

func statusIndex(s prober.Status) int {
	for i, x := range prober.Statuses {
		if x == s {
			return i
		}
	}
	return len(prober.Statuses) - 1 // unknown
}
