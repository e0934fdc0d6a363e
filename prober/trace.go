package prober

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"
)

// A trace follows one flow of a path hop by hop: probes with the flow's
// identity (a TCP SYN from its source port and with its IPv6 flow label,
// or an ICMP echo with its flow label) and a TTL (hop limit) of 1, 2, ...,
// so that every probe takes the same member of every equal-cost group as
// the flow's own probes, and the router where the TTL runs out answers
// "time exceeded". Where a flow is black-holed, the last hop that answers
// (and the first silent one after it) says which member drops it.

// TraceConfig bounds a Tracer.
type TraceConfig struct {
	// MaxTTL is the largest TTL tried; 0 is DefaultTraceMaxTTL.
	MaxTTL int
	// HopTimeout is how long one probe waits for its answer; 0 is 1s.
	HopTimeout time.Duration
	// MaxSilent ends a trace after this many silent TTLs in a row (no
	// answer to any attempt); 0 is 3.
	MaxSilent int
	// Attempts is how many probes a TTL gets before it counts as silent
	// (the next only after a silent one); 0 is 1. Routers rate limit
	// their ICMP errors (Linux: a burst of 6, then 1 a second per
	// destination), so tracing many flows at once needs more than one.
	Attempts int
	// Timeout bounds a whole trace; 0 is MaxTTL hop timeouts.
	Timeout time.Duration
	// Rate is how many probes a second the Tracer sends at most, over
	// all its traces; 0 is DefaultTraceRate.
	Rate float64
	// Port is the TCP destination port of HTTP flows (the /hello port).
	Port uint16
	// PrivilegedICMP traces ICMP flows with a raw socket (CAP_NET_RAW)
	// instead of an unprivileged ping socket, as ICMPConfig.Privileged.
	PrivilegedICMP bool
}

// Defaults of TraceConfig.
const (
	DefaultTraceMaxTTL = 16
	DefaultTraceRate   = 20
	maxTraceTTL        = 64
)

func (c TraceConfig) withDefaults() TraceConfig {
	if c.MaxTTL == 0 {
		c.MaxTTL = DefaultTraceMaxTTL
	}
	if c.HopTimeout == 0 {
		c.HopTimeout = time.Second
	}
	if c.MaxSilent == 0 {
		c.MaxSilent = 3
	}
	if c.Attempts == 0 {
		c.Attempts = 1
	}
	if c.Timeout == 0 {
		c.Timeout = time.Duration(c.MaxTTL) * c.HopTimeout
	}
	if c.Rate == 0 {
		c.Rate = DefaultTraceRate
	}
	return c
}

// Validate reports the first field of c (after defaults) that is out of
// range.
func (c TraceConfig) Validate() error {
	c = c.withDefaults()
	switch {
	case c.MaxTTL < 1 || c.MaxTTL > maxTraceTTL:
		return fmt.Errorf("trace max TTL %d: want 1 to %d", c.MaxTTL, maxTraceTTL)
	case c.HopTimeout < 0:
		return fmt.Errorf("trace hop timeout %s: want more than 0", c.HopTimeout)
	case c.MaxSilent < 1:
		return fmt.Errorf("trace max silent hops %d: want at least 1", c.MaxSilent)
	case c.Attempts < 1 || c.Attempts > 10:
		return fmt.Errorf("trace attempts %d: want 1 to 10", c.Attempts)
	case c.Timeout < 0:
		return fmt.Errorf("trace timeout %s: want more than 0", c.Timeout)
	case c.Rate < 0:
		return fmt.Errorf("trace rate %g: want more than 0", c.Rate)
	}
	return nil
}

// HopKind says what answered a probe of one TTL.
type HopKind string

const (
	// HopTimeExceeded: a router on the way answered "time exceeded".
	HopTimeExceeded HopKind = "time_exceeded"
	// HopUnreachable: a router answered "destination unreachable"; the
	// trace ends there.
	HopUnreachable HopKind = "unreachable"
	// HopDestination: the destination itself answered (a SYN-ACK or a
	// reset, an echo reply).
	HopDestination HopKind = "destination"
	// HopSilent: nothing answered any attempt in time.
	HopSilent HopKind = "silent"
	// HopError: the probe could not be sent from here (a local error:
	// the flow's port taken, a socket refused); it says nothing about
	// the path.
	HopError HopKind = "error"
)

