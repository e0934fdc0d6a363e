package prober

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// eventLog is an Observer that keeps the order of small and full-size
// verdicts.
type eventLog struct {
	mu     sync.Mutex
	events []string // "small:<result>" or "mtu:<result>"
	recordingObserver
}

func (e *eventLog) ProbeDone(_ PathState, o Outcome) {
	e.mu.Lock()
	e.events = append(e.events, "small:"+string(o.Result))
	e.mu.Unlock()
}

func (e *eventLog) MTUProbeDone(_ PathState, o MTUOutcome) {
	e.mu.Lock()
	e.events = append(e.events, "mtu:"+string(o.Result))
	e.mu.Unlock()
}

func TestSchedulerProbesSmallAndFullSizeInOneExchange(t *testing.T) {
	ok := Outcome{Result: ResultSuccess, RTT: time.Millisecond}
	refused := Outcome{Result: ResultRefused, Err: errHTTPRefused}
	for _, tc := range []struct {
		name     string
		protocol Protocol
		both     SmallAndFullSizeOutcome
		handled  bool // the exchange gives the full-size verdict
		small    Outcome
		// wantSmallProbes and wantMTUProbes count the probes sent on
		// their own, wantExchanges the exchanges (1 unless set); wantEvents
		// is what the observer hears, in order.
		wantSmallProbes, wantMTUProbes, wantExchanges int
		wantEvents                                    []string
		wantStatus                                    Status
	}{
		{
			name: "both verdicts from one exchange", protocol: ProtocolHTTP, handled: true,
			both:  SmallAndFullSizeOutcome{Small: ok, SmallKnown: true, FullSize: MTUOutcome{Result: MTUResultOK, Expected: 1500}},
			small: ok, wantEvents: []string{"small:success", "mtu:ok"}, wantStatus: StatusReachable,
		},
		{
			// The loss is confirmed at once: a second exchange, and
			// its small probe on its own again.
			name: "a black hole: no head, the small probe on its own, confirmed at once", protocol: ProtocolHTTP, handled: true,
			both:            SmallAndFullSizeOutcome{FullSize: MTUOutcome{Result: MTUResultLost, Expected: 1500}},
			small:           ok,
			wantSmallProbes: 2, wantExchanges: 2, wantEvents: []string{"small:success", "mtu:lost", "small:success", "mtu:lost"}, wantStatus: StatusReachable,
		},
		{
			name: "no connection: the small verdict too, no second try", protocol: ProtocolHTTP, handled: true,
			both:  SmallAndFullSizeOutcome{Small: refused, SmallKnown: true, FullSize: MTUOutcome{Result: MTUResultError, Expected: 1500}},
			small: ok, wantEvents: []string{"small:refused", "mtu:error"}, wantStatus: StatusUnknown,
		},
		{
			name: "ICMP: small probe, then full-size probe", protocol: ProtocolICMP, handled: false,
			small:           ok,
			wantSmallProbes: 1, wantMTUProbes: 1, wantEvents: []string{"small:success", "mtu:ok"}, wantStatus: StatusReachable,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var smallProbes, mtuProbes, exchanges atomic.Int32
			obs := &eventLog{}
			cfg := Config{
				Interval: time.Hour, Timeout: time.Second, MaxInFlight: 1, MTUProbeEvery: 1,
				MTUProbe: func(context.Context, Target) MTUOutcome {
					mtuProbes.Add(1)
					return MTUOutcome{Result: MTUResultOK, Expected: 1500}
				},
				SmallAndFullSize: func(_ context.Context, t Target, _ Flow) (SmallAndFullSizeOutcome, bool) {
					exchanges.Add(1)
					if t.Protocol != ProtocolHTTP {
						return SmallAndFullSizeOutcome{}, false
					}
					return tc.both, tc.handled
				},
			}
			small := func(context.Context, netip.Addr) Outcome {
				smallProbes.Add(1)
				return tc.small
			}
			s, store := newTestScheduler(t, cfg, small, obs)
			target := Target{Peer: "node-1", Path: PathHost, Protocol: tc.protocol, IP: netip.MustParseAddr("198.18.0.1")}
			s.SetTargets([]Target{target})
			var sweep, fullSize sync.WaitGroup
			if !s.launch(t.Context(), &sweep, target, &fullSize) {
				t.Fatal("not launched")
			}
			sweep.Wait()
			fullSize.Wait()
			if n := exchanges.Load(); int(n) != max(tc.wantExchanges, 1) {
				t.Errorf("%d exchanges asked for, want %d", n, max(tc.wantExchanges, 1))
			}
			if n := smallProbes.Load(); int(n) != tc.wantSmallProbes {
				t.Errorf("%d small probes on their own, want %d", n, tc.wantSmallProbes)
			}
			if n := mtuProbes.Load(); int(n) != tc.wantMTUProbes {
				t.Errorf("%d full-size probes on their own, want %d", n, tc.wantMTUProbes)
			}
			obs.mu.Lock()
			events := obs.events
			obs.mu.Unlock()
			if len(events) != len(tc.wantEvents) {
				t.Fatalf("observer heard %v, want %v", events, tc.wantEvents)
			}
			for i := range events {
				if events[i] != tc.wantEvents[i] {
					t.Fatalf("observer heard %v, want %v", events, tc.wantEvents)
				}
			}
			st, _ := store.State(target)
			if st.LastResult != tc.small.Result && tc.wantSmallProbes == 1 {
				t.Errorf("state %+v: the small probe's result was not recorded", st)
			}
			if st.Status != tc.wantStatus {
				t.Errorf("path status %s, want %s", st.Status, tc.wantStatus)
			}
		})
	}
}

