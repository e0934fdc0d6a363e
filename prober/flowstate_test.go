package prober

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"
)

// fakeClock is the time of a simulated interval: the store's rotation
// depends on the order of probes only, not on the time.
type fakeClock struct{ now time.Time }

func (c *fakeClock) tick(d time.Duration) time.Time {
	c.now = c.now.Add(d)
	return c.now
}

// flowFault says whether a probe of flow i fails in interval n (1-based).
type flowFault func(i, n int) bool

func badFlows(bad ...int) flowFault {
	return func(i, _ int) bool { return slices.Contains(bad, i) }
}

// simulatePath probes one path over flows for intervals intervals, one
// flow an interval as the scheduler does, and returns each interval's
// state and the flows probed.
func simulatePath(t *testing.T, flows, threshold, intervals int, fault flowFault) (states []PathState, probed []int, crossed []int) {
	t.Helper()
	store := NewStore(threshold)
	target := Target{Peer: "node-3", Path: PathHost, Protocol: ProtocolHTTP, IP: netip.MustParseAddr("198.18.0.3")}
	store.Retain([]Target{target})
	cfg := FlowConfig{Flows: flows, FlowProbes: map[Protocol]FlowProbeFunc{ProtocolHTTP: nopFlowProbe}}
	clock := &fakeClock{now: time.Date(2026, 12, 6, 18, 0, 0, 0, time.UTC)}
	for n := 1; n <= intervals; n++ {
		at := clock.tick(15 * time.Second)
		_, i, ok := store.PickFlow(target, cfg.flowIDs)
		if !ok {
			t.Fatal("PickFlow: target not tracked")
		}
		o := Outcome{Result: ResultSuccess, RTT: time.Millisecond}
		if fault(i, n) {
			o = Outcome{Result: ResultTimeout}
		}
		st, c, ok := store.RecordFlow(target, i, o, at)
		if !ok {
			t.Fatal("RecordFlow: not recorded")
		}
		if c != nil {
			crossed = append(crossed, c.Index)
		}
		states = append(states, st)
		probed = append(probed, i)
	}
	return states, probed, crossed
}

// firstInterval is the first 1-based interval whose state matches, 0 if none.
func firstInterval(states []PathState, match func(PathState) bool) int {
	for n, st := range states {
		if match(st) {
			return n + 1
		}
	}
	return 0
}

func TestFlowRotationCoversEveryFlow(t *testing.T) {
	for _, flows := range []int{2, 4, 8, 32} {
		t.Run(fmt.Sprint(flows), func(t *testing.T) {
			states, probed, _ := simulatePath(t, flows, 3, 3*flows, badFlows())
			for w := 0; w+flows <= len(probed); w++ {
				window := slices.Clone(probed[w : w+flows])
				slices.Sort(window)
				if got := slices.Compact(window); len(got) != flows {
					t.Fatalf("intervals %d-%d probed flows %v: want each of %d once", w+1, w+flows, probed[w:w+flows], flows)
				}
			}
			for n, st := range states {
				if st.Status != StatusReachable || st.Partial() || len(st.Flows.Failing) != 0 {
					t.Fatalf("interval %d: healthy flows read as %s, partial %v", n+1, st.Status, st.Partial())
				}
			}
			if got := states[len(states)-1].Flows; got.Count != flows || got.Probed != flows {
				t.Errorf("Flows = %+v, want %d flows, all probed", got, flows)
			}
		})
	}
}

