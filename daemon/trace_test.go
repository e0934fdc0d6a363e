package daemon

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/connectivity-exporter/connectivity_exporter/admin"
	"github.com/connectivity-exporter/connectivity_exporter/nodes"
	"github.com/connectivity-exporter/connectivity_exporter/plan"
	"github.com/connectivity-exporter/connectivity_exporter/prober"
	"github.com/connectivity-exporter/connectivity_exporter/test/testbin"
)

// fakeTracer records what it traces; flows whose source port is in
// dark end at hop 198.18.1.6, the others reach their destination.
type fakeTracer struct {
	mu     sync.Mutex
	traced []string
	dark   map[uint16]bool
	// block, if set, holds every trace until it is closed.
	block chan struct{}
	// running and most count the traces running now and at most.
	running, most int
}

func (f *fakeTracer) maxRunning() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.most
}

var member = netip.MustParseAddr("198.18.1.6")

func (f *fakeTracer) Trace(ctx context.Context, proto prober.Protocol, dst netip.Addr, fl prober.Flow) prober.TraceResult {
	f.mu.Lock()
	f.traced = append(f.traced, fmt.Sprintf("%s %s %d %#x", proto, dst, fl.SourcePort, fl.FlowLabel))
	block := f.block
	f.running++
	f.most = max(f.most, f.running)
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.running--
		f.mu.Unlock()
	}()
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
		}
	}
	r := prober.TraceResult{Protocol: proto, Dst: dst, Flow: fl, Started: time.Now(), Duration: time.Second,
		Hops: []prober.Hop{{TTL: 1, Kind: prober.HopTimeExceeded, Addr: netip.MustParseAddr("198.18.0.1")}, {TTL: 2, Kind: prober.HopTimeExceeded, Addr: member}}}
	if f.dark[fl.SourcePort] {
		r.Hops = append(r.Hops, prober.Hop{TTL: 3, Kind: prober.HopSilent})
		r.LastHop, r.LastHopTTL = member, 2
		return r
	}
	r.Hops = append(r.Hops, prober.Hop{TTL: 3, Kind: prober.HopDestination, Addr: dst})
	r.LastHop, r.LastHopTTL, r.Reached = dst, 3, true
	return r
}

func (f *fakeTracer) calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.traced)
}

