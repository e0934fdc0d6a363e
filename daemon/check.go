package daemon

import (
	"context"
	"net/netip"

	"github.com/connectivity-exporter/connectivity_exporter/nodes"
	"github.com/connectivity-exporter/connectivity_exporter/plan"
)

// CheckNodeFile loads cfg's node file as a start would, acting on nothing:
// the plan a start would run with, and the IPs of the health endpoint it
// would build (none: no health namespace).
func CheckNodeFile(ctx context.Context, cfg Config) (*plan.Plan, []netip.Addr, error) {
	p, err := plan.Load(ctx, cfg.planConfig(), nodes.NewFileSource(cfg.NodesFile, cfg.NodesFilePoll), plan.DefaultLoadTimeout)
	if err != nil {
		return nil, nil, err
	}
	return p, cfg.healthEndpointIPs(p), nil
}
