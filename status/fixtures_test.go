package status_test

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/connectivity-exporter/connectivity_exporter/admin"
	"github.com/connectivity-exporter/connectivity_exporter/daemon"
	"github.com/connectivity-exporter/connectivity_exporter/nodes"
	"github.com/connectivity-exporter/connectivity_exporter/plan"
	"github.com/connectivity-exporter/connectivity_exporter/prober"
)

var t0 = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

// row is one node of a scenario. spec has one letter per path, in the order
// host ICMP, host HTTP, endpoint ICMP, endpoint HTTP; two letters mean the
// node has no health IP. A dual-stack node has two specs, IPv4's and
// IPv6's, joined by "/" ("RRRR/RRTT": IPv6 endpoint paths down).
//
//	R  reachable, latest probe succeeded
//	T  unreachable, timed out
//	X  unreachable, refused
//	E  unreachable, error
//	t  still reachable, latest probe timed out (below the failure threshold)
//	f  no verdict yet, latest probe timed out (a first failure)
//	x  no verdict yet, latest probe refused (a first failure)
//	P  partial: reachable, 2 of 8 flows fail past the threshold
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
		v4, v6, dual := strings.Cut(r.spec, "/")
		if len(v4) == 4 {
			n.HealthIP = netip.MustParseAddr(fmt.Sprintf("198.19.0.%d", i+1))
		}
		if dual {
			n.DualStackHostIP = netip.MustParseAddr(fmt.Sprintf("2001:db8::%d", i+1))
			if len(v6) == 4 {
				n.DualStackHealthIP = netip.MustParseAddr(fmt.Sprintf("2001:db8:1::%d", i+1))
			}
		}
		list = append(list, n)
	}
	p, err := plan.New(plan.Config{Local: rows[0].name, PeerLimit: v.peers}, list)
	if err != nil {
		panic(err)
	}
	for _, e := range p.Entries() {
		i := slices.IndexFunc(rows, func(r row) bool { return r.name == e.Name })
		for _, t := range e.Targets {
			spec, pos := rows[i].spec, 0
			if t.Family() == prober.FamilyIPv6 {
				_, spec, _ = strings.Cut(spec, "/")
			} else {
				spec, _, _ = strings.Cut(spec, "/")
			}
			if t.Path == prober.PathEndpoint {
				pos += 2
			}
			if t.Protocol == prober.ProtocolHTTP {
				pos++
			}
			if st, ok := pathState(t, spec[pos], i, pos); ok {
				states = append(states, st)
			}
		}
	}
	opts := daemon.ReportOptions{ProbeTime: daemon.LatestProbe(states), Interval: 15 * time.Second, FailureThreshold: 3}
	if v.fresh {
		opts.Fresh, opts.FreshSince = true, t0.Add(-time.Minute)
	}
	return daemon.BuildReport(p, states, opts)
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
	case 'P':
		st.Status, st.LastResult = prober.StatusReachable, prober.ResultSuccess
		st.LastRTT = baseRTT[path] + time.Duration(node)*17*time.Microsecond
		st.Flows = prober.FlowsState{Count: 8, Probed: 8, Partial: true}
		for _, i := range []int{2, 5} {
			f := prober.Flow{FlowLabel: prober.FlowLabel(i)}
			if t.Protocol == prober.ProtocolHTTP {
				f.SourcePort = uint16(60100 + 10*i + node)
			}
			if t.Family() == prober.FamilyIPv4 {
				f.FlowLabel = 0
			}
			st.Flows.Failing = append(st.Flows.Failing, prober.FlowState{Index: i, Flow: f, LastResult: prober.ResultTimeout,
				LastError: "connection timed out", LastProbed: t0.Add(-time.Duration(i) * 15 * time.Second), ConsecutiveFailures: 3})
		}
	case '?':
		return prober.PathState{}, false
	default:
		panic("unknown path letter " + string(c))
	}
	return st, true
}
