package daemon

import (
	"context"
	"time"

	"github.com/prometheus/common/version"

	"github.com/connectivity-exporter/connectivity_exporter/admin"
	"github.com/connectivity-exporter/connectivity_exporter/healthep"
	"github.com/connectivity-exporter/connectivity_exporter/plan"
	"github.com/connectivity-exporter/connectivity_exporter/prober"
)

// newAdminBackend answers the admin API from the daemon's parts; sched and
// ctrl are nil when the daemon does not probe or has no health endpoint.
func newAdminBackend(f *Config, keeper *plan.Keeper, store *prober.Store, sched *prober.Scheduler, ctrl *healthep.Controller) admin.Backend {
	started := time.Now()
	opts := ReportOptions{Interval: f.ProbeInterval, FailureThreshold: f.FailureThreshold, HelloPort: f.HelloPort}
	statusReport := func() admin.Report {
		st := store.Snapshot()
		o := opts
		o.ProbeTime = LatestProbe(st)
		return BuildReport(keeper.Current(), st, o)
	}
	return admin.BackendFuncs{
		StatusFunc: statusReport,
		ProbeFunc: func(ctx context.Context) admin.Report {
			if sched == nil {
				return statusReport()
			}
			o := opts
			o.Fresh, o.FreshSince = true, time.Now()
			st := sched.ProbeAll(ctx)
			o.ProbeTime = time.Now()
			return BuildReport(keeper.Current(), st, o)
		},
		InfoFunc: func() admin.Info {
			info := admin.Info{
				Version: version.Version, Revision: version.GetRevision(), Started: started,
				Nodes: keeper.Current().Len(), LocalNode: f.NodeName,
			}
			if ctrl != nil {
				s := ctrl.Status()
				dual := ""
				if s.Config.DualStackIP.IsValid() {
					dual = s.Config.DualStackIP.String()
				}
				info.HealthEndpoint = admin.HealthEndpointInfo{
					Enabled: true, IP: s.Config.IP.String(), Netns: s.Config.Netns, DualStackIP: dual,
					Up: s.Up, Restarts: int(s.Restarts), LastError: s.LastError,
				}
			}
			if sched != nil {
				info.LastCycle = NewCycleInfo(sched.LastCycle())
			}
			return info
		},
	}
}
