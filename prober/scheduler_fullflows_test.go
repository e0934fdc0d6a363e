package prober

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/go-kit/log"
)

// exchangeMode is what a fake SmallAndFullSize exchange does.
type exchangeMode int

const (
	exchangeHead      exchangeMode = iota // both verdicts
	exchangeNoHead                        // no small verdict: a black hole ate the head
	exchangeUnhandled                     // not for this target: two probes
)

// fullFlowLog fakes the probes of a path probed over flows with
// full-size turns, and keeps which flow each small verdict came from, per
// sweep.
type fullFlowLog struct {
	mode exchangeMode
	bad  *Flow // small probes over it fail with sick
	sick Outcome
	// large: full-size probes over it are lost (exchangeHead), its small
	// ones answer: a member that drops only large packets; largeAll: over
	// every flow (a black hole of the whole path).
	large    *Flow
	largeAll bool

	mu    sync.Mutex
	sweep int
	used  []flowUse
	plain int
}

type flowUse struct {
	sweep    int
	exchange bool // the one exchange, not a small probe on its own
	flow     Flow
}

func (l *fullFlowLog) small(f Flow) Outcome {
	if l.bad != nil && f == *l.bad {
		return l.sick
	}
	return Outcome{Result: ResultSuccess, RTT: time.Millisecond}
}

func (l *fullFlowLog) exchange(_ context.Context, _ Target, f Flow) (SmallAndFullSizeOutcome, bool) {
	if l.mode == exchangeUnhandled {
		return SmallAndFullSizeOutcome{}, false
	}
	l.mu.Lock()
	l.used = append(l.used, flowUse{sweep: l.sweep, exchange: true, flow: f})
	l.mu.Unlock()
	if l.mode == exchangeNoHead {
		return SmallAndFullSizeOutcome{FullSize: MTUOutcome{Result: MTUResultLost, Expected: 1500}}, true
	}
	full := MTUOutcome{Result: MTUResultOK, Expected: 1500}
	l.mu.Lock()
	if l.largeAll || (l.large != nil && f == *l.large) {
		full.Result = MTUResultLost
	}
	l.mu.Unlock()
	return SmallAndFullSizeOutcome{Small: l.small(f), SmallKnown: true, FullSize: full}, true
}

func (l *fullFlowLog) flowProbe(_ context.Context, _ netip.Addr, f Flow) Outcome {
	l.mu.Lock()
	l.used = append(l.used, flowUse{sweep: l.sweep, flow: f})
	l.mu.Unlock()
	return l.small(f)
}

func (l *fullFlowLog) plainProbe(context.Context, netip.Addr) Outcome {
	l.mu.Lock()
	l.plain++
	l.mu.Unlock()
	return Outcome{Result: ResultSuccess, RTT: time.Millisecond}
}

// fullFlowRun is a scheduler of one target over flows with a full-size
// turn every `every` sweeps, and what it told OnFlowFailing.
type fullFlowRun struct {
	s      *Scheduler
	store  *Store
	target Target
	flows  []Flow
	log    *fullFlowLog
	mu     sync.Mutex
	told   []FlowState
}

func newFullFlowRun(t *testing.T, l *fullFlowLog, target Target, flows, every, threshold int) *fullFlowRun {
	t.Helper()
	r := &fullFlowRun{target: target, log: l}
	cfg := Config{
		Interval: time.Hour, Timeout: time.Second, MaxInFlight: 1, Quantum: -1,
		MTUProbeEvery: every,
		MTUProbe: func(context.Context, Target) MTUOutcome {
			return MTUOutcome{Result: MTUResultOK, Expected: 1500}
		},
		SmallAndFullSize: l.exchange,
	}
	cfg.Flows = flows
	cfg.FlowProbes = map[Protocol]FlowProbeFunc{ProtocolHTTP: l.flowProbe, ProtocolICMP: l.flowProbe}
	cfg.FlowKey = "node-0"
	cfg.OnFlowFailing = func(_ PathState, f FlowState) {
		r.mu.Lock()
		r.told = append(r.told, f)
		r.mu.Unlock()
	}
	r.flows = cfg.flowIDs(target)
	r.store = NewStore(threshold)
	s, err := NewScheduler(cfg, map[Protocol]ProbeFunc{ProtocolICMP: l.plainProbe, ProtocolHTTP: l.plainProbe}, r.store, &recordingObserver{}, log.NewNopLogger())
	if err != nil {
		t.Fatal(err)
	}
	r.s = s
	s.SetTargets([]Target{target})
	return r
}

