package daemon

import (
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/connectivity-exporter/connectivity_exporter/collector"
	"github.com/connectivity-exporter/connectivity_exporter/plan"
)

// followZones gives the collector the zone of every probed peer of each
// plan, before the scheduler gets its targets, so that no probe of a new
// peer misses its zone. This node's own zone is source_zone, a label of
// every series, fixed at start: changing it would split every series in
// two, so a change is logged and takes effect at the next restart.
func followZones(keeper *plan.Keeper, metrics *collector.Metrics, sourceZone string, logger log.Logger) {
	last := sourceZone
	keeper.OnChange(func(p *plan.Plan) {
		metrics.SetPeerZones(p.ProbedZones())
		if z := p.LocalNode().Zone; z != last {
			last = z
			level.Warn(logger).Log("msg", "this node's zone changed in the node list; source_zone keeps its value until the exporter restarts",
				"source_zone", sourceZone, "zone", z)
		}
	})
}