func TestFlowFaults(t *testing.T) {
	const threshold = 3
	for _, tc := range []struct {
		name      string
		flows     int
		fault     flowFault
		intervals int
		// partialBy is the last interval by which the path must be
		// partial (0: never partial); downBy the same for unreachable.
		partialBy, downBy int
		failing           []int // the failing flows at the end
		// mayMisread allows a spell of unreachable before the path is
		// partial: when most flows fail, the first ones probed may all
		// have failed (three flows that answered before, in a row), which
		// probing cannot tell from a peer down until a flow answers.
		mayMisread bool
	}{
		{name: "one bad flow of 8", flows: 8, fault: badFlows(5), intervals: 40,
			partialBy: 8 + threshold, failing: []int{5}},
		{name: "first flow bad", flows: 8, fault: badFlows(0), intervals: 40,
			partialBy: 1 + threshold, failing: []int{0}},
		{name: "two bad flows of 8", flows: 8, fault: badFlows(2, 6), intervals: 40,
			partialBy: 8 + threshold, failing: []int{2, 6}},
		{name: "one bad flow of 2", flows: 2, fault: badFlows(1), intervals: 20,
			partialBy: 2 + threshold, failing: []int{1}},
		{name: "peer down", flows: 8, fault: func(int, int) bool { return true }, intervals: 20,
			downBy: threshold},
		{name: "peer down after a healthy start", flows: 8, fault: func(_, n int) bool { return n > 10 }, intervals: 30,
			downBy: 10 + threshold},
		{name: "peer down while partial", flows: 8, fault: func(i, n int) bool { return i == 3 || n > 20 }, intervals: 40,
			partialBy: 8 + threshold, downBy: 20 + threshold + 1},
		{name: "six bad flows of 8", flows: 8, fault: badFlows(0, 1, 2, 4, 5, 7), intervals: 60,
			partialBy: 8 + 6*threshold, failing: []int{0, 1, 2, 4, 5, 7}, mayMisread: true},
		{name: "bad flow recovers", flows: 4, fault: func(i, n int) bool { return i == 1 && n <= 10 }, intervals: 30,
			partialBy: 4 + threshold},
		{name: "peer back from down", flows: 8, fault: func(_, n int) bool { return n <= 12 }, intervals: 30,
			downBy: threshold},
		{name: "peer back from down, one flow still bad", flows: 8, fault: func(i, n int) bool { return n <= 12 || i == 6 }, intervals: 40,
			downBy: threshold, partialBy: 12 + 8 + threshold, failing: []int{6}},
		{name: "a lost probe now and then", flows: 8, fault: func(i, n int) bool { return n%7 == 0 }, intervals: 60},
	} {
		t.Run(tc.name, func(t *testing.T) {
			states, probed, crossed := simulatePath(t, tc.flows, threshold, tc.intervals, tc.fault)
			partial := firstInterval(states, PathState.Partial)
			down := firstInterval(states, func(st PathState) bool { return st.Status == StatusUnreachable })
			switch {
			case tc.partialBy == 0 && partial != 0:
				t.Errorf("partial in interval %d, want never (probed %v)", partial, probed)
			case tc.partialBy != 0 && (partial == 0 || partial > tc.partialBy):
				t.Errorf("partial first in interval %d, want by %d (probed %v)", partial, tc.partialBy, probed)
			}
			switch {
			case tc.downBy == 0 && down != 0 && !tc.mayMisread:
				t.Errorf("unreachable in interval %d, want never (probed %v)", down, probed)
			case tc.downBy != 0 && (down == 0 || down > tc.downBy):
				t.Errorf("unreachable first in interval %d, want by %d", down, tc.downBy)
			}
			if down != 0 && partial != 0 && partial < down && tc.partialBy == 0 {
				t.Errorf("a peer going down read as partial first (interval %d)", partial)
			}
			last := states[len(states)-1]
			var failing []int
			for _, f := range last.Flows.Failing {
				failing = append(failing, f.Index)
			}
			if tc.downBy == 0 {
				if !slices.Equal(failing, tc.failing) {
					t.Errorf("failing flows at the end %v, want %v", failing, tc.failing)
				}
			}
			if tc.failing != nil && tc.downBy == 0 {
				if !last.Partial() || last.Status != StatusReachable {
					t.Errorf("end: status %s, partial %v; want reachable and partial", last.Status, last.Partial())
				}
				for _, i := range tc.failing {
					if !slices.Contains(crossed, i) {
						t.Errorf("flow %d failing but the hook was not told (crossed %v)", i, crossed)
					}
				}
			}
		})
	}
}

func TestFlowFailingFirstThenRotation(t *testing.T) {
	// Flow 2 of 4 fails in interval 3 only: the next flow in rotation
	// answers (the peer is up), then flow 2 is probed again (failing
	// first), then the rotation goes on where it was.
	_, probed, _ := simulatePath(t, 4, 3, 9, func(i, n int) bool { return i == 2 && n == 3 })
	if want := []int{0, 1, 2, 3, 2, 0, 1, 2, 3}; !slices.Equal(probed, want) {
		t.Errorf("probed %v, want %v", probed, want)
	}
	// Flow 1 fails for good: the next flow answers, flow 1 is probed
	// until it fails past the threshold, then waits for its turn: the
	// others are still covered.
	_, probed, crossed := simulatePath(t, 4, 3, 14, badFlows(1))
	if want := []int{0, 1, 2, 1, 1, 3, 0, 1, 2, 3, 0, 1, 2, 3}; !slices.Equal(probed, want) {
		t.Errorf("probed %v, want %v", probed, want)
	}
	if !slices.Equal(crossed, []int{1}) {
		t.Errorf("hook told about flows %v, want [1] once", crossed)
	}
}

