package daemon

import (
	"github.com/connectivity-exporter/connectivity_exporter/collector"
	"github.com/connectivity-exporter/connectivity_exporter/plan"
)

// followFamilies gives the collector the address families of each plan,
// before the scheduler gets its targets, so that the aggregates of a new
// family exist when its first probe ends.
func followFamilies(keeper *plan.Keeper, metrics *collector.Metrics) {
	keeper.OnChange(func(p *plan.Plan) { metrics.SetFamilies(p.Families()) })
}
