package daemon

import (
	"sync"

	"github.com/connectivity-exporter/connectivity_exporter/collector"
	"github.com/connectivity-exporter/connectivity_exporter/plan"
	"github.com/connectivity-exporter/connectivity_exporter/prober"
)

// planReporter is the keeper's reporter: the node list's metrics from the
// start, and the path metrics once they exist. Those are made with the
// first plan, whose local node's zone labels them, while the keeper exists
// before it (a daemon waiting for the Kubernetes API).
type planReporter struct {
	disc *collector.Discovery

	// mu orders attach against the reports of new plans, so that the
	// metrics see the plans in the order the keeper put them in force.
	mu      sync.Mutex
	metrics *collector.Metrics
}

var _ plan.Reporter = (*planReporter)(nil)

// attach makes metrics the path metrics and tells them of the plan in
// force; later plans reach them through the keeper's reports.
func (r *planReporter) attach(metrics *collector.Metrics, keeper *plan.Keeper) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.metrics = metrics
	p := keeper.Current()
	metrics.SetNodes(p.Len())
	metrics.SetFamilies(p.Families())
	metrics.SetPeerZones(p.ProbedZones())
}

// withMetrics runs f with the path metrics, if they exist yet.
func (r *planReporter) withMetrics(f func(*collector.Metrics)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.metrics != nil {
		f(r.metrics)
	}
}

func (r *planReporter) SetNodes(n int) {
	r.disc.SetNodes(n)
	r.withMetrics(func(m *collector.Metrics) { m.SetNodes(n) }) // its per-peer mode follows the node count
}

func (r *planReporter) DiscoveryError()                    { r.disc.DiscoveryError() }
func (r *planReporter) SetDiscoveryRejected(rejected bool) { r.disc.SetDiscoveryRejected(rejected) }

func (r *planReporter) SetFamilies(families []prober.Family) {
	r.withMetrics(func(m *collector.Metrics) { m.SetFamilies(families) })
}

func (r *planReporter) SetPeerZones(zones map[string]string) {
	r.withMetrics(func(m *collector.Metrics) { m.SetPeerZones(zones) })
}
