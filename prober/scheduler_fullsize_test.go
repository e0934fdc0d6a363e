package prober

import (
	"context"
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
		// their own; wantEvents is what the observer hears, in order.
		wantSmallProbes, wantMTUProbes int
		wantEvents                     []string
		wantStatus                     Status
	}{
		{
			name: "both verdicts from one exchange", protocol: ProtocolHTTP, handled: true,
			both:  SmallAndFullSizeOutcome{Small: ok, SmallKnown: true, FullSize: MTUOutcome{Result: MTUResultOK, Expected: 1500}},
			small: ok, wantEvents: []string{"small:success", "mtu:ok"}, wantStatus: StatusReachable,
		},
		{
			name: "a black hole: no head, the small probe on its own", protocol: ProtocolHTTP, handled: true,
			both:            SmallAndFullSizeOutcome{FullSize: MTUOutcome{Result: MTUResultLost, Expected: 1500}},
			small:           ok,
			wantSmallProbes: 1, wantEvents: []string{"small:success", "mtu:lost"}, wantStatus: StatusReachable,
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
				SmallAndFullSize: func(_ context.Context, t Target) (SmallAndFullSizeOutcome, bool) {
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
			if n := exchanges.Load(); n != 1 {
				t.Errorf("%d exchanges asked for, want 1", n)
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

// An MTU black hole is reported within MTULossThreshold full-size turns
// of its start, that is within MTULossThreshold × MTUProbeEvery sweeps
// (the README's bound, under 5 minutes at the defaults: see
// TestDefaultsFindMTUBlackHolesWithinFiveMinutes), whether the full-size
// probe rides the small one's connection (HTTP) or goes on its own (ICMP).
// Counted in sweeps, not in time.
func TestSchedulerFindsABlackHoleWithinTheBound(t *testing.T) {
	const every = 4
	for _, protocol := range []Protocol{ProtocolHTTP, ProtocolICMP} {
		t.Run(string(protocol), func(t *testing.T) {
			var hole atomic.Bool
			lost := func() MTUOutcome {
				if hole.Load() {
					return MTUOutcome{Result: MTUResultLost, Expected: 1500}
				}
				return MTUOutcome{Result: MTUResultOK, Expected: 1500}
			}
			ok := Outcome{Result: ResultSuccess, RTT: time.Millisecond}
			cfg := Config{
				Interval: 20 * time.Millisecond, Timeout: time.Second, MaxInFlight: 4, Quantum: -1,
				MTUProbeEvery: every,
				MTUProbe:      func(context.Context, Target) MTUOutcome { return lost() },
				SmallAndFullSize: func(_ context.Context, t Target) (SmallAndFullSizeOutcome, bool) {
					if t.Protocol != ProtocolHTTP {
						return SmallAndFullSizeOutcome{}, false
					}
					o := lost()
					// A black hole drops the head with the answer.
					return SmallAndFullSizeOutcome{Small: ok, SmallKnown: o.Result == MTUResultOK, FullSize: o}, true
				},
			}
			obs := &sweepCounter{hole: &hole}
			s, store := newTestScheduler(t, cfg, func(context.Context, netip.Addr) Outcome { return ok }, obs)
			target := Target{Peer: "node-1", Path: PathHost, Protocol: protocol, IP: netip.MustParseAddr("198.18.0.1")}
			s.SetTargets([]Target{target})
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			done := make(chan struct{})
			go func() { s.Run(ctx); close(done) }()
			defer func() { cancel(); <-done }()

			// Let the path settle on "ok", then open the hole just after a
			// full-size turn: the longest wait for the next two.
			obs.waitMTU(ctx, t, MTUStatusOK)
			hole.Store(true)
			obs.waitMTU(ctx, t, MTUStatusBlackhole)
			sweeps := obs.smallSinceHole.Load()
			if sweeps > MTULossThreshold*every {
				t.Errorf("black hole reported %d sweeps after it opened, want at most %d", sweeps, MTULossThreshold*every)
			}
			if st, _ := store.State(target); st.Status != StatusReachable {
				t.Errorf("path %s: small probes must stay green", st.Status)
			}
		})
	}
}

// sweepCounter counts a single target's small verdicts (one a sweep) since
// the hole opened, and tells the MTU statuses.
type sweepCounter struct {
	recordingObserver
	hole           *atomic.Bool
	smallSinceHole atomic.Int32
	mu             sync.Mutex
	status         MTUStatus
	changed        chan struct{}
}

func (c *sweepCounter) ProbeDone(PathState, Outcome) {
	if c.hole.Load() {
		c.smallSinceHole.Add(1)
	}
}

func (c *sweepCounter) MTUProbeDone(st PathState, _ MTUOutcome) {
	c.mu.Lock()
	c.status = st.MTU.Status
	if c.changed != nil {
		close(c.changed)
		c.changed = nil
	}
	c.mu.Unlock()
}

// waitMTU waits for a full-size verdict that leaves the path at want.
func (c *sweepCounter) waitMTU(ctx context.Context, t *testing.T, want MTUStatus) {
	t.Helper()
	for {
		c.mu.Lock()
		ch := make(chan struct{})
		c.changed = ch
		c.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			t.Fatalf("MTU status never became %s", want)
		}
		c.mu.Lock()
		got := c.status
		c.mu.Unlock()
		if got == want {
			return
		}
	}
}
