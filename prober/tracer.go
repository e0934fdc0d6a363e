package prober

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"
)

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
		if a.from.IsValid() { // an unreachable without a sender (a local error) names no hop
			r.LastHop, r.LastHopTTL = a.from, ttl
		}
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
