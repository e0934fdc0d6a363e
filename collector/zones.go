package collector

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/connectivity-exporter/connectivity_exporter/prober"
)

// zoneSeries are the aggregates of one peer zone: an RTT histogram and the
// probe counters of each path and protocol. Their number grows with zones,
// not nodes, so they stay in every per-peer mode.
type zoneSeries [2][2]seriesSet

func newZoneVecs(src prometheus.Labels, classic bool) (*prometheus.HistogramVec, *prometheus.CounterVec) {
	labels := []string{"path", "protocol", "peer_zone"}
	rtt := prometheus.NewHistogramVec(rttHistogramOpts("zone_rtt_seconds",
		"Round-trip time of successful probes to the peers of one zone.", src, classic), labels)
	probes := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "zone_probes_total", ConstLabels: src,
		Help: "Probes sent to the peers of one zone, by result.",
	}, append(labels, "result"))
	return rtt, probes
}

// SetPeerZones gives the zone of every probed peer, by name (the plan's
// ProbedZones; "" for a peer without a zone). The probe counters of a new
// zone start at 0; the series of a zone that no longer has probed peers
// are deleted. Probes of peers not in zones (ended after the plan changed)
// are left out of the zone aggregates. zones is kept: the caller must not
// modify it.
func (m *Metrics) SetPeerZones(zones map[string]string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	inUse := make(map[string]bool, len(m.zoneAgg)+1)
	for _, z := range zones {
		inUse[z] = true
	}
	for z := range m.zoneAgg {
		if !inUse[z] {
			delete(m.zoneAgg, z)
			m.zoneRTT.DeletePartialMatch(prometheus.Labels{"peer_zone": z})
			m.zoneProbes.DeletePartialMatch(prometheus.Labels{"peer_zone": z})
		}
	}
	for z := range inUse {
		if _, ok := m.zoneAgg[z]; ok {
			continue
		}
		zs := &zoneSeries{}
		for _, path := range []prober.Path{prober.PathHost, prober.PathEndpoint} {
			for _, proto := range []prober.Protocol{prober.ProtocolICMP, prober.ProtocolHTTP} {
				a := &zs[pathIndex(path)][protocolIndex(proto)]
				for i, r := range prober.Results {
					a.probes[i] = m.zoneProbes.WithLabelValues(string(path), string(proto), z, string(r))
				}
			}
		}
		m.zoneAgg[z] = zs
	}
	m.peerZones = zones
}

// zoneProbeDoneLocked records one probe in its peer's zone aggregates.
func (m *Metrics) zoneProbeDoneLocked(st prober.PathState, o prober.Outcome, ri int) {
	z, ok := m.peerZones[st.Peer]
	if !ok {
		return
	}
	a := &m.zoneAgg[z][pathIndex(st.Path)][protocolIndex(st.Protocol)]
	a.probes[ri].Inc()
	if o.Result == prober.ResultSuccess {
		if a.rtt == nil {
			a.rtt = m.zoneRTT.WithLabelValues(string(st.Path), string(st.Protocol), z)
		}
		a.rtt.Observe(o.RTT.Seconds())
	}
}

// currentPeerZones is the map of the latest SetPeerZones; it is never
// modified, only replaced, so the caller may read it after the lock is
// released.
func (m *Metrics) currentPeerZones() map[string]string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.peerZones
}
