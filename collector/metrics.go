package collector

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/connectivity-exporter/connectivity_exporter/prober"
)

// StateSource gives the latest state of every probed path.
type StateSource interface {
	Snapshot() []prober.PathState
}

// Metrics owns every connectivity_* metric of one exporter. It is a
// prober.Observer, a plan.Reporter and a healthep.Reporter (the daemon
// asserts the last two, which this package does not import).
type Metrics struct {
	opts Options

	peerRTT                *prometheus.HistogramVec
	peerProbes             *prometheus.CounterVec
	rtt                    *prometheus.HistogramVec
	probes                 *prometheus.CounterVec
	cycle                  prometheus.Gauge
	disc                   *Discovery
	healthEndpointUp       *lateBool
	healthEndpointRestarts prometheus.Counter
	zoneRTT                *prometheus.HistogramVec
	zoneProbes             *prometheus.CounterVec
	mtuProbes              *mtuProbeCounters

	mu sync.Mutex
	// agg holds the aggregate series of each family, path and protocol,
	// resolved once: a label lookup per probe costs more than the rest of
	// ProbeDone. Only the families of the plan have them (SetFamilies).
	agg      pathSeries
	families familySet
	// perPeer holds the targets that currently have per-peer series, so
	// that "failing" mode can delete them when a path recovers, with their
	// series resolved on first use.
	perPeer map[prober.SeriesKey]*seriesSet
	// mode is opts.PerPeer with auto resolved for the latest node count.
	mode PerPeerMode
	// peerZones is the zone of each probed peer (SetPeerZones), zoneAgg
	// the series of each of those zones.
	peerZones map[string]string
	zoneAgg   map[string]*zoneSeries
}

// seriesSet is the RTT histogram and the probe counters of one path.
type seriesSet struct {
	rtt    prometheus.Observer // nil until the first success: no empty histograms
	probes [len(prober.Results)]prometheus.Counter
}

// pathSeries are the series of each family, path and protocol.
type pathSeries [len(prober.Families)][2][2]seriesSet

// familySet says which families have aggregate series.
type familySet [len(prober.Families)]bool

func familyIndex(f prober.Family) int {
	if f == prober.FamilyIPv6 {
		return 1
	}
	return 0
}

func pathIndex(p prober.Path) int {
	if p == prober.PathEndpoint {
		return 1
	}
	return 0
}

func protocolIndex(p prober.Protocol) int {
	if p == prober.ProtocolHTTP {
		return 1
	}
	return 0
}

func resultIndex(r prober.Result) int {
	for i, x := range prober.Results {
		if x == r {
			return i
		}
	}
	return len(prober.Results) - 1 // unknown results count as errors
}

