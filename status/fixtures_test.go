package status_test

import (
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/connectivity-exporter/connectivity_exporter/admin"
	"github.com/connectivity-exporter/connectivity_exporter/nodes"
	"github.com/connectivity-exporter/connectivity_exporter/plan"
	"github.com/connectivity-exporter/connectivity_exporter/prober"
)

var t0 = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

// row is one node of a scenario. spec has one letter per path, in the order
// host ICMP, host HTTP, endpoint ICMP, endpoint HTTP; two letters mean the
// node has no health IP.
//
//	R  reachable, latest probe succeeded
//	T  unreachable, timed out
//	X  unreachable, refused
//	E  unreachable, error
//	t  still reachable, latest probe timed out (below the failure threshold)
//	f  no verdict yet, latest probe timed out (a first failure)
//	x  no verdict yet, latest probe refused (a first failure)
//	?  not probed yet
type row struct{ name, spec string }

// view is how the daemon was asked and set up.
type view struct {
	fresh bool // status --probe
	peers int  // --probe.peers
}

// scenario builds a report as the daemon does, from a node list and prober
// states; the first row is the local node.
func scenario(rows ...row) admin.Report { return scenarioWith(view{}, rows...) }

func scenarioWith(v view, rows ...row) admin.Report {
	var list []nodes.Node
	var states []prober.PathState
	for i, r := range rows {
		n := nodes.Node{Name: r.name, HostIP: netip.MustParseAddr(fmt.Sprintf("198.18.0.%d", i+1))}
		if len(r.spec) == 4 {
			n.HealthIP = netip.MustParseAddr(fmt.Sprintf("198.19.0.%d", i+1))
		}
		list = append(list, n)
	}
	p, err := plan.New(plan.Config{Local: rows[0].name, PeerLimit: v.peers}, list)
	if err != nil {
		panic(err)
	}
	for _, e := range p.Entries() {
		i := slices.IndexFunc(rows, func(r row) bool { return r.name == e.Name })
		for j, t := range e.Targets {
			if st, ok := pathState(t, rows[i].spec[j], i, j); ok {
				states = append(states, st)
			}
		}
	}
	opts := admin.ReportOptions{ProbeTime: admin.LatestProbe(states), Interval: 15 * time.Second, FailureThreshold: 3}
	if v.fresh {
		opts.Fresh, opts.FreshSince = true, t0.Add(-time.Minute)
	}
	return admin.BuildReport(p, states, opts)
}

var baseRTT = [4]time.Duration{112 * time.Microsecond, 431 * time.Microsecond, 154 * time.Microsecond, 456 * time.Microsecond}

func pathState(t prober.Target, c byte, node, path int) (prober.PathState, bool) {
	st := prober.PathState{Target: t, LastProbed: t0.Add(-time.Duration(path) * time.Second)}
	fail := func(res prober.Result, icmpErr, httpErr string, n int) {
		st.LastResult, st.ConsecutiveFailures, st.LastError = res, n, httpErr
		if t.Protocol == prober.ProtocolICMP {
			st.LastError = icmpErr
		}
	}
	switch c {
	case 'R':
		st.Status, st.LastResult = prober.StatusReachable, prober.ResultSuccess
		st.LastRTT = baseRTT[path] + time.Duration(node)*17*time.Microsecond
	case 'T':
		st.Status = prober.StatusUnreachable
		fail(prober.ResultTimeout, "no echo reply before the timeout", "connection timed out", 5)
	case 'X':
		st.Status = prober.StatusUnreachable
		fail(prober.ResultRefused, "connection refused", "connection refused", 5)
	case 'E':
		st.Status = prober.StatusUnreachable
		fail(prober.ResultError, "sendto: operation not permitted", "HTTP status 500", 5)
	case 't':
		st.Status = prober.StatusReachable
		fail(prober.ResultTimeout, "no echo reply before the timeout", "connection timed out", 1)
	case 'f':
		st.Status = prober.StatusUnknown
		fail(prober.ResultTimeout, "no echo reply before the timeout", "connection timed out", 1)
	case 'x':
		st.Status = prober.StatusUnknown
		fail(prober.ResultRefused, "connection refused", "connection refused", 1)
	case '?':
		return prober.PathState{}, false
	default:
		panic("unknown path letter " + string(c))
	}
	return st, true
}
