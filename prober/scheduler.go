package prober

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
)

// Observer is told about every probe, every finished cycle and every target
// that stops being probed. Calls for one target never overlap with its removal.
type Observer interface {
	ProbeDone(st PathState, o Outcome)
	CycleDone(d time.Duration)
	TargetsRemoved(ts []Target)
	// MTUProbeDone is told about every full-size probe.
	MTUProbeDone(st PathState, o MTUOutcome)
}

// Config sets the pace of probing.
type Config struct {
	// Interval is how often each target is probed; probes are spread evenly
	// over it so that there are no bursts.
	Interval time.Duration
	// Timeout bounds one probe.
	Timeout time.Duration
	// MaxInFlight bounds the probes running at once.
	MaxInFlight int
	// Quantum groups probes whose start times fall in the same slice of
	// this length and starts them together at its end. Every wake-up of
	// the process costs far more CPU than sending a probe (tens to a
	// hundred µs on a VM), so fewer wake-ups is what makes probing cheap;
	// the load stays spread at the scale of the slice. A probe starts late
	// by less than a quantum, never early, and never after the cycle's last
	// probe was due. 0 picks one from the pace: above 256 probes a second,
	// about batchSize probes per slice, within [minQuantum, maxQuantum] and
	// at most an eighth of the interval; at a lower pace idleQuantum, but
	// at most 1/240 of the interval (so at most idleBatch probes a slice).
	// Negative: none, one wake-up per probe.
	Quantum time.Duration
	// MTUProbe sends the full-size probe of a target, which checks its path MTU (nil: none).
	MTUProbe MTUProbeFunc
	// MTUProbeEvery runs a target's full-size probe with its small one
	// (right after it, or together: SmallAndFullSize) in one cycle of
	// every MTUProbeEvery, the targets' turns spread
	// over the cycles (target i in cycles c with (c+i) % MTUProbeEvery ==
	// 0), so full-size probes are spread like the small ones; 0 disables
	// them.
	MTUProbeEvery int
	// Flows, FlowProbes, FlowPorts, FlowKey and OnFlowFailing probe each
	// path over sticky flows (FlowConfig).
	FlowConfig
	// SmallAndFullSize, if set, runs a target's small and full-size
	// probes of such a cycle in one exchange where it can (an HTTP path:
	// one connection instead of two; an ICMP path: two echoes read in one
	// wake-up), in place of the small probe and MTUProbe, over the
	// cycle's flow of a target probed over flows; nil: always the two,
	// one after the other.
	SmallAndFullSize SmallAndFullSizeFunc
}

const (
	batchSize  = 16
	minQuantum = 10 * time.Millisecond // fping's default gap between packets
	maxQuantum = 100 * time.Millisecond
	// At a low pace the process sleeps between slices, and waking it from
	// sleep (timer, netpoller, a second thread) costs about half a
	// millisecond of CPU per slice on a VM, more than its probes: so few
	// long slices, each of at most idleBatch probes.
	idleQuantum = 250 * time.Millisecond
	idleBatch   = 64
)

// quantum is the slice length for probes spacing apart; 0 for none.
func (c Config) quantum(spacing time.Duration) time.Duration {
	switch {
	case c.Quantum < 0:
		return 0
	case c.Quantum > 0:
		return c.Quantum
	case spacing*idleBatch >= idleQuantum:
		// Where this is no longer than spacing, no two probes share a
		// slice: a slow pace, one wake-up per probe.
		return min(idleQuantum, c.Interval/240)
	}
	return min(max(batchSize*spacing, minQuantum), maxQuantum, c.Interval/8)
}

// ConfigError is a Config field whose value cannot be used. The daemon's
// flag checks use it as their own, naming the flag for Field.
type ConfigError struct {
	Field   string // the field's name in Config: "Interval"
	Problem string // "must be positive, got 0s"
}

func (e *ConfigError) Error() string { return e.Field + " " + e.Problem }