// Hop is what one TTL of a trace found.
type Hop struct {
	TTL  int
	Kind HopKind
	// Addr is the address that answered; invalid when silent or error.
	Addr netip.Addr
	// RTT is the time to the answer; 0 when none.
	RTT time.Duration
	// Error says why a HopError probe could not be sent.
	Error string
}

// Answered reports whether something on the path answered this TTL.
func (h Hop) Answered() bool { return h.Addr.IsValid() }

// TraceResult is one trace of one flow.
type TraceResult struct {
	Protocol Protocol
	Dst      netip.Addr
	Flow     Flow
	Started  time.Time
	Duration time.Duration
	// Hops has one entry per TTL tried, TTL 1 first.
	Hops []Hop
	// Reached is true when the destination answered.
	Reached bool
	// LastHop is the last address that answered (the destination when
	// reached), LastHopTTL its TTL; invalid and 0 when nothing did.
	LastHop    netip.Addr
	LastHopTTL int
	// Err says why the trace could not run at all, or ended early (its
	// deadline, the daemon stopping); empty otherwise.
	Err string
}

// FirstSilentTTL is the first silent TTL after the last hop that
// answered: where the flow goes dark; 0 when there is none.
func (r TraceResult) FirstSilentTTL() int {
	for _, h := range r.Hops {
		if h.TTL > r.LastHopTTL && h.Kind == HopSilent {
			return h.TTL
		}
	}
	return 0
}

// hopAnswer is what one probe of one TTL found.
type hopAnswer struct {
	kind HopKind
	from netip.Addr
	rtt  time.Duration
	err  error
}

// hopProber sends the probes of one trace, one TTL at a time; ttl is
// the probe's TTL, attempt counts from 0. It must return by ctx's
// deadline. Closed when the trace ends.
type hopProber interface {
	probe(ctx context.Context, ttl, attempt int) hopAnswer
	close()
}

// Tracer traces flows: at most Rate probes a second over all its traces.
// Safe for concurrent use.
type Tracer struct {
	cfg   TraceConfig
	pace  *pacer
	flows *flowLocks
	// errBudget is errorRetryBudget; shorter in tests.
	errBudget time.Duration
	// open makes the hop prober of one trace; the sockets in production,
	// a fake in tests.
	open func(proto Protocol, dst netip.Addr, f Flow, cfg TraceConfig) (hopProber, error)
}

// NewTracer returns a Tracer bounded by cfg.
func NewTracer(cfg TraceConfig) (*Tracer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	return &Tracer{cfg: cfg, pace: newPacer(cfg.Rate), flows: &flowLocks{held: map[flowLockKey]chan struct{}{}},
		errBudget: errorRetryBudget, open: openHopProber}, nil
}

// WithAttempts is a Tracer like t that gives each TTL n probes (1 to 10),
// sharing t's rate limit, and its traces of a flow with t's.
func (t *Tracer) WithAttempts(n int) *Tracer {
	c := *t
	c.cfg.Attempts = min(max(n, 1), 10)
	return &c
}

// Config is the tracer's configuration, defaults filled in.
func (t *Tracer) Config() TraceConfig { return t.cfg }

var errTraceProtocol = errors.New("trace: unknown protocol")

// Trace traces flow f of the path to dst probed with proto (ICMP echo, or
// a TCP SYN to the /hello port for HTTP), until the destination answers, a
// router answers "unreachable", MaxSilent TTLs in a row stay silent,
// MaxTTL is passed, or the trace's timeout or ctx ends.
func (t *Tracer) Trace(ctx context.Context, proto Protocol, dst netip.Addr, f Flow) (r TraceResult) {
	r = TraceResult{Protocol: proto, Dst: dst, Flow: f, Started: time.Now()}
	defer func() { r.Duration = time.Since(r.Started) }()
	if proto != ProtocolICMP && proto != ProtocolHTTP {
		r.Err = fmt.Sprintf("%v %q", errTraceProtocol, proto)
		return r
	}
	if !dst.IsValid() {
		r.Err = "trace: no destination address"
		return r
	}
	ctx, cancel := context.WithTimeout(ctx, t.cfg.Timeout)
	defer cancel()
	// Two traces of one flow at once would fight for its 4-tuple: the
	// second waits for the first (a trace on demand and the automatic one).
	unlock, err := t.flows.lock(ctx, flowLockKey{proto, dst.Unmap(), f})
	if err != nil {
		r.Err = "trace ended early: waiting for another trace of the flow: " + context.Cause(ctx).Error()
		return r
	}
	defer unlock()
	hp, err := t.open(proto, dst.Unmap(), f, t.cfg)
	if err != nil {
		r.Err = err.Error()
		return r
	}
	defer hp.close()
	t.step(ctx, hp, &r)
	return r
}

