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
	families  func() familySet         // of the plan
	reachable *prometheus.Desc
	peers     *prometheus.Desc
	zonePeers *prometheus.Desc
}

func newStateCollector(src prometheus.Labels, states StateSource, mode func() PerPeerMode, zones func() map[string]string, families func() familySet) *stateCollector {
	return &stateCollector{
		states:   states,
		mode:     mode,
		zones:    zones,
		families: families,
		reachable: prometheus.NewDesc(namespace+"_peer_reachable",
			"1 if the path to the peer is reachable, 0 after failure-threshold consecutive failed probes; absent while unknown.",
			[]string{"peer", "path", "protocol", "family"}, src),
		peers: prometheus.NewDesc(namespace+"_peers",
			"Paths to peers by status.",
			[]string{"path", "protocol", "family", "status"}, src),
		zonePeers: prometheus.NewDesc(namespace+"_zone_peers",
			"Paths to the probed peers of one zone by status; the local node counts in its own zone.",
			[]string{"path", "protocol", "family", "peer_zone", "status"}, src),
	}
}

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.reachable
	ch <- c.peers
	ch <- c.zonePeers
}

// Collect counts the paths of the families of the plan, and of any other
// family the store still has (a plan change in flight), so that every
// probed path is counted.
func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	mode := c.mode()
	peerZones := c.zones()
	families := c.families()
	var counts statusCounts
	zoneCounts := map[string]*statusCounts{}
	for _, z := range peerZones {
		if zoneCounts[z] == nil {
			zoneCounts[z] = &statusCounts{}
		}
	}
	for _, st := range c.states.Snapshot() {
		fi := familyIndex(st.Family())
		families[fi] = true
		counts[fi][pathIndex(st.Path)][protocolIndex(st.Protocol)][statusIndex(st.Status)]++
		if z, ok := peerZones[st.Peer]; ok {
			zoneCounts[z][fi][pathIndex(st.Path)][protocolIndex(st.Protocol)][statusIndex(st.Status)]++
		}
		if st.Status == prober.StatusUnknown || mode == PerPeerNone || (mode == PerPeerFailing && !st.Failing()) {
			continue
		}
		v := 0.0
		if st.Status == prober.StatusReachable {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(c.reachable, prometheus.GaugeValue, v, st.Peer, string(st.Path), string(st.Protocol), string(st.Family()))
	}
	counts.collect(ch, c.peers, families)
	for z, zc := range zoneCounts {
		zc.collect(ch, c.zonePeers, families, z)
	}
}

// statusCounts counts paths by family, path, protocol and status (in the
// order of prober.Families and prober.Statuses).
type statusCounts [len(prober.Families)][2][2][len(prober.Statuses)]int

// collect sends the counts of the families in families as gauges of desc,
// whose labels are path, protocol, family, then extra, then status.
func (sc *statusCounts) collect(ch chan<- prometheus.Metric, desc *prometheus.Desc, families familySet, extra ...string) {
	for fi, f := range prober.Families {
		if !families[fi] {
			continue
		}
		for _, path := range []prober.Path{prober.PathHost, prober.PathEndpoint} {
			for _, proto := range []prober.Protocol{prober.ProtocolICMP, prober.ProtocolHTTP} {
				for i, s := range prober.Statuses {
					n := sc[fi][pathIndex(path)][protocolIndex(proto)][i]
					labels := append(append([]string{string(path), string(proto), string(f)}, extra...), string(s))
					ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, float64(n), labels...)
				}
			}
		}
	}
}

func statusIndex(s prober.Status) int {
	for i, x := range prober.Statuses {
		if x == s {
			return i
		}
	}
	return len(prober.Statuses) - 1 // unknown
}