// sweep runs one sweep to its end (counted, not timed) and returns the
// path's state.
func (r *fullFlowRun) sweep(t *testing.T, n int) PathState {
	r.log.mu.Lock()
	r.log.sweep = n
	r.log.mu.Unlock()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var inFlight sync.WaitGroup
	r.s.runCycle(t.Context(), time.Now(), []Target{r.target}, timer, &inFlight)
	inFlight.Wait()
	st, _ := r.store.State(r.target)
	return st
}

// smallFlows is the flow each sweep's small verdict came from: the
// exchange's where it gave one, else the small probe's on its own, which
// must go over the exchange's flow where both went.
func (r *fullFlowRun) smallFlows(t *testing.T, sweeps int) []Flow {
	t.Helper()
	r.log.mu.Lock()
	defer r.log.mu.Unlock()
	out := make([]Flow, sweeps)
	seen := make([]int, sweeps)
	for _, u := range r.log.used {
		if seen[u.sweep] > 0 && out[u.sweep] != u.flow {
			t.Errorf("sweep %d: probes over flows %v and %v, want one flow a sweep", u.sweep, out[u.sweep], u.flow)
		}
		out[u.sweep] = u.flow
		seen[u.sweep]++
	}
	for i, n := range seen {
		if n == 0 {
			t.Errorf("sweep %d: no probe over a flow", i)
		}
	}
	return out
}

