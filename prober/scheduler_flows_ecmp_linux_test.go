package prober

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/go-kit/log"

	"github.com/connectivity-exporter/connectivity_exporter/hello"
	"github.com/connectivity-exporter/connectivity_exporter/test/testbin"
)

// TestSchedulerFindsABadMemberInECMPLab: one member of an 8-way group drops
// everything it forwards. Probing over 8 sticky flows, one flow per path
// per round (a round is an interval: ProbeAll), every path with flows on
// both sides of the fault is partial within flows + threshold rounds,
// naming exactly the flows that cross the bad member; a path whose flows
// all avoid it stays reachable. Probing as before (--probe.flows=1), the
// same fault is missed (the kernel's random source port lands on the bad
// member now and then: scattered failures, below the threshold) or
// misread as the peer down, never seen as partial.
func TestSchedulerFindsABadMemberInECMPLab(t *testing.T) {
	const flows, threshold = 8, 3
	lab := newFlowLab(t, 8)
	var engine *ICMPEngine
	if err := lab.In(lab.Client, func() (err error) {
		engine, err = NewICMPEngine(ICMPConfig{Privileged: true})
		if err != nil {
			return err
		}
		// The engine opens each family's socket on its first probe: here,
		// in the client's namespace.
		for _, ip := range []netip.Addr{testbin.ECMPServer4, testbin.ECMPServer6} {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			o := engine.Probe(ctx, ip)
			cancel()
			if o.Result != ResultSuccess {
				return fmt.Errorf("ICMP to %s: %+v", ip, o)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { engine.Close() })

	// HTTP sockets are made in the client's namespace; the ICMP engine's
	// already are.
	inClient := func(p FlowProbeFunc) FlowProbeFunc {
		return func(ctx context.Context, ip netip.Addr, f Flow) (o Outcome) {
			_ = lab.In(lab.Client, func() error { o = p(ctx, ip, f); return nil })
			return o
		}
	}
	httpFlow := inClient(NewFlowHTTPProbe(HTTPConfig{Port: hello.DefaultPort, Path: hello.Path}))
	plainHTTP := NewHTTPProbe(HTTPConfig{Port: hello.DefaultPort, Path: hello.Path})
	probes := map[Protocol]ProbeFunc{
		ProtocolICMP: engine.Probe,
		ProtocolHTTP: func(ctx context.Context, ip netip.Addr) (o Outcome) {
			_ = lab.In(lab.Client, func() error { o = plainHTTP(ctx, ip); return nil })
			return o
		},
	}
	flowProbes := map[Protocol]FlowProbeFunc{
		ProtocolHTTP: httpFlow,
		ProtocolICMP: func(ctx context.Context, ip netip.Addr, f Flow) Outcome {
			return engine.ProbeFlow(ctx, ip, f.FlowLabel)
		},
	}
	// One peer per family, so that their flows' source ports differ.
	targets := []Target{
		{Peer: "server-v4", Path: PathHost, Protocol: ProtocolHTTP, IP: testbin.ECMPServer4},
		{Peer: "server-v6", Path: PathHost, Protocol: ProtocolHTTP, IP: testbin.ECMPServer6},
		{Peer: "server-v6", Path: PathHost, Protocol: ProtocolICMP, IP: testbin.ECMPServer6},
	}
	newSched := func(n int) (*Scheduler, *Store) {
		cfg := Config{Interval: time.Second, Timeout: 700 * time.Millisecond, MaxInFlight: 8}
		cfg.FlowConfig = FlowConfig{Flows: n, FlowProbes: flowProbes, FlowKey: "client"}
		store := NewStore(threshold)
		s, err := NewScheduler(cfg, probes, store, &recordingObserver{}, log.NewNopLogger())
		if err != nil {
			t.Fatal(err)
		}
		s.SetTargets(targets)
		return s, store
	}
	ctx := context.Background()

	// Healthy: every flow probed once, all answer. The member that
	// forwarded most is the one to break: flows surely cross it.
	sched, store := newSched(flows)
	if err := lab.Reset(); err != nil {
		t.Fatal(err)
	}
	for r := range flows {
		for _, st := range sched.ProbeAll(ctx) {
			if st.LastResult != ResultSuccess {
				t.Fatalf("healthy round %d: %s %s: %s", r, st.Peer, st.Protocol, st.LastError)
			}
		}
	}
	fwd, err := lab.Forwarded()
	if err != nil {
		t.Fatal(err)
	}
	bad := 0
	for i, n := range fwd {
		if n > fwd[bad] {
			bad = i
		}
	}
	if err := lab.SetFault(bad, testbin.Fault{Kind: testbin.FaultDropAll}); err != nil {
		t.Fatal(err)
	}
	t.Logf("member %d of %d drops everything (forwarded %v while healthy)", bad, len(fwd), fwd)

	// Which flows cross it: every flow probed directly, twice.
	onBad := map[Target][]int{}
	for _, tg := range targets {
		ids := sched.cfg.flowIDs(tg)
		for i, f := range ids {
			fails := 0
			for range 2 {
				pctx, cancel := context.WithTimeout(ctx, 700*time.Millisecond)
				if flowProbes[tg.Protocol](pctx, tg.IP, f).Result != ResultSuccess {
					fails++
				}
				cancel()
			}
			if fails == 1 {
				t.Fatalf("%s %s flow %d (%v) failed once in 2: not sticky", tg.Peer, tg.Protocol, i, f)
			}
			if fails == 2 {
				onBad[tg] = append(onBad[tg], i)
			}
		}
	}

	// Within flows + threshold rounds; where threshold flows or more cross
	// the member, the first flows probed may all fail in a row, which
	// reads as the peer down until a flow answers (then each failing flow
	// is confirmed in turn): up to threshold rounds per failing flow more.
	rounds := flows + threshold
	for _, ids := range onBad {
		if len(ids) >= threshold && len(ids) < flows {
			rounds = max(rounds, flows+threshold*len(ids))
		}
	}
	partialAt := map[Target]int{}
	for r := 1; r <= rounds; r++ {
		for _, st := range sched.ProbeAll(ctx) {
			if st.Partial() && partialAt[st.Target] == 0 {
				partialAt[st.Target] = r
			}
		}
	}
	partialSeen := 0
	for _, tg := range targets {
		st, _ := store.State(tg)
		var failing []int
		for _, f := range st.Flows.Failing {
			failing = append(failing, f.Index)
		}
		name := fmt.Sprintf("%s %s", tg.Peer, tg.Protocol)
		t.Logf("%s: flows on the bad member %v; after %d rounds: %s, partial from round %d, failing flows %v",
			name, onBad[tg], rounds, st.Status, partialAt[tg], failing)
		within := flows + threshold
		if n := len(onBad[tg]); n >= threshold {
			within = flows + threshold*n
		}
		switch n := len(onBad[tg]); n {
		case 0:
			if partialAt[tg] != 0 || st.Status != StatusReachable {
				t.Errorf("%s: no flow crosses the bad member, yet %s, partial from round %d", name, st.Status, partialAt[tg])
			}
		case flows:
			if st.Status != StatusUnreachable {
				t.Errorf("%s: every flow crosses the bad member, yet %s", name, st.Status)
			}
		default:
			partialSeen++
			if partialAt[tg] == 0 || partialAt[tg] > within || !slices.Equal(failing, onBad[tg]) || st.Status != StatusReachable {
				t.Errorf("%s: %d of %d flows cross the bad member: want partial within %d rounds naming flows %v; got %s, partial from round %d, failing %v",
					name, n, flows, within, onBad[tg], st.Status, partialAt[tg], failing)
			}
		}
	}
	if partialSeen == 0 {
		t.Fatalf("no path had flows on both sides of member %d: the lab spread nothing", bad)
	}

	// The same fault, probed as before.
	one, oneStore := newSched(1)
	failed := map[Target]int{}
	oneRounds := 3 * flows
	for range oneRounds {
		for _, st := range one.ProbeAll(ctx) {
			if st.Partial() {
				t.Fatalf("--probe.flows=1: %s %s partial", st.Peer, st.Protocol)
			}
			if st.LastResult != ResultSuccess {
				failed[st.Target]++
			}
		}
	}
	for _, tg := range targets {
		st, _ := oneStore.State(tg)
		t.Logf("--probe.flows=1: %s %s: %d of %d probes failed, %s (with %d flows: %d of them fail)",
			tg.Peer, tg.Protocol, failed[tg], oneRounds, st.Status, flows, len(onBad[tg]))
		if len(onBad[tg]) > 0 && len(onBad[tg]) < flows && st.Partial() {
			t.Errorf("--probe.flows=1 read %s %s as partial", tg.Peer, tg.Protocol)
		}
	}
}
