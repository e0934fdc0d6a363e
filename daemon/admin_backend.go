package daemon

import (
	"context"
	"time"

	"github.com/prometheus/common/version"

	"github.com/connectivity-exporter/connectivity_exporter/admin"
	"github.com/connectivity-exporter/connectivity_exporter/plan"
	"github.com/connectivity-exporter/connectivity_exporter/prober"
)

// newAdminBackend answers the admin API from the daemon's parts: the
// keeper's plan (nil before the first node list, which the report then
// says), and the scheduler and health endpoint controller once live has
// them (nil when the daemon does not probe or has no health namespace).
func newAdminBackend(f *Config, keeper *plan.Keeper, store *prober.Store, live *liveParts) admin.Backend {
	started := time.Now()
	opts := ReportOptions{Interval: f.ProbeInterval, FailureThreshold: f.FailureThreshold, HelloPort: f.HelloPort}
	report := func(p *plan.Plan, st []prober.PathState, o ReportOptions) admin.Report {
		if p == nil {
			return admin.Report{Interval: admin.Duration(f.ProbeInterval), HelloPort: f.HelloPort, FailureThreshold: f.FailureThreshold,
				LocalNode: f.NodeName, NoNodeList: true}
		}
		return BuildReport(p, st, o)
	}
	statusReport := func() admin.Report {
		st := store.Snapshot()
		o := opts
		o.ProbeTime = LatestProbe(st)
		return report(keeper.Current(), st, o)
	}
	return admin.BackendFuncs{
		StatusFunc: statusReport,
		ProbeFunc: func(ctx context.Context) admin.Report {
			parts, _ := live.load()
			if parts.sched == nil {
				return statusReport()
			}
			o := opts
			o.Fresh, o.FreshSince = true, time.Now()
			st := parts.sched.ProbeAll(ctx)
			o.ProbeTime = time.Now()
			return report(keeper.Current(), st, o)
		},
		InfoFunc: func() admin.Info {
			parts, _ := live.load()
			sched, ctrl := parts.sched, parts.ctrl
			info := admin.Info{
				Version: version.Version, Revision: version.GetRevision(), Started: started,
				LocalNode: f.NodeName,
			}
			if p := keeper.Current(); p != nil {
				info.Nodes = p.Len()
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