func TestSchedulerFullSizeTurnsGoOverTheSweepsFlow(t *testing.T) {
	const flows, every, threshold = 4, 2, 3
	for _, tc := range []struct {
		name     string
		protocol Protocol
		ip       string
		mode     exchangeMode
	}{
		{"HTTP: the head gives the flow's verdict", ProtocolHTTP, "198.18.0.1", exchangeHead},
		{"HTTP: no head, the small probe on the same flow", ProtocolHTTP, "198.18.0.1", exchangeNoHead},
		{"HTTP: no exchange, the small probe on the flow", ProtocolHTTP, "198.18.0.1", exchangeUnhandled},
		{"ICMPv6: the echo pair carries the flow", ProtocolICMP, "2001:db8::1", exchangeHead},
	} {
		target := Target{Peer: "node-1", Path: PathHost, Protocol: tc.protocol, IP: netip.MustParseAddr(tc.ip)}
		t.Run(tc.name+"/every flow within F sweeps", func(t *testing.T) {
			l := &fullFlowLog{mode: tc.mode}
			r := newFullFlowRun(t, l, target, flows, every, threshold)
			const sweeps = 3 * flows
			for n := range sweeps {
				if st := r.sweep(t, n); st.Status != StatusReachable || st.Partial() {
					t.Fatalf("sweep %d: path %s, partial %v: every flow answers", n, st.Status, st.Partial())
				}
			}
			got := r.smallFlows(t, sweeps)
			for start := 0; start+flows <= sweeps; start++ {
				covered := map[Flow]bool{}
				for _, f := range got[start : start+flows] {
					covered[f] = true
				}
				if len(covered) != flows {
					t.Errorf("sweeps %d to %d covered %d of %d flows: %v", start, start+flows-1, len(covered), flows, got[start:start+flows])
				}
			}
			// One full-size turn every `every` sweeps; where its probe is
			// lost on a flow not yet known to lose them, it is confirmed
			// at once over the same flow (smallFlows: one flow a sweep).
			bySweep := map[int]int{}
			for _, u := range l.used {
				if u.exchange {
					bySweep[u.sweep]++
				}
			}
			if tc.mode != exchangeUnhandled && len(bySweep) != sweeps/every {
				t.Errorf("exchanges in %d sweeps of %d, want %d (one a full-size turn): %v", len(bySweep), sweeps, sweeps/every, bySweep)
			}
			for sweep, n := range bySweep {
				want := 1
				if tc.mode == exchangeNoHead && n > 1 {
					want = MTULossThreshold
				}
				if n != want {
					t.Errorf("sweep %d: %d exchanges, want %d", sweep, n, want)
				}
			}
			if tc.mode == exchangeNoHead && bySweep[0] != MTULossThreshold {
				t.Errorf("the first full-size turn's loss was not confirmed at once: %d exchanges", bySweep[0])
			}
			if l.plain != 0 {
				t.Errorf("%d small probes without a flow", l.plain)
			}
		})
		t.Run(tc.name+"/a failing flow", func(t *testing.T) {
			for _, sick := range []struct {
				name    string
				outcome Outcome
				failing bool
			}{
				{"lost", Outcome{Result: ResultTimeout, Err: errICMPNoReply}, true},
				{"flow setup error", Outcome{Result: ResultError, Err: fmt.Errorf("%w: binding source port: address in use", ErrFlowSetup)}, false},
			} {
				t.Run(sick.name, func(t *testing.T) {
					l := &fullFlowLog{mode: tc.mode, sick: sick.outcome}
					r := newFullFlowRun(t, l, target, flows, every, threshold)
					l.bad = &r.flows[1]
					partialBy := -1
					const sweeps = 2*flows + threshold
					var st PathState
					for n := range sweeps {
						st = r.sweep(t, n)
						if st.Partial() && partialBy < 0 {
							partialBy = n + 1
						}
					}
					if st.Status != StatusReachable {
						t.Errorf("path %s: one flow of %d fails, want reachable", st.Status, flows)
					}
					if !sick.failing {
						if partialBy >= 0 || len(r.told) != 0 {
							t.Errorf("a flow that cannot be set up here counted as failing: partial from sweep %d, hook told %+v", partialBy, r.told)
						}
						return
					}
					if partialBy < 0 || partialBy > flows+threshold {
						t.Errorf("partial first after sweep %d, want by %d", partialBy, flows+threshold)
					}
					if len(r.told) != 1 || r.told[0].Index != 1 || r.told[0].Flow != *l.bad {
						t.Errorf("hook told %+v, want flow 1 (%v) once", r.told, *l.bad)
					}
					if len(st.Flows.Failing) != 1 || st.Flows.Failing[0].Flow != *l.bad {
						t.Errorf("failing flows %+v, want flow 1 (%v)", st.Flows.Failing, *l.bad)
					}
				})
			}
		})
	}
}

// A path without flows (IPv4 ICMP has one) gets its exchange without one
// and its small verdicts recorded for the path.
func TestSchedulerFullSizeTurnWithoutFlows(t *testing.T) {
	l := &fullFlowLog{mode: exchangeHead}
	target := Target{Peer: "node-1", Path: PathHost, Protocol: ProtocolICMP, IP: netip.MustParseAddr("198.18.0.1")}
	r := newFullFlowRun(t, l, target, 4, 2, 3)
	const sweeps = 4
	for n := range sweeps {
		if st := r.sweep(t, n); st.Status != StatusReachable || st.Flows.Count != 0 {
			t.Fatalf("sweep %d: path %s with %d flows, want reachable without flows", n, st.Status, st.Flows.Count)
		}
	}
	for _, u := range l.used {
		if !u.exchange || u.flow != (Flow{}) {
			t.Errorf("sweep %d: %+v, want only exchanges, without a flow", u.sweep, u)
		}
	}
	if len(l.used) != sweeps/2 || l.plain != sweeps/2 {
		t.Errorf("%d exchanges and %d small probes in %d sweeps, want %d each", len(l.used), l.plain, sweeps, sweeps/2)
	}
}

