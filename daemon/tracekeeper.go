package daemon

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/connectivity-exporter/connectivity_exporter/prober"
)

// FlowFailure names one flow of one path that fails past the failure
// threshold: its path, its index among the path's flows and its identity.
type FlowFailure struct {
	Target prober.Target
	Index  int
	Flow   prober.Flow
}

// FlowFailureHook is what the flows scheduler (--probe.flows) tells of its
// flows: FlowFailing each time a flow's probe fails past the failure
// threshold (repeats are cheap), FlowRecovered once it answers again. The
// trace keeper implements it.
type FlowFailureHook interface {
	FlowFailing(f FlowFailure)
	FlowRecovered(t prober.Target, index int)
}

var _ FlowFailureHook = (*traceKeeper)(nil)

// TracedFlow is a failing flow and its latest trace (nil until the first
// ends).
type TracedFlow struct {
	FlowFailure
	Since time.Time
	Trace *prober.TraceResult
}

// Bounds of automatic traces.
const (
	// defaultRetrace: a flow that keeps failing is traced again this
	// often, so that its trace follows a fabric that changes.
	defaultRetrace = 5 * time.Minute
	// defaultMaxTracedFlows bounds the failing flows kept, and so the
	// memory and the connectivity_path_trace_info series: beyond it, a
	// new failing flow is not traced until another recovers.
	defaultMaxTracedFlows = 64
	// defaultConcurrentAutoTraces bounds the traces running at once; a
	// flow that finds every slot taken is traced on its next failure.
	defaultConcurrentAutoTraces = 4
)

type flowID struct {
	target prober.Target
	index  int
}

type tracedFlow struct {
	TracedFlow
	started time.Time // of the latest trace
	running bool
}

// traceKeeper traces failing flows, rate limited (one trace per flow per
// retrace, a few at a time, and the tracer's own probe rate), and keeps the
// latest trace of each flow while it fails: for the admin API, status and
// connectivity_path_trace_info.
type traceKeeper struct {
	tracer   flowTracer
	retrace  time.Duration
	maxFlows int
	slots    chan struct{}
	now      func() time.Time
	ctx      context.Context
	wg       sync.WaitGroup

	mu    sync.Mutex
	flows map[flowID]*tracedFlow
	count atomic.Int32 // len(flows), read without the lock
}

// forget drops a flow; k.mu is held.
func (k *traceKeeper) forget(id flowID) {
	if _, ok := k.flows[id]; ok {
		delete(k.flows, id)
		k.count.Add(-1)
	}
}

// newTraceKeeper traces with tr until ctx ends; Wait waits for the traces
// running then.
func newTraceKeeper(ctx context.Context, tr flowTracer) *traceKeeper {
	return &traceKeeper{
		tracer: tr, retrace: defaultRetrace, maxFlows: defaultMaxTracedFlows,
		slots: make(chan struct{}, defaultConcurrentAutoTraces), now: time.Now, ctx: ctx,
		flows: map[flowID]*tracedFlow{},
	}
}

// FlowFailing starts a trace of f unless one runs, one ended less than the
// retrace interval ago, every slot is taken, or too many flows fail.
func (k *traceKeeper) FlowFailing(f FlowFailure) {
	id := flowID{f.Target, f.Index}
	now := k.now()
	k.mu.Lock()
	defer k.mu.Unlock()
	e, ok := k.flows[id]
	if !ok {
		if len(k.flows) >= k.maxFlows {
			return
		}
		e = &tracedFlow{TracedFlow: TracedFlow{FlowFailure: f, Since: now}}
		k.flows[id] = e
		k.count.Add(1)
	}
	e.Flow = f.Flow
	if e.running || !e.started.IsZero() && now.Sub(e.started) < k.retrace || k.ctx.Err() != nil {
		return
	}
	select {
	case k.slots <- struct{}{}:
	default:
		return
	}
	e.running, e.started = true, now
	k.wg.Go(func() {
		defer func() { <-k.slots }()
		r := k.tracer.Trace(k.ctx, f.Target.Protocol, f.Target.IP, f.Flow)
		k.mu.Lock()
		defer k.mu.Unlock()
		e.running = false
		if k.flows[id] == e { // not recovered (or failed again) meanwhile
			e.Trace = &r
		}
	})
}

// FlowRecovered forgets the flow and its trace.
func (k *traceKeeper) FlowRecovered(t prober.Target, index int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.forget(flowID{t, index})
}

// PathProbed forgets t's flows that are not among failing any more (the
// path's flows failing past the threshold, after one of its probes).
func (k *traceKeeper) PathProbed(t prober.Target, failing []prober.FlowState) {
	if k.count.Load() == 0 {
		return // the common case, at every probe: nothing fails
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	for id := range k.flows {
		if id.target != t {
			continue
		}
		if !slices.ContainsFunc(failing, func(f prober.FlowState) bool { return f.Index == id.index }) {
			k.forget(id)
		}
	}
}

// Retain forgets the flows of every path not in targets (a peer gone).
func (k *traceKeeper) Retain(targets []prober.Target) {
	keep := make(map[prober.Target]bool, len(targets))
	for _, t := range targets {
		keep[t] = true
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	for id := range k.flows {
		if !keep[id.target] {
			k.forget(id)
		}
	}
}

// Snapshot is every failing flow, by peer, path, protocol, address and
// index.
func (k *traceKeeper) Snapshot() []TracedFlow {
	k.mu.Lock()
	out := make([]TracedFlow, 0, len(k.flows))
	for _, e := range k.flows {
		out = append(out, e.TracedFlow)
	}
	k.mu.Unlock()
	slices.SortFunc(out, func(a, b TracedFlow) int {
		return cmp.Or(cmp.Compare(a.Target.Peer, b.Target.Peer), cmp.Compare(a.Target.Path, b.Target.Path),
			cmp.Compare(a.Target.Protocol, b.Target.Protocol), a.Target.IP.Compare(b.Target.IP), cmp.Compare(a.Index, b.Index))
	})
	return out
}

// Wait waits for the traces that run; they end with the keeper's context.
func (k *traceKeeper) Wait() { k.wg.Wait() }
