package daemon

import (
	"context"
	"fmt"
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
	withTraces := func(r admin.Report) admin.Report {
		if parts, _ := live.load(); parts.tracing != nil {
			attachFlowTraces(&r, parts.tracing.keeper.Snapshot())
		}
		return r
	}
	statusReport := func() admin.Report {
		st := store.Snapshot()
		o := opts
		o.ProbeTime = LatestProbe(st)
		return withTraces(report(keeper.Current(), st, o))
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
			return withTraces(report(keeper.Current(), st, o))
		},
		TraceFunc: func(ctx context.Context, node string, flows int) (admin.TraceReport, error) {
			parts, _ := live.load()
			if parts.tracing == nil {
				if f.Passive {
					return admin.TraceReport{}, fmt.Errorf("%w: a passive daemon probes nothing", admin.ErrNotTraceable)
				}
				if keeper.Current() == nil {
					return admin.TraceReport{}, fmt.Errorf("%w: the daemon has no node list yet", admin.ErrNotTraceable)
				}
				return admin.TraceReport{}, fmt.Errorf("%w: this daemon has no tracer", admin.ErrNotTraceable)
			}
			if flows == 0 {
				flows = flowsPerPath(f)
			}
			return traceNode(ctx, parts.tracing.onDemand, f.SchedulerConfig().FlowConfig, keeper.Current(), node, flows)
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