// A flow that loses only its full-size probes (a member of an equal-cost
// group dropping large packets) makes the path a black hole at the first
// full-size turn over it, confirmed at once over the same flow, while every
// flow's small probes answer: never partial. Turns cross every flow within
// fullSizeSpan's groups, so the bound is the sweeps until a turn falls on
// it.
func TestSchedulerFindsAFlowThatDropsOnlyLargePackets(t *testing.T) {
	const flows, every, threshold = 8, 4, 3
	for _, tc := range []struct {
		name     string
		protocol Protocol
		ip       string
	}{
		{"HTTP", ProtocolHTTP, "198.18.0.1"},
		{"ICMPv6", ProtocolICMP, "2001:db8::1"},
	} {
		for bad := range flows {
			t.Run(fmt.Sprintf("%s/flow %d", tc.name, bad), func(t *testing.T) {
				target := Target{Peer: "node-1", Path: PathHost, Protocol: tc.protocol, IP: netip.MustParseAddr(tc.ip)}
				l := &fullFlowLog{mode: exchangeHead}
				r := newFullFlowRun(t, l, target, flows, every, threshold)
				l.large = &r.flows[bad]
				bound := 4 * flows * every // TestFullSizeTurnsCoverEveryFlow's window
				for n := range bound {
					st := r.sweep(t, n)
					if st.Status != StatusReachable || st.Partial() {
						t.Fatalf("sweep %d: path %s, partial %v: every flow's small probes answer", n, st.Status, st.Partial())
					}
					if st.MTU.Status != MTUStatusBlackhole {
						continue
					}
					if st.MTU.BlackholeFlows != 1 {
						t.Errorf("%d flows black-holed, want 1", st.MTU.BlackholeFlows)
					}
					// The turn that found it: two exchanges over the flow.
					found := 0
					for _, u := range l.used {
						if u.exchange && u.sweep == n && u.flow == *l.large {
							found++
						}
					}
					if found != MTULossThreshold {
						t.Errorf("sweep %d: %d exchanges over the flow, want %d (the loss confirmed at once)", n, found, MTULossThreshold)
					}
					return
				}
				t.Fatalf("no black hole within %d sweeps", bound)
			})
		}
	}
}

// A black hole of the whole path, found on several flows, clears at the
// first turn after it healed: a full-size probe that gets through has the
// black-holed flows probed again at once.
func TestSchedulerClearsAHealedBlackHoleAtOnce(t *testing.T) {
	const flows, every, threshold = 8, 2, 3
	target := Target{Peer: "node-1", Path: PathHost, Protocol: ProtocolHTTP, IP: netip.MustParseAddr("198.18.0.1")}
	l := &fullFlowLog{mode: exchangeHead, largeAll: true}
	r := newFullFlowRun(t, l, target, flows, every, threshold)
	n := 0
	for ; n < 10*every; n++ {
		if st := r.sweep(t, n); st.MTU.BlackholeFlows >= 3 {
			break
		}
	}
	st, _ := r.store.State(target)
	if st.MTU.Status != MTUStatusBlackhole || st.MTU.BlackholeFlows < 3 {
		t.Fatalf("after %d sweeps: MTU %s on %d flows, want a black hole on 3 or more", n, st.MTU.Status, st.MTU.BlackholeFlows)
	}
	l.mu.Lock()
	l.largeAll = false
	l.mu.Unlock()
	for k := 1; k <= every; k++ {
		st = r.sweep(t, n+k)
		if st.MTU.LastResult == MTUResultOK {
			break
		}
	}
	if st.MTU.Status != MTUStatusOK || st.MTU.BlackholeFlows != 0 || len(r.store.BlackholedFlows(target)) != 0 {
		t.Errorf("the turn after the black hole healed: MTU %s, %d flows black-holed, want ok and none", st.MTU.Status, st.MTU.BlackholeFlows)
	}
}