func TestFlowSetupErrorIsNotAFlowFailure(t *testing.T) {
	store := NewStore(1)
	target := Target{Peer: "p", Path: PathHost, Protocol: ProtocolHTTP, IP: netip.MustParseAddr("198.18.0.1")}
	store.Retain([]Target{target})
	ids := func(Target) []Flow { return []Flow{{SourcePort: 60001}, {SourcePort: 60002}} }
	_, i, _ := store.PickFlow(target, ids)
	st, crossed, _ := store.RecordFlow(target, i, Outcome{Result: ResultError, Err: fmt.Errorf("%w: port taken", ErrFlowSetup)}, time.Now())
	if crossed != nil || len(st.Flows.Failing) != 0 || st.Partial() {
		t.Errorf("a flow that could not be set up counts as failing: %+v", st.Flows)
	}
}

func TestFlowIDs(t *testing.T) {
	probes := map[Protocol]FlowProbeFunc{ProtocolHTTP: nopFlowProbe, ProtocolICMP: nopFlowProbe}
	v4 := netip.MustParseAddr("198.18.0.1")
	v6 := netip.MustParseAddr("2001:db8::1")
	for _, tc := range []struct {
		name   string
		cfg    FlowConfig
		target Target
		want   int
		ports  bool
	}{
		{"one flow", FlowConfig{Flows: 1, FlowProbes: probes}, Target{Peer: "a", Protocol: ProtocolHTTP, IP: v4}, 0, false},
		{"http ipv4", FlowConfig{Flows: 8, FlowProbes: probes}, Target{Peer: "a", Protocol: ProtocolHTTP, IP: v4}, 8, true},
		{"http ipv6", FlowConfig{Flows: 8, FlowProbes: probes}, Target{Peer: "a", Protocol: ProtocolHTTP, IP: v6}, 8, true},
		{"icmp ipv4 cannot be spread", FlowConfig{Flows: 8, FlowProbes: probes}, Target{Peer: "a", Protocol: ProtocolICMP, IP: v4}, 0, false},
		{"icmp ipv6 labels", FlowConfig{Flows: 8, FlowProbes: probes}, Target{Peer: "a", Protocol: ProtocolICMP, IP: v6}, 8, false},
		{"no flow probe", FlowConfig{Flows: 8}, Target{Peer: "a", Protocol: ProtocolHTTP, IP: v4}, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ids := tc.cfg.flowIDs(tc.target)
			if len(ids) != tc.want {
				t.Fatalf("%d flows, want %d", len(ids), tc.want)
			}
			labels := map[uint32]bool{}
			for i, f := range ids {
				labels[f.FlowLabel] = true
				if f.FlowLabel != FlowLabel(i) {
					t.Errorf("flow %d label %#x, want %#x", i, f.FlowLabel, FlowLabel(i))
				}
				if tc.ports && (f.SourcePort < DefaultFlowPorts.First || f.SourcePort > DefaultFlowPorts.Last) {
					t.Errorf("flow %d port %d outside %v", i, f.SourcePort, DefaultFlowPorts)
				}
				if !tc.ports && f.SourcePort != 0 {
					t.Errorf("ICMP flow %d has a source port %d", i, f.SourcePort)
				}
			}
			if len(labels) != len(ids) {
				t.Errorf("labels repeat: %v", ids)
			}
		})
	}
	// The node's name is part of the key: two daemons sharing an address
	// do not share 4-tuples, and a node keeps its flows across restarts.
	a := FlowConfig{Flows: 8, FlowProbes: probes, FlowKey: "node-1"}
	b := FlowConfig{Flows: 8, FlowProbes: probes, FlowKey: "node-2"}
	target := Target{Peer: "x", Path: PathHost, Protocol: ProtocolHTTP, IP: v4}
	if slices.Equal(a.flowIDs(target), b.flowIDs(target)) {
		t.Error("two nodes got the same flows")
	}
	if !slices.Equal(a.flowIDs(target), a.flowIDs(target)) {
		t.Error("a node's flows change from one call to the next")
	}
}

func TestFlowConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg  FlowConfig
		want string
	}{
		{FlowConfig{Flows: -1}, "Flows must be from 1 to 32, got -1"},
		{FlowConfig{Flows: 33}, "Flows must be from 1 to 32, got 33"},
		{FlowConfig{Flows: 8, FlowPorts: PortRange{60000, 60003}}, "Flows must fit in the 4 source ports of 60000-60003, got 8"},
		{FlowConfig{Flows: 8, FlowPorts: PortRange{0, 10}}, "FlowPorts source port range 0-10: want 1 <= first <= last"},
		{FlowConfig{Flows: 8}, ""},
		{FlowConfig{Flows: 0}, ""},
		{FlowConfig{Flows: 32, FlowPorts: PortRange{60000, 60031}}, ""},
	} {
		err := tc.cfg.validate()
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("validate(%+v) = %q, want %q", tc.cfg, got, tc.want)
		}
	}
}

func nopFlowProbe(context.Context, netip.Addr, Flow) Outcome { return Outcome{Result: ResultSuccess} }