// An MTU black hole is reported at the first full-size turn after its
// start, that is within MTUProbeEvery sweeps: the turn's lost probe is
// confirmed at once (FullSizeDetectionBound, the README's bound, under 5
// minutes at the defaults: see
// TestDefaultsFindMTUBlackHolesWithinFiveMinutes), whether the full-size
// probe rides the small one's connection (HTTP) or goes with its echo
// (ICMP), or follows the small probe (no SmallAndFullSize), and whether
// the path is probed over flows (the exchange then goes over the sweep's
// flow) or not. The sweeps are run one at a time, each to its end:
// counted, not timed.
func TestSchedulerFindsABlackHoleWithinTheBound(t *testing.T) {
	const every = 4
	type testCase struct {
		protocol Protocol
		together bool // Config.SmallAndFullSize set
		flows    int  // Config.Flows
	}
	var cases []testCase
	for _, flows := range []int{1, 8} {
		for _, together := range []bool{true, false} {
			for _, p := range []Protocol{ProtocolHTTP, ProtocolICMP} {
				cases = append(cases, testCase{p, together, flows})
			}
		}
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%s/together=%v/flows=%d", tc.protocol, tc.together, tc.flows), func(t *testing.T) {
			hole := false // read by the probes of a sweep, set between sweeps
			fullSize := func() MTUOutcome {
				if hole {
					return MTUOutcome{Result: MTUResultLost, Expected: 1500}
				}
				return MTUOutcome{Result: MTUResultOK, Expected: 1500}
			}
			ok := Outcome{Result: ResultSuccess, RTT: time.Millisecond}
			cfg := Config{
				Interval: time.Hour, Timeout: time.Second, MaxInFlight: 4, Quantum: -1,
				MTUProbeEvery: every,
				MTUProbe:      func(context.Context, Target) MTUOutcome { return fullSize() },
			}
			if tc.together {
				cfg.SmallAndFullSize = func(_ context.Context, _ Target, f Flow) (SmallAndFullSizeOutcome, bool) {
					if (tc.flows > 1) != (f != Flow{}) {
						t.Errorf("exchange over flow %v with %d flows", f, tc.flows)
					}
					o := fullSize()
					// A black hole drops an HTTP answer's head with it; two
					// echoes are two verdicts.
					known := tc.protocol == ProtocolICMP || o.Result == MTUResultOK
					return SmallAndFullSizeOutcome{Small: ok, SmallKnown: known, FullSize: o}, true
				}
			}
			// With flows every small probe goes over one: an IPv6 path
			// (IPv4 ICMP has a single flow).
			var plain, overFlows atomic.Int32
			ip := netip.MustParseAddr("198.18.0.1")
			if tc.flows > 1 {
				ip = netip.MustParseAddr("2001:db8::1")
				flowProbe := func(context.Context, netip.Addr, Flow) Outcome {
					overFlows.Add(1)
					return ok
				}
				cfg.Flows, cfg.FlowKey = tc.flows, "node-0"
				cfg.FlowProbes = map[Protocol]FlowProbeFunc{ProtocolHTTP: flowProbe, ProtocolICMP: flowProbe}
			}
			s, store := newTestScheduler(t, cfg, func(context.Context, netip.Addr) Outcome { plain.Add(1); return ok }, &recordingObserver{})
			target := Target{Peer: "node-1", Path: PathHost, Protocol: tc.protocol, IP: ip}
			s.SetTargets([]Target{target})
			t.Cleanup(func() {
				if tc.flows > 1 && (plain.Load() != 0 || overFlows.Load() == 0) {
					t.Errorf("%d small probes without a flow and %d over flows, want all over flows", plain.Load(), overFlows.Load())
				}
			})
			timer := time.NewTimer(time.Hour)
			timer.Stop()
			sweep := func() PathState {
				var inFlight sync.WaitGroup
				s.runCycle(t.Context(), time.Now(), []Target{target}, timer, &inFlight)
				inFlight.Wait()
				st, _ := store.State(target)
				return st
			}
			// The first sweep is the target's full-size turn: the path is
			// whole, then the hole opens right after it, the longest wait
			// for the next two turns.
			if st := sweep(); st.MTU.Status != MTUStatusOK {
				t.Fatalf("MTU status %s after a whole full-size probe, want ok", st.MTU.Status)
			}
			hole = true
			for n := 1; n <= 10*every; n++ {
				st := sweep()
				if st.Status != StatusReachable {
					t.Fatalf("sweep %d: path %s, small probes must stay green", n, st.Status)
				}
				if st.MTU.Status == MTUStatusBlackhole {
					// A full-size probe sent on its own carries no flow: on a
					// path with flows its losses count once every flow has
					// answered since they began (Store.RecordMTU), up to
					// flows sweeps later, and a loss is not confirmed at
					// once.
					bound := every
					if tc.flows > 1 && !tc.together {
						bound = MTULossThreshold*every + tc.flows
					}
					if n > bound {
						t.Errorf("black hole reported %d sweeps after it opened, want at most %d", n, bound)
					}
					return
				}
			}
			t.Fatalf("no black hole reported within %d sweeps", 10*every)
		})
	}
}
