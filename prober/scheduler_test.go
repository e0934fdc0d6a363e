package prober

import (
	"context"
	"fmt"
	"net/netip"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-kit/log"
)

// recordingObserver keeps what the scheduler reports.
type recordingObserver struct {
	mu      sync.Mutex
	probes  []PathState
	cycles  []time.Duration
	removed []Target
	mtu     []PathState   // full-size probes
	done    chan struct{} // gets a value per probe, if not nil
}

func (r *recordingObserver) ProbeDone(st PathState, _ Outcome) {
	r.mu.Lock()
	r.probes = append(r.probes, st)
	r.mu.Unlock()
	if r.done != nil {
		r.done <- struct{}{}
	}
}

func (r *recordingObserver) CycleDone(d time.Duration) {
	r.mu.Lock()
	r.cycles = append(r.cycles, d)
	r.mu.Unlock()
}

func (r *recordingObserver) TargetsRemoved(ts []Target) {
	r.mu.Lock()
	r.removed = append(r.removed, ts...)
	r.mu.Unlock()
}

func (r *recordingObserver) MTUProbeDone(st PathState, _ MTUOutcome) {
	r.mu.Lock()
	r.mtu = append(r.mtu, st)
	r.mu.Unlock()
}

func peers(n int) []Target {
	out := make([]Target, n)
	for i := range out {
		out[i] = Target{Peer: fmt.Sprintf("node-%03d", i), Path: PathHost, Protocol: ProtocolHTTP,
			IP: netip.AddrFrom4([4]byte{198, 18, 0, byte(i + 1)})}
	}
	return out
}

func newTestScheduler(t *testing.T, cfg Config, probe ProbeFunc, obs Observer) (*Scheduler, *Store) {
	t.Helper()
	store := NewStore(3)
	s, err := NewScheduler(cfg, map[Protocol]ProbeFunc{ProtocolICMP: probe, ProtocolHTTP: probe}, store, obs, log.NewNopLogger())
	if err != nil {
		t.Fatal(err)
	}
	return s, store
}

func waitFor(t *testing.T, what string, ch <-chan struct{}, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		select {
		case <-ch:
		case <-time.After(10 * time.Second):
			t.Fatalf("timed out waiting for %s (%d of %d)", what, i, n)
		}
	}
}

func TestSchedulerSpreadsProbesOverTheInterval(t *testing.T) {
	const n = 8
	interval := 400 * time.Millisecond
	var mu sync.Mutex
	var starts []time.Time
	probe := func(ctx context.Context, ip netip.Addr) Outcome {
		mu.Lock()
		starts = append(starts, time.Now())
		mu.Unlock()
		return Outcome{Result: ResultSuccess, RTT: time.Microsecond}
	}
	obs := &recordingObserver{done: make(chan struct{}, 4*n)}
	s, _ := newTestScheduler(t, Config{Interval: interval, Timeout: time.Second, MaxInFlight: 4}, probe, obs)
	s.SetTargets(peers(n))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	runStart := time.Now()
	go func() { s.Run(ctx); close(done) }()
	waitFor(t, "one cycle of probes", obs.done, n)
	cancel()
	<-done

	mu.Lock()
	defer mu.Unlock()
	sort.Slice(starts, func(i, j int) bool { return starts[i].Before(starts[j]) })
	// Probe i is dispatched no earlier than i spacings after the cycle
	// starts, and sleeps never end early, so this lower bound is exact: no
	// burst. (Gaps between neighbours are not: a goroutine may start late
	// on a loaded machine, which shortens the next gap.)
	spacing := interval / n
	for i := 1; i < n; i++ {
		if since := starts[i].Sub(runStart); since < time.Duration(i)*spacing {
			t.Errorf("probe %d started %s after the run began, want at least %s", i, since, time.Duration(i)*spacing)
		}
	}
}

func TestSchedulerBoundsProbesInFlight(t *testing.T) {
	const maxInFlight, n = 3, 12
	var cur, peak atomic.Int32
	probe := func(ctx context.Context, ip netip.Addr) Outcome {
		c := cur.Add(1)
		for {
			p := peak.Load()
			if c <= p || peak.CompareAndSwap(p, c) {
				break
			}
		}
		<-ctx.Done() // every peer is dead: each probe runs to its timeout
		cur.Add(-1)
		return Outcome{Result: ResultError}
	}
	obs := &recordingObserver{done: make(chan struct{}, 4*n)}
	s, _ := newTestScheduler(t, Config{Interval: 10 * time.Millisecond, Timeout: 50 * time.Millisecond, MaxInFlight: maxInFlight}, probe, obs)
	s.SetTargets(peers(n))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	waitFor(t, "probes", obs.done, n)
	cancel()
	<-done
	if got := peak.Load(); got != maxInFlight {
		t.Fatalf("peak probes in flight %d, want %d", got, maxInFlight)
	}
	for _, st := range obs.probes {
		if st.LastResult != ResultTimeout {
			t.Fatalf("a probe that hit its deadline was classified %s, want timeout", st.LastResult)
		}
	}
}

