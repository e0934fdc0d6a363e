package prober

import (
	"context"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestFullSizeTurnsAreSpread(t *testing.T) {
	const every, targets = 4, 10
	s := &Scheduler{cfg: Config{MTUProbeEvery: every, MTUProbe: func(context.Context, Target) MTUOutcome { return MTUOutcome{} }}}
	perTarget := make([]int, targets)
	for c := range every {
		perCycle := 0
		for i := range targets {
			if s.mtuProbeDue(c, i) {
				perTarget[i]++
				perCycle++
			}
		}
		// Spread like the small probes: a quarter of the targets each cycle.
		if perCycle < targets/every || perCycle > targets/every+1 {
			t.Errorf("cycle %d: %d full-size probes, want about %d", c, perCycle, targets/every)
		}
	}
	for i, n := range perTarget {
		if n != 1 {
			t.Errorf("target %d: %d full-size probes in %d cycles, want 1", i, n, every)
		}
	}
	s.cfg.MTUProbeEvery = 0
	if s.mtuProbeDue(0, 0) {
		t.Error("full-size probe due with MTUProbeEvery 0")
	}
}

func TestSchedulerRunsFullSizeProbesAfterSmallOnes(t *testing.T) {
	obs := &recordingObserver{}
	var mu sync.Mutex
	fullSize := map[string]int{}
	cfg := Config{
		Interval: 40 * time.Millisecond, Timeout: time.Second, MaxInFlight: 8, Quantum: -1,
		MTUProbeEvery: 2,
		MTUProbe: func(_ context.Context, t Target) MTUOutcome {
			mu.Lock()
			fullSize[t.Peer]++
			mu.Unlock()
			return MTUOutcome{Result: MTUResultLost, Expected: 1500}
		},
	}
	small := func(context.Context, netip.Addr) Outcome {
		return Outcome{Result: ResultSuccess, RTT: time.Millisecond}
	}
	s, store := newTestScheduler(t, cfg, small, obs)
	ts := peers(4)
	s.SetTargets(ts)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	for ctx.Err() == nil {
		mu.Lock()
		enough := len(fullSize) == len(ts) && fullSize[ts[0].Peer] >= 2 && fullSize[ts[1].Peer] >= 2
		mu.Unlock()
		if enough {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	obs.mu.Lock()
	total, smallProbes := len(obs.mtu), len(obs.probes)
	obs.mu.Unlock()
	if total == 0 {
		t.Fatal("the observer heard of no full-size probe")
	}
	// Small probes succeed and full-size ones are lost: a black hole once
	// two were lost in a row.
	st, _ := store.State(ts[0])
	if st.MTU.Status != MTUStatusBlackhole {
		t.Errorf("MTU status %s after lost full-size probes with working small ones, want blackhole", st.MTU.Status)
	}
	if total > smallProbes/2+len(ts) {
		t.Errorf("%d full-size probes for %d small ones, want about half with MTUProbeEvery 2", total, smallProbes)
	}
}

// A sweep lasts as long as its small probes: slow full-size probes (a dead
// peer's wait twice the timeout) must not make it overrun.
func TestCycleDurationLeavesFullSizeProbesOut(t *testing.T) {
	obs := &recordingObserver{}
	slow := 300 * time.Millisecond
	var started, finished atomic.Int32
	cfg := Config{
		Interval: 40 * time.Millisecond, Timeout: time.Second, MaxInFlight: 8, Quantum: -1,
		MTUProbeEvery: 1,
		MTUProbe: func(ctx context.Context, _ Target) MTUOutcome {
			started.Add(1)
			defer finished.Add(1)
			select {
			case <-time.After(slow):
			case <-ctx.Done():
			}
			return MTUOutcome{Result: MTUResultOK, Expected: 1500}
		},
	}
	small := func(context.Context, netip.Addr) Outcome {
		return Outcome{Result: ResultSuccess, RTT: time.Millisecond}
	}
	s, _ := newTestScheduler(t, cfg, small, obs)
	s.SetTargets(peers(2))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	for ctx.Err() == nil && s.LastCycle().Start.IsZero() {
		time.Sleep(5 * time.Millisecond)
	}
	c := s.LastCycle()
	cancel()
	<-done
	if c.Duration >= slow {
		t.Errorf("sweep of %s: it waited for the full-size probes (%s)", c.Duration, slow)
	}
	if started.Load() == 0 || started.Load() != finished.Load() {
		t.Errorf("Run returned with full-size probes in flight: %d started, %d finished", started.Load(), finished.Load())
	}
}