// Validate says what is wrong with a Config: a *ConfigError.
func (c Config) Validate() error {
	switch {
	case c.Interval <= 0:
		return &ConfigError{"Interval", fmt.Sprintf("must be positive, got %s", c.Interval)}
	case c.Timeout <= 0:
		return &ConfigError{"Timeout", fmt.Sprintf("must be positive, got %s", c.Timeout)}
	case c.MaxInFlight < 1:
		return &ConfigError{"MaxInFlight", fmt.Sprintf("must be at least 1, got %d", c.MaxInFlight)}
	case c.MTUProbeEvery < 0:
		return &ConfigError{"MTUProbeEvery", fmt.Sprintf("must not be negative, got %d", c.MTUProbeEvery)}
	}
	return c.validate()
}

// Scheduler probes every target once per interval.
type Scheduler struct {
	cfg    Config
	probes map[Protocol]ProbeFunc
	store  *Store
	obs    Observer
	logger log.Logger
	slots  chan struct{}

	// applyMu orders recording outcomes against removing targets, so that a
	// probe that ends after its peer left does not bring its series back.
	applyMu sync.Mutex

	targetsMu sync.Mutex
	targets   []Target
	// running is Run's context and probe group while Run runs, so that
	// SetTargets can probe new targets at once; nil otherwise.
	running *runState

	cycleMu   sync.Mutex
	lastCycle Cycle

	// cycles counts the cycles started, for the full-size probes' turns;
	// used by Run's goroutine only.
	cycles int
}

// runState is what probes started outside a cycle need of Run.
type runState struct {
	ctx      context.Context
	inFlight *sync.WaitGroup
}

// Cycle describes the latest finished sweep.
type Cycle struct {
	Start    time.Time
	Duration time.Duration
	Targets  int
}

// NewScheduler returns a scheduler that runs probes[t.Protocol] for each target.
func NewScheduler(cfg Config, probes map[Protocol]ProbeFunc, store *Store, obs Observer, logger log.Logger) (*Scheduler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	for _, p := range []Protocol{ProtocolICMP, ProtocolHTTP} {
		if probes[p] == nil {
			return nil, fmt.Errorf("no prober for protocol %q", p)
		}
	}
	return &Scheduler{
		cfg:    cfg,
		probes: probes,
		store:  store,
		obs:    obs,
		logger: logger,
		slots:  make(chan struct{}, cfg.MaxInFlight),
	}, nil
}

// SetTargets replaces what is probed. Removed targets are dropped at once
// (their state and metrics go). While Run runs, new targets are probed at
// once (a node uncordoned, a health pod with a new IP), so that their
// series are known within a probe, not a cycle; then in their slot from
// the next cycle on.
func (s *Scheduler) SetTargets(ts []Target) {
	ts = append([]Target(nil), ts...)
	s.targetsMu.Lock()
	old := s.targets
	s.targets = ts
	run := s.running
	var fresh []Target
	if run != nil {
		fresh = newTargets(old, ts)
		if len(fresh) > 0 {
			run.inFlight.Add(1) // under targetsMu: Run clears running under it before it waits
		}
	}
	s.targetsMu.Unlock()

	s.applyMu.Lock()
	removed := s.store.Retain(ts)
	if len(removed) > 0 {
		s.obs.TargetsRemoved(removed)
	}
	s.applyMu.Unlock()
	if len(fresh) > 0 {
		go func() {
			defer run.inFlight.Done()
			var wg sync.WaitGroup
			for _, t := range fresh {
				if !s.launch(run.ctx, &wg, t, nil) {
					break
				}
			}
			wg.Wait()
		}()
	}
}

// newTargets are the targets of now that were not in before.
func newTargets(before, now []Target) []Target {
	had := make(map[Target]struct{}, len(before))
	for _, t := range before {
		had[t] = struct{}{}
	}
	var out []Target
	for _, t := range now {
		if _, ok := had[t]; !ok {
			out = append(out, t)
		}
	}
	return out
}