// step sends the probes of r, TTL by TTL, and fills in r.
func (t *Tracer) step(ctx context.Context, hp hopProber, r *TraceResult) {
	silent := 0
	for ttl := 1; ttl <= t.cfg.MaxTTL; ttl++ {
		a, ok := t.probeTTL(ctx, hp, ttl)
		if !ok {
			r.Err = "trace ended early: " + context.Cause(ctx).Error()
			return
		}
		if ctx.Err() != nil && a.kind == HopSilent {
			// Cut short by the trace's deadline, not a silent hop.
			r.Err = "trace ended early: " + context.Cause(ctx).Error()
			return
		}
		h := Hop{TTL: ttl, Kind: a.kind, Addr: a.from, RTT: a.rtt}
		if a.err != nil {
			h.Error = a.err.Error()
		}
		r.Hops = append(r.Hops, h)
		switch a.kind {
		case HopSilent:
			silent++
			if silent >= t.cfg.MaxSilent {
				return
			}
			continue
		case HopError:
			// A local failure: the path beyond is unknown, not silent.
			r.Err = h.Error
			return
		}
		silent = 0
		r.LastHop, r.LastHopTTL = a.from, ttl
		switch a.kind {
		case HopDestination:
			r.Reached = true
			return
		case HopUnreachable:
			return
		}
	}
}

// A probe that could not be sent is sent again, errorRetryWait apart, for
// errorRetryBudget at most: the flow's own probe may hold its 4-tuple
// until the probe's timeout (a TCP connect of the same ports fails,
// EADDRNOTAVAIL), 2 s by default.
const (
	errorRetryBudget = 2500 * time.Millisecond
	errorRetryWait   = 100 * time.Millisecond
)

// probeTTL sends the probes of one TTL: up to Attempts while silent, and
// a few more while they cannot be sent. ok is false when ctx ended before
// a probe could go.
func (t *Tracer) probeTTL(ctx context.Context, hp hopProber, ttl int) (a hopAnswer, ok bool) {
	var firstErr time.Time
	for attempt := 0; attempt < t.cfg.Attempts; {
		if err := t.pace.wait(ctx); err != nil {
			return a, false
		}
		hctx, cancel := context.WithTimeout(ctx, t.cfg.HopTimeout)
		a = hp.probe(hctx, ttl, attempt)
		cancel()
		switch {
		case a.kind == HopError && (firstErr.IsZero() || time.Since(firstErr) < t.errBudget):
			if firstErr.IsZero() {
				firstErr = time.Now()
			}
			if !sleepCtx(ctx, errorRetryWait) {
				return a, false
			}
			continue
		case a.kind != HopSilent:
			return a, true
		case ctx.Err() != nil:
			return a, true
		}
		attempt++
	}
	return a, true
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// flowLockKey names the flow of a trace.
type flowLockKey struct {
	proto Protocol
	dst   netip.Addr
	flow  Flow
}

// flowLocks lets one trace of a flow run at a time.
type flowLocks struct {
	mu   sync.Mutex
	held map[flowLockKey]chan struct{} // closed when released
}

// lock waits until no trace of k runs, or ctx ends.
func (l *flowLocks) lock(ctx context.Context, k flowLockKey) (func(), error) {
	for {
		l.mu.Lock()
		ch, busy := l.held[k]
		if !busy {
			ch = make(chan struct{})
			l.held[k] = ch
			l.mu.Unlock()
			return func() {
				l.mu.Lock()
				delete(l.held, k)
				l.mu.Unlock()
				close(ch)
			}, nil
		}
		l.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// pacer spaces the probes of every trace of a Tracer at least 1/rate
// apart.
type pacer struct {
	gap  time.Duration
	mu   sync.Mutex
	next time.Time
}

func newPacer(rate float64) *pacer {
	return &pacer{gap: time.Duration(float64(time.Second) / rate)}
}

// wait takes the next free slot and sleeps until it, or returns ctx's
// error.
func (p *pacer) wait(ctx context.Context) error {
	p.mu.Lock()
	now := time.Now()
	at := p.next
	if at.Before(now) {
		at = now
	}
	p.next = at.Add(p.gap)
	p.mu.Unlock()
	d := time.Until(at)
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