func TestSchedulerDeadPeerDoesNotDelayOthers(t *testing.T) {
	targets := peers(3)
	dead := targets[0].IP
	probe := func(ctx context.Context, ip netip.Addr) Outcome {
		if ip == dead {
			<-ctx.Done()
			return Outcome{Result: ResultError, Err: ctx.Err()}
		}
		return Outcome{Result: ResultSuccess, RTT: time.Millisecond}
	}
	obs := &recordingObserver{done: make(chan struct{}, 16)}
	// The timeout is much longer than the interval: the live peers must
	// still be probed on schedule while the dead one hangs.
	s, _ := newTestScheduler(t, Config{Interval: 30 * time.Millisecond, Timeout: 5 * time.Second, MaxInFlight: 8}, probe, obs)
	s.SetTargets(targets)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	waitFor(t, "the live peers' probes", obs.done, 4)
	cancel()
	<-done
	obs.mu.Lock()
	defer obs.mu.Unlock()
	for _, st := range obs.probes[:4] {
		if st.IP == dead {
			t.Fatalf("the dead peer's probe ended before the live ones: %+v", st)
		}
	}
}

func TestSchedulerCycleDurationAndTimeoutClassification(t *testing.T) {
	probe := func(ctx context.Context, ip netip.Addr) Outcome {
		<-ctx.Done()
		return Outcome{Result: ResultError, Err: ctx.Err()}
	}
	obs := &recordingObserver{done: make(chan struct{}, 64)}
	timeout := 20 * time.Millisecond
	s, store := newTestScheduler(t, Config{Interval: 40 * time.Millisecond, Timeout: timeout, MaxInFlight: 8}, probe, obs)
	s.SetTargets(peers(2))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	waitFor(t, "three cycles of probes", obs.done, 6)
	cancel()
	<-done
	for _, st := range store.Snapshot() {
		if st.Status != StatusUnreachable || st.LastResult != ResultTimeout {
			t.Errorf("after 3 timeouts: %+v", st)
		}
	}
	c := s.LastCycle()
	if c.Targets != 2 || c.Duration < timeout || c.Start.IsZero() {
		t.Errorf("last cycle %+v: want 2 targets and at least the timeout", c)
	}
	if len(obs.cycles) == 0 {
		t.Error("no cycle reported to the observer")
	}
}

func TestSchedulerSetTargetsRemovesAtOnceAndAddsNextCycle(t *testing.T) {
	var probed sync.Map
	probe := func(ctx context.Context, ip netip.Addr) Outcome {
		probed.Store(ip, true)
		return Outcome{Result: ResultSuccess, RTT: time.Microsecond}
	}
	obs := &recordingObserver{done: make(chan struct{}, 256)}
	s, store := newTestScheduler(t, Config{Interval: 20 * time.Millisecond, Timeout: time.Second, MaxInFlight: 4}, probe, obs)
	all := peers(3)
	s.SetTargets(all[:2])
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	waitFor(t, "first cycle", obs.done, 2)

	s.SetTargets([]Target{all[0], all[2]})
	obs.mu.Lock()
	removed := append([]Target(nil), obs.removed...)
	obs.mu.Unlock()
	if len(removed) != 1 || removed[0] != all[1] {
		t.Fatalf("removed %v, want [%v]", removed, all[1])
	}
	deadline := time.After(10 * time.Second)
	for {
		if _, ok := probed.Load(all[2].IP); ok {
			break
		}
		select {
		case <-obs.done:
		case <-deadline:
			t.Fatal("the added peer was never probed")
		}
	}
	cancel()
	<-done
	for _, st := range store.Snapshot() {
		if st.Target == all[1] {
			t.Fatal("the removed peer is still in the store")
		}
	}
}

func TestProbeAllReturnsWhenPeersHang(t *testing.T) {
	probe := func(ctx context.Context, ip netip.Addr) Outcome {
		<-ctx.Done()
		return Outcome{Result: ResultError, Err: ctx.Err()}
	}
	s, _ := newTestScheduler(t, Config{Interval: time.Hour, Timeout: 50 * time.Millisecond, MaxInFlight: 64}, probe, &recordingObserver{})
	s.SetTargets(peers(20))
	states := s.ProbeAll(context.Background())
	if len(states) != 20 {
		t.Fatalf("got %d states, want 20", len(states))
	}
	for _, st := range states {
		if st.LastResult != ResultTimeout || st.ConsecutiveFailures != 1 {
			t.Fatalf("state %+v, want one timeout", st)
		}
	}
}

