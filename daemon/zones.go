package daemon

import (
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/connectivity-exporter/connectivity_exporter/plan"
)

// warnOnOwnZoneChange logs a change of this node's own zone. It is
// source_zone, a label of every series, fixed at start: changing it would
// split every series in two, so a change is logged and takes effect at the
// next restart. (The collector learns the zones of peers from the keeper.)
func warnOnOwnZoneChange(keeper *plan.Keeper, sourceZone string, logger log.Logger) {
	last := sourceZone
	keeper.OnChange(func(p *plan.Plan) {
		if z := p.LocalNode().Zone; z != last {
			last = z
			level.Warn(logger).Log("msg", "this node's zone changed in the node list; source_zone keeps its value until the exporter restarts",
				"source_zone", sourceZone, "zone", z)
		}
	})
}