func tracePlan(t *testing.T, cfg plan.Config) *plan.Plan {
	t.Helper()
	ip := netip.MustParseAddr
	p, err := plan.New(cfg, []nodes.Node{
		{Name: "node-1", HostIP: ip("198.18.0.1")},
		{Name: "node-2", HostIP: ip("198.19.0.2"), DualStackHostIP: ip("2001:db8:ffff::2")},
		{Name: "node-3", HostIP: ip("198.19.0.3")},
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestTraceNode(t *testing.T) {
	p := tracePlan(t, plan.Config{Local: "node-1"})
	target := prober.Target{Peer: "node-2", Path: prober.PathHost, Protocol: prober.ProtocolHTTP, IP: netip.MustParseAddr("198.19.0.2")}
	fc := (&Config{NodeName: "node-1", Flows: 4}).SchedulerConfig().FlowConfig
	flows := fc.FlowIdentities(target, 4)
	tr := &fakeTracer{dark: map[uint16]bool{flows[2].SourcePort: true}}
	rep, err := traceNode(context.Background(), tr, fc, p, "node-2", 4)
	if err != nil {
		t.Fatal(err)
	}
	// IPv4 ICMP: one flow (nothing of an echo is hashed); IPv6 ICMP: 4
	// labels, no port; HTTP: 4 flows of each family.
	counts := map[string]int{}
	for _, ft := range rep.Traces {
		counts[ft.Protocol+"/"+ft.Family]++
		if ft.Protocol == "icmp" && ft.SourcePort != 0 || ft.Family == "ipv4" && ft.FlowLabel != 0 {
			t.Errorf("trace %+v: an identity part the path does not use", ft)
		}
	}
	if want := map[string]int{"icmp/ipv4": 1, "http/ipv4": 4, "icmp/ipv6": 4, "http/ipv6": 4}; fmt.Sprint(counts) != fmt.Sprint(want) {
		t.Errorf("traces per path %v, want %v", counts, want)
	}
	if len(tr.calls()) != len(rep.Traces) || rep.Node != "node-2" || rep.LocalNode != "node-1" || rep.Flows != 4 {
		t.Errorf("report %+v after %d traces", rep, len(tr.calls()))
	}
	var dark []admin.FlowTrace
	for _, ft := range rep.Traces {
		if !ft.Reached {
			dark = append(dark, ft)
		}
	}
	// Flow 2's port is dark: the HTTP flow 2 of both families (same key,
	// same ports).
	if len(dark) != 2 || dark[0].Flow != 2 || dark[0].LastHop != member.String() || dark[0].LastHopTTL != 2 || dark[0].FirstSilentTTL != 3 ||
		dark[0].SourcePort != int(flows[2].SourcePort) || len(dark[0].Hops) != 3 || dark[0].Hops[2].Kind != "silent" {
		t.Errorf("flows that did not reach: %+v", dark)
	}
}

func TestTraceNodeErrors(t *testing.T) {
	for _, c := range []struct {
		name string
		p    *plan.Plan
		node string
		is   error
		msg  string
	}{
		{"no node list", nil, "node-2", admin.ErrNotTraceable, "no node list yet"},
		{"unknown node", tracePlan(t, plan.Config{Local: "node-1"}), "node-9", admin.ErrUnknownNode, `"node-9": not in node-1's node list`},
		{"not probed", tracePlan(t, plan.Config{Local: "node-1", PeerLimit: 1}), "", admin.ErrNotTraceable, "is not probed from node-1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			node := c.node
			if node == "" { // the peer outside the --probe.peers choice
				for _, e := range c.p.Entries() {
					if !e.Probed {
						node = e.Name
					}
				}
			}
			tr := &fakeTracer{}
			_, err := traceNode(context.Background(), tr, prober.FlowConfig{}, c.p, node, 4)
			if !errors.Is(err, c.is) || !strings.Contains(err.Error(), c.msg) {
				t.Errorf("%v, want %v with %q", err, c.is, c.msg)
			}
			if n := len(tr.calls()); n != 0 {
				t.Errorf("%d traces", n)
			}
		})
	}
}

func failure(peer string, index int) FlowFailure {
	return FlowFailure{
		Target: prober.Target{Peer: peer, Path: prober.PathHost, Protocol: prober.ProtocolHTTP, IP: netip.MustParseAddr("198.19.0.2")},
		Index:  index, Flow: prober.Flow{SourcePort: uint16(60000 + index)},
	}
}

// flowsProbed is the state of path t, probed over 8 flows, after a probe
// that found failing past the threshold.
func flowsProbed(t prober.Target, failing ...prober.FlowState) prober.PathState {
	return prober.PathState{Target: t, Status: prober.StatusReachable, Flows: prober.FlowsState{Count: 8, Probed: 8, Failing: failing, Partial: len(failing) > 0}}
}

func TestTraceKeeperTracesFailingFlowsRateLimited(t *testing.T) {
	tr := &fakeTracer{dark: map[uint16]bool{60002: true}}
	k := newTraceKeeper(context.Background(), tr)
	now := time.Unix(1000, 0)
	k.now = func() time.Time { return now }

	// A failing flow is traced once, however often it is reported.
	for range 5 {
		k.FlowFailing(failure("node-2", 2))
	}
	k.Wait()
	k.FlowFailing(failure("node-2", 2))
	k.Wait()
	if n := len(tr.calls()); n != 1 {
		t.Fatalf("%d traces of one failing flow within the retrace interval, want 1", n)
	}
	snap := k.Snapshot()
	if len(snap) != 1 || snap[0].Trace == nil || snap[0].Trace.LastHop != member || snap[0].Since != now {
		t.Fatalf("snapshot %+v", snap)
	}
	// Still failing after the retrace interval: traced again.
	now = now.Add(defaultRetrace)
	k.FlowFailing(failure("node-2", 2))
	k.Wait()
	if n := len(tr.calls()); n != 2 {
		t.Fatalf("%d traces after the retrace interval, want 2", n)
	}
	// Probes of the path that still find the flow failing keep it; one
	// that finds it answering drops it.
	k.PathProbed(flowsProbed(failure("node-2", 2).Target, prober.FlowState{Index: 2}))
	k.PathProbed(flowsProbed(failure("node-3", 2).Target))
	if s := k.Snapshot(); len(s) != 1 {
		t.Fatalf("snapshot after probes that found the flow failing: %+v", s)
	}
	// One that finds it answering and another flow failing (a failure
	// the hook did not tell) swaps them, and traces the other.
	f5 := failure("node-2", 5)
	k.PathProbed(flowsProbed(f5.Target, prober.FlowState{Index: 5, Flow: f5.Flow}))
	k.Wait()
	if s := k.Snapshot(); len(s) != 1 || s[0].Index != 5 || s[0].Trace == nil || s[0].Trace.Flow != f5.Flow {
		t.Fatalf("snapshot after a probe that found flow 2 answering and 5 failing: %+v", s)
	}
	k.PathProbed(flowsProbed(f5.Target))
	k.FlowFailing(failure("node-2", 2))
	k.Wait()
	if n := len(tr.calls()); n != 4 {
		t.Fatalf("%d traces after a new failure, want 4", n)
	}
	// Recovered (FlowRecovered): gone, and a new failure is traced at once.
	k.FlowRecovered(failure("node-2", 2).Target, 2)
	if s := k.Snapshot(); len(s) != 0 {
		t.Fatalf("snapshot after recovery: %+v", s)
	}
	k.FlowFailing(failure("node-2", 2))
	k.Wait()
	if n := len(tr.calls()); n != 5 {
		t.Fatalf("%d traces after a new failure, want 5", n)
	}
	// A peer that leaves takes its flows along.
	k.FlowFailing(failure("node-3", 0))
	k.Wait()
	k.Retain([]prober.Target{failure("node-3", 0).Target})
	if s := k.Snapshot(); len(s) != 1 || s[0].Target.Peer != "node-3" {
		t.Fatalf("snapshot after node-2 left: %+v", s)
	}
}

func TestTraceKeeperBounds(t *testing.T) {
	tr := &fakeTracer{block: make(chan struct{})}
	k := newTraceKeeper(context.Background(), tr)
	// More failing flows than slots: the others wait for a slot; more
	// than maxFlows: the excess is not kept.
	for i := range defaultMaxTracedFlows + 10 {
		k.FlowFailing(failure("node-2", i))
	}
	if n := len(k.Snapshot()); n != defaultMaxTracedFlows {
		t.Errorf("%d flows kept, want the bound %d", n, defaultMaxTracedFlows)
	}
	testbin.Eventually(t, 10*time.Second, "the slots' traces start", func() error {
		if n := len(tr.calls()); n != defaultConcurrentAutoTraces {
			return fmt.Errorf("%d traces running", n)
		}
		return nil
	})
	if tr.maxRunning() != defaultConcurrentAutoTraces {
		t.Errorf("%d traces ran at once, want the %d slots", tr.maxRunning(), defaultConcurrentAutoTraces)
	}
	close(tr.block)
	k.Wait()
	// Every flow kept was traced once, never more than the slots at once.
	calls := tr.calls()
	if len(calls) != defaultMaxTracedFlows {
		t.Errorf("%d traces, want one per flow kept (%d)", len(calls), defaultMaxTracedFlows)
	}
	if slices.Sort(calls); len(slices.Compact(calls)) != len(calls) {
		t.Errorf("a flow traced twice within the retrace interval: %v", calls)
	}
	if tr.maxRunning() > defaultConcurrentAutoTraces {
		t.Errorf("%d traces ran at once, want at most %d", tr.maxRunning(), defaultConcurrentAutoTraces)
	}
}

func TestTraceKeeperStopsWithItsContext(t *testing.T) {
	tr := &fakeTracer{block: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	k := newTraceKeeper(ctx, tr)
	k.FlowFailing(failure("node-2", 0))
	cancel()
	k.Wait() // the blocked trace ends with the context
	k.FlowFailing(failure("node-2", 1))
	k.Wait()
	if n := len(tr.calls()); n > 1 {
		t.Errorf("%d traces, want none started after the context ended", n)
	}
}

func TestAttachFlowTraces(t *testing.T) {
	p := tracePlan(t, plan.Config{Local: "node-1"})
	r := BuildReport(p, nil, ReportOptions{})
	v6 := prober.Target{Peer: "node-2", Path: prober.PathHost, Protocol: prober.ProtocolICMP, IP: netip.MustParseAddr("2001:db8:ffff::2")}
	tr := &fakeTracer{}
	res := tr.Trace(context.Background(), v6.Protocol, v6.IP, prober.Flow{FlowLabel: 0x1e995})
	gone := v6
	gone.Peer = "node-9"
	attachFlowTraces(&r, []TracedFlow{
		{FlowFailure: FlowFailure{Target: v6, Index: 3}, Trace: &res},
		{FlowFailure: FlowFailure{Target: v6, Index: 4}}, // not traced yet: not shown
		{FlowFailure: FlowFailure{Target: gone, Index: 0}, Trace: &res},
	})
	for _, n := range r.Nodes {
		for _, path := range append(n.HostPaths(), n.EndpointPaths()...) {
			for proto, pr := range map[string]admin.ProbeReport{"icmp": path.ICMP, "http": path.HTTP} {
				want := 0
				if n.Name == "node-2" && path.IP == "2001:db8:ffff::2" && proto == "icmp" {
					want = 1
				}
				if len(pr.FlowTraces) != want {
					t.Errorf("%s %s %s: %d traces, want %d", n.Name, path.IP, proto, len(pr.FlowTraces), want)
				}
				if want == 1 && (pr.FlowTraces[0].Flow != 3 || pr.FlowTraces[0].FlowLabel != 0x1e995 || !pr.FlowTraces[0].Reached) {
					t.Errorf("trace %+v", pr.FlowTraces[0])
				}
			}
		}
	}
}
