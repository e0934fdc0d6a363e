package daemon

import (
	"github.com/connectivity-exporter/connectivity_exporter/collector"
	"github.com/connectivity-exporter/connectivity_exporter/healthep"
	"github.com/connectivity-exporter/connectivity_exporter/plan"
)

// The collector is told of plans and of the health endpoint through these
// interfaces: a method renamed on either side must fail the build, not
// silently stop a metric.
var (
	_ plan.Reporter     = (*collector.Metrics)(nil)
	_ healthep.Reporter = (*collector.Metrics)(nil)
)