func (s *Scheduler) currentTargets() []Target {
	s.targetsMu.Lock()
	defer s.targetsMu.Unlock()
	return s.targets
}

// Run probes in cycles of one interval until ctx ends, then waits for the
// probes in flight (each ends by the timeout).
func (s *Scheduler) Run(ctx context.Context) {
	var inFlight sync.WaitGroup
	defer inFlight.Wait()
	s.targetsMu.Lock()
	s.running = &runState{ctx: ctx, inFlight: &inFlight}
	s.targetsMu.Unlock()
	defer func() { // before the Wait above: no probe is added once it waits
		s.targetsMu.Lock()
		s.running = nil
		s.targetsMu.Unlock()
	}()
	// One timer for the whole run: nothing is allocated per probe slot.
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()

	next := time.Now()
	for ctx.Err() == nil {
		start := next
		s.runCycle(ctx, start, s.currentTargets(), timer, &inFlight)
		next = start.Add(s.cfg.Interval)
		if now := time.Now(); next.Before(now) {
			// Dispatch fell behind (too many slow probes for MaxInFlight):
			// start the next cycle now rather than bursting to catch up.
			next = now
		}
		if !sleepUntil(ctx, timer, next) {
			return
		}
	}
}

// runCycle launches one probe per target at start + i*interval/n and reports
// the cycle's duration once the last of them has ended.
func (s *Scheduler) runCycle(ctx context.Context, start time.Time, targets []Target, timer *time.Timer, inFlight *sync.WaitGroup) {
	if len(targets) == 0 {
		return
	}
	spacing := s.cfg.Interval / time.Duration(len(targets))
	q := s.cfg.quantum(spacing)
	cycleNo := s.cycles
	s.cycles++
	var cycle sync.WaitGroup
	for i, t := range targets {
		var fullSize *sync.WaitGroup
		if s.mtuProbeDue(cycleNo, i) {
			fullSize = inFlight
		}
		if !sleepUntil(ctx, timer, start.Add(startOffset(i, len(targets), spacing, q))) || !s.launch(ctx, &cycle, t, fullSize) {
			break
		}
	}
	// This ends after the cycle's probes: Run waits for it, not for each probe.
	inFlight.Go(func() {
		cycle.Wait()
		if ctx.Err() == nil {
			d := time.Since(start)
			s.cycleMu.Lock()
			s.lastCycle = Cycle{Start: start, Duration: d, Targets: len(targets)}
			s.cycleMu.Unlock()
			s.obs.CycleDone(d)
		}
	})
}

// mtuProbeDue says whether the i-th target gets its full-size probe in
// cycle cycleNo.
func (s *Scheduler) mtuProbeDue(cycleNo, i int) bool {
	every := s.cfg.MTUProbeEvery
	if every <= 0 || s.cfg.MTUProbe == nil {
		return false
	}
	x := cycleNo + i
	if span := fullSizeSpan(every, s.cfg.Flows); span > 0 {
		x %= span
	}
	return x%every == 0
}

// minFullSizeGroup is the fewest cycles of a group of full-size turns
// (fullSizeSpan): one turn in a group comes a cycle early, so at most one
// full-size probe in 15 more than every would give.
const minFullSizeGroup = 16

