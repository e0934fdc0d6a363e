package daemon

import (
	"net/netip"
	"sort"
	"time"

	"github.com/connectivity-exporter/connectivity_exporter/admin"
	"github.com/connectivity-exporter/connectivity_exporter/plan"
	"github.com/connectivity-exporter/connectivity_exporter/prober"
)

// ReportOptions says what BuildReport cannot read from the plan and the
// states.
type ReportOptions struct {
	// ProbeTime is when the newest result was taken (LatestProbe), or when
	// a fresh probe was made.
	ProbeTime time.Time
	Interval  time.Duration
	// Fresh reports a probe made now, started at FreshSince: the status of
	// a path probed since then is its latest result, threshold or not.
	Fresh      bool
	FreshSince time.Time
	// FailureThreshold and HelloPort are the daemon's settings.
	FailureThreshold int
	HelloPort        int
}

// BuildReport turns the plan in force and the prober's states into a
// Report: the local node first, then the others by name. The plan is
// authoritative: states of paths it does not probe are left out, and a
// probed path without a state is reported unknown. Times are converted to
// UTC so that reports read the same on every node.
func BuildReport(p *plan.Plan, states []prober.PathState, opts ReportOptions) admin.Report {
	byTarget := make(map[prober.Target]prober.PathState, len(states))
	for _, st := range states {
		byTarget[st.Target] = st
	}
	out := admin.Report{
		ProbeTime:        utc(opts.ProbeTime),
		Interval:         admin.Duration(opts.Interval),
		HelloPort:        opts.HelloPort,
		Fresh:            opts.Fresh,
		FailureThreshold: opts.FailureThreshold,
		ProbePeers:       p.PeerLimit(),
		LocalNode:        p.Local(),
		Nodes:            make([]admin.NodeReport, 0, p.Len()),
	}
	probe := func(t prober.Target) admin.ProbeReport {
		st, ok := byTarget[t]
		if !ok {
			return admin.ProbeReport{Status: string(prober.StatusUnknown)}
		}
		pr := admin.ProbeReport{
			Status:              string(st.Status),
			Result:              string(st.LastResult),
			Latency:             admin.Duration(st.LastRTT),
			LastProbed:          utc(st.LastProbed),
			Error:               st.LastError,
			ConsecutiveFailures: st.ConsecutiveFailures,
			MTU:                 mtuReport(st.MTU),
			Flows:               flowsReport(st.Flows),
		}
		if opts.Fresh && !st.LastProbed.Before(opts.FreshSince) {
			pr.Status = string(prober.StatusReachable)
			if st.LastResult != prober.ResultSuccess {
				pr.Status = string(prober.StatusUnreachable)
			}
		}
		if st.Partial() && pr.Status == string(prober.StatusReachable) {
			pr.Status = admin.StatusPartial
		}
		return pr
	}
	for _, e := range p.Entries() {
		nr := admin.NodeReport{Name: e.Name, Local: e.Name == p.Local(), NotProbed: p.NotProbedReason(e),
			Leaving: e.Leaving, NotReady: e.NotReady, NotReadySince: utc(e.NotReadySince)}
		if e.Probed {
			buildPaths(&nr, e.Targets, probe)
		}
		out.Nodes = append(out.Nodes, nr)
	}
	sort.SliceStable(out.Nodes, func(i, j int) bool {
		a, b := out.Nodes[i], out.Nodes[j]
		if a.Local != b.Local {
			return a.Local
		}
		return a.Name < b.Name
	})
	return out
}

// buildPaths groups a node's targets into its paths: host and endpoint,
// each with an address of each family it has (IPv4 first, as plan orders
// them and as admin.NodeReport keeps them).
func buildPaths(nr *admin.NodeReport, ts []prober.Target, probe func(prober.Target) admin.ProbeReport) {
	for _, t := range ts {
		slots := [2]**admin.PathReport{&nr.Host, &nr.DualStackHost}
		if t.Path == prober.PathEndpoint {
			slots = [2]**admin.PathReport{&nr.Endpoint, &nr.DualStackEndpoint}
		}
		path := pathFor(slots, t.IP)
		if t.Protocol == prober.ProtocolHTTP {
			path.HTTP = probe(t)
		} else {
			path.ICMP = probe(t)
		}
	}
}

// pathFor is the report of ip among slots, made in the first free one.
func pathFor(slots [2]**admin.PathReport, ip netip.Addr) *admin.PathReport {
	for _, slot := range slots {
		if *slot == nil {
			*slot = &admin.PathReport{IP: ip.String()}
		}
		if (*slot).IP == ip.String() {
			return *slot
		}
	}
	return &admin.PathReport{} // a third address: plan makes at most two per path
}

// mtuReport reports a path's full-size probes; nil before the first.
func mtuReport(m prober.MTUState) *admin.MTUReport {
	if m.LastResult == "" {
		return nil
	}
	return &admin.MTUReport{
		Status:            string(m.Status),
		Expected:          m.Expected,
		PathMTU:           m.PathMTU,
		Result:            string(m.LastResult),
		LastProbed:        utc(m.LastProbed),
		Error:             m.LastError,
		ConsecutiveLosses: m.ConsecutiveLosses,
		BlackholeFlows:    m.BlackholeFlows,
	}
}

// LatestProbe is when the newest of states was probed (zero if none was): the
// natural ProbeTime of a report built from the results store.
func LatestProbe(states []prober.PathState) time.Time {
	var latest time.Time
	for _, st := range states {
		if st.LastProbed.After(latest) {
			latest = st.LastProbed
		}
	}
	return latest
}

// NewCycleInfo converts the scheduler's latest cycle for Info.
func NewCycleInfo(c prober.Cycle) admin.CycleInfo {
	return admin.CycleInfo{Start: utc(c.Start), Duration: admin.Duration(c.Duration), Targets: c.Targets}
}

// utc drops the monotonic reading and the local zone, which mean nothing to
// another process; the zero time stays zero.
func utc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.Round(0).UTC()
}
