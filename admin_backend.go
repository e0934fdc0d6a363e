package main

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/prometheus/common/version"

	"github.com/connectivity-exporter/connectivity_exporter/admin"
	"github.com/connectivity-exporter/connectivity_exporter/healthep"
	"github.com/connectivity-exporter/connectivity_exporter/nodes"
	"github.com/connectivity-exporter/connectivity_exporter/prober"
)

// newAdminBackend answers the admin API from the daemon's parts; sched and
// ctrl are nil when the daemon does not probe or has no health endpoint.
func newAdminBackend(f *daemonFlags, current *atomic.Pointer[[]nodes.Node], store *prober.Store, sched *prober.Scheduler, ctrl *healthep.Controller) admin.Backend {
	started := time.Now()
	report := func(st []prober.PathState, probeTime time.Time) admin.Report {
		r := admin.BuildReport(f.nodeName, *current.Load(), st, probeTime, f.probeInterval)
		r.HelloPort = f.helloPort
		return r
	}
	statusReport := func() admin.Report {
		st := store.Snapshot()
		return report(st, admin.LatestProbe(st))
	}
	return admin.BackendFuncs{
		StatusFunc: statusReport,
		ProbeFunc: func(ctx context.Context) admin.Report {
			if sched == nil {
				return statusReport()
			}
			return report(sched.ProbeAll(ctx), time.Now())
		},
		InfoFunc: func() admin.Info {
			info := admin.Info{
				Version: version.Version, Revision: version.GetRevision(), Started: started,
				Nodes: len(*current.Load()), LocalNode: f.nodeName,
			}
			if ctrl != nil {
				s := ctrl.Status()
				info.HealthEndpoint = admin.HealthEndpointInfo{
					Enabled: true, IP: s.Config.IP.String(), Netns: s.Config.Netns,
					Up: s.Up, Restarts: int(s.Restarts), LastError: s.LastError,
				}
			}
			if sched != nil {
				info.LastCycle = admin.NewCycleInfo(sched.LastCycle())
			}
			return info
		},
	}
}
