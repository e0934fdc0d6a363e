package admin

import (
	"net/netip"
	"sort"
	"time"

	"github.com/connectivity-exporter/connectivity_exporter/nodes"
	"github.com/connectivity-exporter/connectivity_exporter/prober"
)

// BuildReport turns the node list and the prober's states into a Report: the
// local node first, then the others by name. The node list is authoritative:
// states of nodes not in it are left out, and a path without a state (or
// whose state is for an address the node no longer has) is reported unknown.
// Times are converted to UTC so that reports read the same on every node.
func BuildReport(local string, list []nodes.Node, states []prober.PathState, probeTime time.Time, interval time.Duration) Report {
	byTarget := make(map[prober.Target]prober.PathState, len(states))
	for _, st := range states {
		byTarget[st.Target] = st
	}
	out := Report{
		ProbeTime: utc(probeTime),
		Interval:  Duration(interval),
		LocalNode: local,
		Nodes:     make([]NodeReport, 0, len(list)),
	}
	for _, n := range list {
		nr := NodeReport{
			Name:  n.Name,
			Local: n.Name == local,
			Host:  buildPath(byTarget, n.Name, prober.PathHost, n.HostIP),
		}
		if n.HasHealthEndpoint() {
			nr.Endpoint = buildPath(byTarget, n.Name, prober.PathEndpoint, n.HealthIP)
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

func buildPath(byTarget map[prober.Target]prober.PathState, peer string, path prober.Path, ip netip.Addr) *PathReport {
	probe := func(proto prober.Protocol) ProbeReport {
		st, ok := byTarget[prober.Target{Peer: peer, Path: path, Protocol: proto, IP: ip}]
		if !ok {
			return ProbeReport{Status: string(prober.StatusUnknown)}
		}
		return ProbeReport{
			Status:              string(st.Status),
			Result:              string(st.LastResult),
			Latency:             Duration(st.LastRTT),
			LastProbed:          utc(st.LastProbed),
			Error:               st.LastError,
			ConsecutiveFailures: st.ConsecutiveFailures,
		}
	}
	return &PathReport{IP: ip.String(), ICMP: probe(prober.ProtocolICMP), HTTP: probe(prober.ProtocolHTTP)}
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
func NewCycleInfo(c prober.Cycle) CycleInfo {
	return CycleInfo{Start: utc(c.Start), Duration: Duration(c.Duration), Targets: c.Targets}
}

// utc drops the monotonic reading and the local zone, which mean nothing to
// another process; the zero time stays zero.
func utc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.Round(0).UTC()
}