func TestNewSchedulerRejectsBadConfig(t *testing.T) {
	ok := func(context.Context, netip.Addr) Outcome { return Outcome{} }
	both := map[Protocol]ProbeFunc{ProtocolICMP: ok, ProtocolHTTP: ok}
	tests := []struct {
		name   string
		cfg    Config
		probes map[Protocol]ProbeFunc
		want   string
	}{
		{"zero interval", Config{Timeout: time.Second, MaxInFlight: 1}, both, "Interval must be positive, got 0s"},
		{"negative timeout", Config{Interval: time.Second, Timeout: -1, MaxInFlight: 1}, both, "Timeout must be positive, got -1ns"},
		{"no slots", Config{Interval: time.Second, Timeout: time.Second}, both, "MaxInFlight must be at least 1, got 0"},
		{"missing http", Config{Interval: time.Second, Timeout: time.Second, MaxInFlight: 1}, map[Protocol]ProbeFunc{ProtocolICMP: ok}, `no prober for protocol "http"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewScheduler(tc.cfg, tc.probes, NewStore(3), &recordingObserver{}, log.NewNopLogger())
			if err == nil || err.Error() != tc.want {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func TestQuantum(t *testing.T) {
	ms := time.Millisecond
	minute := Config{Interval: time.Minute}
	tests := []struct {
		cfg     Config
		spacing time.Duration
		want    time.Duration
	}{
		{minute, 750 * time.Microsecond, 12 * ms},                   // 1,333 probes/s: 16 probes a slice
		{minute, 3900 * time.Microsecond, 62400 * time.Microsecond}, // 256.4 probes/s: still 16 a slice
		{minute, 6 * ms, idleQuantum},                               // 167 probes/s: 42 a slice, 4 wake-ups a second
		{minute, 12 * ms, idleQuantum},
		{minute, idleQuantum, idleQuantum},                                     // a slow pace: one probe a slice
		{Config{Interval: 15 * time.Second}, 6 * ms, 62500 * time.Microsecond}, // never later than 1/240 of the interval
		{minute, 100 * time.Microsecond, minQuantum},
		{Config{Interval: 40 * ms}, 100 * time.Microsecond, 5 * ms}, // never more than an eighth of the interval
		{Config{Interval: time.Minute, Quantum: 3 * ms}, 6 * ms, 3 * ms},
		{Config{Interval: time.Minute, Quantum: -1}, 6 * ms, 0},
	}
	for _, tc := range tests {
		if got := tc.cfg.quantum(tc.spacing); got != tc.want {
			t.Errorf("quantum(%+v, %s) = %s, want %s", tc.cfg, tc.spacing, got, tc.want)
		}
	}
}

func TestStartOffsetBatchesWithoutStartingEarly(t *testing.T) {
	const n = 100
	spacing, q := 3*time.Millisecond, 10*time.Millisecond
	last := (n - 1) * spacing
	starts := map[time.Duration]int{}
	for i := range n {
		due := time.Duration(i) * spacing
		got := startOffset(i, n, spacing, q)
		if got < due || got >= due+q || (got%q != 0 && got != last) || got > last {
			t.Fatalf("probe %d due at %s starts at %s: want the end of its %s slice, at most %s", i, due, got, q, last)
		}
		starts[got]++
	}
	// The first probe at once, then one wake-up per slice up to the last
	// probe's time (297 ms).
	if len(starts) != 31 {
		t.Fatalf("%d wake-ups for %d probes, want 31", len(starts), n)
	}
	// No quantum: every probe at its own time.
	for i := range 10 {
		if got := startOffset(i, 10, 20*time.Millisecond, 0); got != time.Duration(i)*20*time.Millisecond {
			t.Fatalf("probe %d moved to %s without a quantum", i, got)
		}
	}
}

func TestIdlePaceWakesFourTimesASecond(t *testing.T) {
	tests := []struct {
		name             string
		cfg              Config
		targets          int
		wakeUps, maxSize int
	}{
		// 5,000 peers' host paths every minute: 167 probes/s; the first
		// probe at once, then the end of each of 240 slices.
		{"10,000 targets a minute", Config{Interval: time.Minute}, 10000, 241, 42},
		// Just under 256 probes/s: the longest slices.
		{"15,300 targets a minute", Config{Interval: time.Minute}, 15300, 241, 64},
		// A slow pace: every probe on its own.
		{"200 targets a minute", Config{Interval: time.Minute}, 200, 200, 1},
		// 15 s: slices of at most 62.5 ms.
		{"2,000 targets in 15 s", Config{Interval: 15 * time.Second}, 2000, 241, 9},
	}
	for _, tc := range tests {
		spacing := tc.cfg.Interval / time.Duration(tc.targets)
		q := tc.cfg.quantum(spacing)
		slices := map[time.Duration]int{}
		for i := range tc.targets {
			slices[startOffset(i, tc.targets, spacing, q)]++
		}
		biggest := 0
		for _, n := range slices {
			biggest = max(biggest, n)
		}
		if len(slices) != tc.wakeUps || biggest != tc.maxSize {
			t.Errorf("%s: %d wake-ups, at most %d probes each; want %d and %d", tc.name, len(slices), biggest, tc.wakeUps, tc.maxSize)
		}
	}
}