// fullSizeSpan is the length in cycles of a group of a path's full-size
// turns, or 0 for turns every `every` cycles throughout. A path's flows
// rotate once a cycle, so turns at a fixed phase fall on only
// flows/gcd(every, flows) of them (2 of 8 at the defaults, 1 of 4 with
// both at 4), and a member that drops only large packets would be missed
// by the rest. A group is a whole number of turns every `every` cycles,
// one cycle short: the next group's turns fall one flow further on, and
// within gcd groups they have crossed every flow. Turns stay at most
// every cycles apart.
func fullSizeSpan(every, flows int) int {
	if flows <= 1 || every <= 1 {
		return 0
	}
	g := gcd(every, flows)
	if g == 1 {
		return 0 // turns every `every` cycles reach every flow
	}
	m := flows / g // turns before they fall on the same flow again
	turns := m * ((minFullSizeGroup + m*every - 1) / (m * every))
	return turns*every - 1
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// startOffset is when, after the cycle's start, the i-th of n probes
// starts: its even share of the interval, moved to the end of its quantum
// but not past the last probe's share.
func startOffset(i, n int, spacing, q time.Duration) time.Duration {
	due := time.Duration(i) * spacing
	if q > spacing {
		due = min((due+q-1)/q*q, time.Duration(n-1)*spacing)
	}
	return due
}

// LastCycle returns the latest finished sweep; zero before the first.
func (s *Scheduler) LastCycle() Cycle {
	s.cycleMu.Lock()
	defer s.cycleMu.Unlock()
	return s.lastCycle
}

// ProbeAll probes every current target at once (bounded by MaxInFlight) and
// returns the resulting states. It returns by about the probe timeout per
// MaxInFlight targets, however many peers are down.
func (s *Scheduler) ProbeAll(ctx context.Context) []PathState {
	var wg sync.WaitGroup
	for _, t := range s.currentTargets() {
		if !s.launch(ctx, &wg, t, nil) {
			break
		}
	}
	wg.Wait()
	return s.store.Snapshot()
}

// launch probes t in a goroutine of wg once one of the MaxInFlight slots is
// free; false if ctx ended first. With fullSize, the target's full-size
// probe follows in the same slot, after the small one (whose result says
// whether a lost full-size probe is an MTU fault), in fullSize's group and
// no longer wg's: a sweep's duration is that of its small probes.
func (s *Scheduler) launch(ctx context.Context, wg *sync.WaitGroup, t Target, fullSize *sync.WaitGroup) bool {
	select {
	case s.slots <- struct{}{}:
	case <-ctx.Done():
		return false
	}
	wg.Add(1)
	if fullSize != nil {
		fullSize.Add(1)
	}
	go func() {
		defer func() { <-s.slots }()
		if fullSize != nil {
			s.probeSmallAndFullSize(ctx, t, wg.Done)
			fullSize.Done()
			return
		}
		s.probeOne(ctx, t)
		wg.Done()
	}()
	return true
}

func (s *Scheduler) probeMTU(ctx context.Context, t Target) (PathState, bool) {
	pctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	o := s.cfg.MTUProbe(pctx, t)
	cancel()
	return s.recordMTU(ctx, t, o)
}

// recordMTU records o, t's full-size probe outcome, unless ctx ended, and
// returns t's state with it; false if it was not recorded.
func (s *Scheduler) recordMTU(ctx context.Context, t Target, o MTUOutcome) (PathState, bool) {
	if ctx.Err() != nil {
		return PathState{}, false
	}
	s.applyMu.Lock()
	st, ok := s.store.RecordMTU(t, o, time.Now())
	if ok {
		s.obs.MTUProbeDone(st, o)
	}
	s.applyMu.Unlock()
	if ok && o.Result != MTUResultOK {
		level.Debug(s.logger).Log("msg", "full-size probe failed", "peer", t.Peer, "path", t.Path, "protocol", t.Protocol, "ip", t.IP, "mtu", o.Expected, "result", o.Result, "path_mtu", o.PathMTU, "err", o.Err)
	}
	return st, ok
}

// sleepUntil waits for deadline on timer; false means ctx ended first.
func sleepUntil(ctx context.Context, timer *time.Timer, deadline time.Time) bool {
	d := time.Until(deadline)
	if d <= 0 {
		return ctx.Err() == nil
	}
	timer.Reset(d)
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		timer.Stop() // since Go 1.23 a stopped timer delivers no stale tick
		return false
	}
}
