package daemon

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/go-kit/log"

	"github.com/connectivity-exporter/connectivity_exporter/nodes"
	"github.com/connectivity-exporter/connectivity_exporter/plan"
	"github.com/connectivity-exporter/connectivity_exporter/prober"
	"github.com/connectivity-exporter/connectivity_exporter/test/testbin"
)

// unflowedProbe is one probe of a path without flows, as the keeper is
// told of it: the path's status after it, and whether another path to
// the peer answered then.
type unflowedProbe struct {
	status    prober.Status
	elsewhere bool
}

func TestTraceKeeperTracesPathsWithoutFlows(t *testing.T) {
	icmp4 := prober.Target{Peer: "node-2", Path: prober.PathHost, Protocol: prober.ProtocolICMP, IP: netip.MustParseAddr("198.19.0.2")}
	http4 := prober.Target{Peer: "node-2", Path: prober.PathEndpoint, Protocol: prober.ProtocolHTTP, IP: netip.MustParseAddr("198.19.1.2")}
	fc := prober.FlowConfig{FlowKey: "node-1"}
	sticky := fc.FlowIdentities(http4, 1)[0]
	down := unflowedProbe{prober.StatusUnreachable, true}
	downAlone := unflowedProbe{prober.StatusUnreachable, false}
	up := unflowedProbe{prober.StatusReachable, true}
	for _, tc := range []struct {
		name       string
		target     prober.Target
		noPaths    bool // a keeper without the view of the other paths
		probes     []unflowedProbe
		wantKept   bool
		wantTraces int
	}{
		{name: "down while the peer answers elsewhere: traced", target: icmp4, probes: []unflowedProbe{down}, wantKept: true, wantTraces: 1},
		{name: "HTTP with one flow: traced over its sticky flow", target: http4, probes: []unflowedProbe{down}, wantKept: true, wantTraces: 1},
		{name: "down every probe: traced once", target: icmp4, probes: []unflowedProbe{down, down, down}, wantKept: true, wantTraces: 1},
		{name: "the peer down on every path: not traced", target: icmp4, probes: []unflowedProbe{downAlone, downAlone, downAlone}},
		{name: "failing below the threshold: not traced", target: icmp4, probes: []unflowedProbe{up, up}},
		{name: "the peer answers elsewhere later: traced then", target: icmp4, probes: []unflowedProbe{downAlone, down}, wantKept: true, wantTraces: 1},
		{name: "the peer goes down after the trace: kept", target: icmp4, probes: []unflowedProbe{down, downAlone}, wantKept: true, wantTraces: 1},
		{name: "answers again: gone", target: icmp4, probes: []unflowedProbe{down, up}, wantTraces: 1},
		{name: "down again after recovering: traced again", target: icmp4, probes: []unflowedProbe{down, up, down}, wantKept: true, wantTraces: 2},
		{name: "without the view of other paths: never traced", target: icmp4, noPaths: true, probes: []unflowedProbe{down, down}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := &fakeTracer{}
			k := newTraceKeeper(context.Background(), tr)
			elsewhere := false
			if !tc.noPaths {
				k.paths = unflowedPaths{answersElsewhere: func(prober.Target) bool { return elsewhere }, flow: stickyFlow(fc)}
			}
			for _, p := range tc.probes {
				elsewhere = p.elsewhere
				k.PathProbed(prober.PathState{Target: tc.target, Status: p.status, ConsecutiveFailures: 3})
				k.Wait()
			}
			snap := k.Snapshot()
			if kept := len(snap) == 1; kept != tc.wantKept || len(snap) > 1 {
				t.Fatalf("kept %+v, want kept %v", snap, tc.wantKept)
			}
			calls := tr.calls()
			if len(calls) != tc.wantTraces {
				t.Fatalf("traces %v, want %d", calls, tc.wantTraces)
			}
			want := fmt.Sprintf("%s %s %d %#x", tc.target.Protocol, tc.target.IP, 0, 0)
			if tc.target.Protocol == prober.ProtocolHTTP {
				want = fmt.Sprintf("%s %s %d %#x", tc.target.Protocol, tc.target.IP, sticky.SourcePort, sticky.FlowLabel)
			}
			for _, c := range calls {
				if c != want {
					t.Errorf("traced %q, want %q", c, want)
				}
			}
			if tc.wantKept {
				if s := snap[0]; s.Index != 0 || s.Target != tc.target || s.Trace == nil || !s.Trace.Reached {
					t.Errorf("kept %+v, want flow 0 of %v with its trace", s, tc.target)
				}
			}
		})
	}
}

// nopReporter is a plan.Reporter that forgets.
type nopReporter struct{}

func (nopReporter) SetNodes(int)                   {}
func (nopReporter) DiscoveryError()                {}
func (nopReporter) SetDiscoveryRejected(bool)      {}
func (nopReporter) SetFamilies([]prober.Family)    {}
func (nopReporter) SetPeerZones(map[string]string) {}