// New registers every metric on reg. states feeds the reachability gauges at
// scrape time; build fills connectivity_build_info and
// connectivity_exporter_build_info.
func New(reg prometheus.Registerer, opts Options, states StateSource, build BuildInfo) (*Metrics, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	src := opts.constLabels()
	peerLabels := []string{"peer", "path", "protocol", "family"}
	aggLabels := []string{"path", "protocol", "family"}
	m := &Metrics{
		opts:    opts,
		perPeer: map[prober.SeriesKey]*seriesSet{},
		zoneAgg: map[string]*zoneSeries{},
		mode:    opts.effective(0),
		peerRTT: prometheus.NewHistogramVec(rttHistogramOpts("peer_rtt_seconds",
			"Round-trip time of successful probes to one peer's path.", src, opts.ClassicBuckets), peerLabels),
		peerProbes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "peer_probes_total", ConstLabels: src,
			Help: "Probes sent to one peer's path, by result.",
		}, append(peerLabels, "result")),
		rtt: prometheus.NewHistogramVec(rttHistogramOpts("rtt_seconds",
			"Round-trip time of successful probes to all peers.", src, opts.ClassicBuckets), aggLabels),
		probes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "probes_total", ConstLabels: src,
			Help: "Probes sent to all peers, by result.",
		}, append(aggLabels, "result")),
		cycle: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Name: "probe_cycle_duration_seconds", ConstLabels: src,
			Help: "How long the last full sweep took, from its start to the end of its last probe.",
		}),
		disc: opts.Discovery,
		healthEndpointUp: newLateBool("health_endpoint_up",
			"1 if this node's health endpoint answered its latest check; absent before the first check (and, for a health pod, during the grace period of a new node).", src),
		healthEndpointRestarts: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "health_endpoint_restarts_total", ConstLabels: src,
			Help: "Times the health endpoint was rebuilt after a failed check.",
		}),
	}
	m.zoneRTT, m.zoneProbes = newZoneVecs(src, opts.ClassicBuckets)
	m.mtuProbes = newMTUProbeCounters(src)
	collectors := []prometheus.Collector{
		m.peerRTT, m.peerProbes, m.rtt, m.probes, m.cycle,
		m.zoneRTT, m.zoneProbes,
		newStateCollector(src, states, m.perPeerMode, m.currentPeerZones, m.currentFamilies),
		newMTUCollector(src, states, m.perPeerMode), m.mtuProbes.vec,
		newBuildInfoCollector(src, build), newExporterBuildInfoCollector(src, build),
	}
	collectors = append(collectors, configGauges(src, opts)...)
	if opts.Flows > 1 {
		// One flow is probing as before: no flows' series.
		collectors = append(collectors, newFlowsCollector(src, states, m.perPeerMode), flowsGauge(src, opts.Flows))
	}
	if m.disc == nil {
		m.disc = NewDiscovery(opts.Source)
		collectors = append(collectors, m.disc)
	}
	m.disc.SetZone(opts.Zone)
	if opts.HealthEndpoint {
		// Only nodes with a health endpoint export its state: a 0 would
		// read as "down" where there is nothing to be up.
		collectors = append(collectors, m.healthEndpointUp, m.healthEndpointRestarts)
	}
	for _, c := range collectors {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// ProbeDone records one probe (prober.Observer).
func (m *Metrics) ProbeDone(st prober.PathState, o prober.Outcome) {
	fam := st.Family()
	path, proto, family := string(st.Path), string(st.Protocol), string(fam)
	ri := resultIndex(o.Result)
	fi := familyIndex(fam)
	m.mu.Lock()
	defer m.mu.Unlock()
	// A probe of a family the plan no longer has (it ended after the plan
	// changed) is left out of the aggregates, as it is of the zones'.
	if m.families[fi] {
		a := &m.agg[fi][pathIndex(st.Path)][protocolIndex(st.Protocol)]
		a.probes[ri].Inc()
		if o.Result == prober.ResultSuccess {
			if a.rtt == nil {
				a.rtt = m.rtt.WithLabelValues(path, proto, family)
			}
			a.rtt.Observe(o.RTT.Seconds())
		}
		m.zoneProbeDoneLocked(st, o, ri)
	}
	if !m.wantPerPeerLocked(st) {
		if _, ok := m.perPeer[st.SeriesKey()]; ok {
			m.deletePerPeerLocked(st.Target)
		}
		return
	}
	ps := m.perPeer[st.SeriesKey()]
	if ps == nil {
		ps = &seriesSet{}
		for i, r := range prober.Results { // all results present: rate() of each starts at 0
			ps.probes[i] = m.peerProbes.WithLabelValues(st.Peer, path, proto, family, string(r))
		}
		m.perPeer[st.SeriesKey()] = ps
	}
	if o.Result == prober.ResultSuccess {
		if ps.rtt == nil {
			ps.rtt = m.peerRTT.WithLabelValues(st.Peer, path, proto, family)
		}
		ps.rtt.Observe(o.RTT.Seconds())
	}
	ps.probes[ri].Inc()
}

// CycleDone records a finished sweep (prober.Observer).
func (m *Metrics) CycleDone(d time.Duration) { m.cycle.Set(d.Seconds()) }

// TargetsRemoved deletes the per-peer series of paths no longer probed
// (prober.Observer): a peer that leaves the node list leaves /metrics too.
func (m *Metrics) TargetsRemoved(ts []prober.Target) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, t := range ts {
		m.deletePerPeerLocked(t)
	}
}

// SetNodes records how many nodes are known.
func (m *Metrics) SetNodes(n int) {
	m.disc.SetNodes(n)
	m.mu.Lock()
	m.mode = m.opts.effective(n)
	m.mu.Unlock()
}

// DiscoveryError counts a node list that could not be loaded.
func (m *Metrics) DiscoveryError() { m.disc.DiscoveryError() }

// SetDiscoveryRejected records whether the latest node list was rejected.
// The error counter alone cannot say: a bad node file is counted once and
// may stay bad for days.
func (m *Metrics) SetDiscoveryRejected(rejected bool) { m.disc.SetDiscoveryRejected(rejected) }

// SetHealthEndpointUp records the latest health endpoint check (healthep.Reporter).
func (m *Metrics) SetHealthEndpointUp(up bool) { m.healthEndpointUp.set(up) }

// HealthEndpointRestarted counts a rebuild of the health endpoint (healthep.Reporter).
func (m *Metrics) HealthEndpointRestarted() { m.healthEndpointRestarts.Inc() }

func (m *Metrics) perPeerMode() PerPeerMode {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.mode
}

func (m *Metrics) wantPerPeerLocked(st prober.PathState) bool {
	switch m.mode {
	case PerPeerAll:
		return true
	case PerPeerFailing:
		return st.Failing()
	default:
		return false
	}
}

func (m *Metrics) deletePerPeerLocked(t prober.Target) {
	delete(m.perPeer, t.SeriesKey())
	l := prometheus.Labels{"peer": t.Peer, "path": string(t.Path), "protocol": string(t.Protocol), "family": string(t.Family())}
	m.peerRTT.Delete(l)
	m.peerProbes.DeletePartialMatch(l)
}

var _ prober.Observer = (*Metrics)(nil)
