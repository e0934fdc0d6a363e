package collector

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/connectivity-exporter/connectivity_exporter/prober"
)

// SetFamilies gives the address families of the targets of the plan in
// force (plan.Families). Only these have aggregate series (all peers and
// per zone), so that a single-stack cluster does not export empty series
// of the other family: the probe counters of a new family start at 0, and
// the aggregates of a family the plan no longer has are deleted.
func (m *Metrics) SetFamilies(families []prober.Family) {
	var want familySet
	for _, f := range families {
		want[familyIndex(f)] = true
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for fi, f := range prober.Families {
		switch {
		case want[fi] && !m.families[fi]:
			m.createFamilyLocked(f)
		case !want[fi] && m.families[fi]:
			m.deleteFamilyLocked(f)
		}
	}
	m.families = want
}

func (m *Metrics) createFamilyLocked(f prober.Family) {
	for _, path := range []prober.Path{prober.PathHost, prober.PathEndpoint} {
		for _, proto := range []prober.Protocol{prober.ProtocolICMP, prober.ProtocolHTTP} {
			a := &m.agg[familyIndex(f)][pathIndex(path)][protocolIndex(proto)]
			for i, r := range prober.Results {
				a.probes[i] = m.probes.WithLabelValues(string(path), string(proto), string(f), string(r))
			}
		}
	}
	for z, zs := range m.zoneAgg {
		m.createZoneFamilyLocked(zs, z, f)
	}
}

func (m *Metrics) deleteFamilyLocked(f prober.Family) {
	fi := familyIndex(f)
	l := prometheus.Labels{"family": string(f)}
	m.agg[fi] = [2][2]seriesSet{}
	m.rtt.DeletePartialMatch(l)
	m.probes.DeletePartialMatch(l)
	for _, zs := range m.zoneAgg {
		zs[fi] = [2][2]seriesSet{}
	}
	m.zoneRTT.DeletePartialMatch(l)
	m.zoneProbes.DeletePartialMatch(l)
}

// currentFamilies is the families of the latest SetFamilies.
func (m *Metrics) currentFamilies() familySet {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.families
}