// stormPlan is node-1 and n peers, each with a host path (ICMP, HTTP)
// and an endpoint path.
func stormPlan(t *testing.T, n int) *plan.Keeper {
	t.Helper()
	list := []nodes.Node{{Name: "node-1", HostIP: netip.MustParseAddr("198.18.0.1")}}
	for i := range n {
		list = append(list, nodes.Node{Name: fmt.Sprintf("peer-%03d", i),
			HostIP: netip.AddrFrom4([4]byte{198, 18, 1 + byte(i/250), 1 + byte(i%250)})})
	}
	p, err := plan.New(plan.Config{Local: "node-1"}, list)
	if err != nil {
		t.Fatal(err)
	}
	return plan.NewKeeper(p, nopReporter{}, log.NewNopLogger())
}

// The keeper against a real store, as the daemon wires it: with every
// peer's paths down (a network cut from node-1, or every peer rebooting)
// nothing is traced; with every peer's ICMP path down and HTTP answering
// (a fabric dropping echoes), traces are bounded by the keeper's slots
// and flows kept, and every path kept is traced once.
func TestTraceKeeperPathsWithoutFlowsStorm(t *testing.T) {
	const peers = 100
	for _, tc := range []struct {
		name       string
		httpAnswer bool
		wantKept   int
	}{
		{name: "every peer down on every path", httpAnswer: false, wantKept: 0},
		{name: "every peer's ICMP down, HTTP answering", httpAnswer: true, wantKept: defaultMaxTracedFlows},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plans := stormPlan(t, peers)
			targets := plans.Current().Targets()
			store := prober.NewStore(3)
			store.Retain(targets)
			tr := &fakeTracer{block: make(chan struct{})}
			k := newTraceKeeper(context.Background(), tr)
			k.paths = unflowedPaths{answersElsewhere: answersElsewhere(plans, store), flow: stickyFlow(prober.FlowConfig{FlowKey: "node-1"})}
			now := time.Unix(1000, 0)
			// Three rounds of probes, as three intervals: the paths of
			// every peer fail (or HTTP answers) together, and the keeper
			// hears of each probe.
			for range 3 {
				for _, tg := range targets {
					o := prober.Outcome{Result: prober.ResultTimeout}
					if tc.httpAnswer && tg.Protocol == prober.ProtocolHTTP {
						o = prober.Outcome{Result: prober.ResultSuccess, RTT: time.Millisecond}
					}
					st, ok := store.Record(tg, o, now)
					if !ok {
						t.Fatalf("%v not in the store", tg)
					}
					k.PathProbed(st)
				}
				now = now.Add(time.Second)
			}
			if n := len(k.Snapshot()); n != tc.wantKept {
				t.Errorf("%d paths kept, want %d", n, tc.wantKept)
			}
			if tc.wantKept > 0 {
				testbin.Eventually(t, 10*time.Second, "the slots' traces start", func() error {
					return testbin.Holds(len(tr.calls()) == defaultConcurrentAutoTraces, fmt.Sprintf("%d traces running", len(tr.calls())))
				})
			}
			close(tr.block)
			k.Wait()
			calls := tr.calls()
			if len(calls) != tc.wantKept {
				t.Errorf("%d traces, want one per path kept (%d)", len(calls), tc.wantKept)
			}
			if slices.Sort(calls); len(slices.Compact(calls)) != len(calls) {
				t.Errorf("a path traced twice: %v", calls)
			}
			for _, c := range calls {
				if c[:5] != "icmp " {
					t.Errorf("traced %q: want only the ICMP paths that are down", c)
				}
			}
			if m := tr.maxRunning(); m > defaultConcurrentAutoTraces {
				t.Errorf("%d traces ran at once, want at most %d", m, defaultConcurrentAutoTraces)
			}
		})
	}
}

func TestAnswersElsewhere(t *testing.T) {
	plans := plan.NewKeeper(tracePlan(t, plan.Config{Local: "node-1"}), nopReporter{}, log.NewNopLogger())
	e, _ := plans.Current().Entry("node-2")
	var icmp4 prober.Target
	for _, tg := range e.Targets {
		if tg.Protocol == prober.ProtocolICMP && tg.IP.Is4() && tg.Path == prober.PathHost {
			icmp4 = tg
		}
	}
	ok, fail := prober.Outcome{Result: prober.ResultSuccess}, prober.Outcome{Result: prober.ResultTimeout}
	for _, tc := range []struct {
		name  string
		other func(prober.Target) []prober.Outcome // the outcomes of each other path of node-2, in order
		want  bool
	}{
		{"no other path probed yet", func(prober.Target) []prober.Outcome { return nil }, false},
		{"another path answered", func(tg prober.Target) []prober.Outcome {
			if tg.Protocol == prober.ProtocolHTTP && tg.IP.Is6() {
				return []prober.Outcome{ok}
			}
			return []prober.Outcome{fail}
		}, true},
		{"every other path failed its latest probe", func(prober.Target) []prober.Outcome { return []prober.Outcome{ok, fail} }, false},
		{"every other path down", func(prober.Target) []prober.Outcome { return []prober.Outcome{fail, fail, fail} }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := prober.NewStore(3)
			store.Retain(plans.Current().Targets())
			for _, tg := range e.Targets {
				if tg == icmp4 {
					continue
				}
				for _, o := range tc.other(tg) {
					store.Record(tg, o, time.Now())
				}
			}
			for range 3 { // the path itself answering does not count
				store.Record(icmp4, ok, time.Now())
			}
			if got := answersElsewhere(plans, store)(icmp4); got != tc.want {
				t.Errorf("answersElsewhere = %v, want %v", got, tc.want)
			}
		})
	}
}
