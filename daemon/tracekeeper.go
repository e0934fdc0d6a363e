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

// FlowFailureHook is what a flows scheduler tells of its flows:
// FlowFailing when a flow's probe fails past the failure threshold
// (repeats are cheap), FlowRecovered once it answers again. The trace
// keeper implements it; prober.Scheduler's OnFlowFailing calls
// FlowFailing (tracing.onFlowFailing), and since the scheduler has no
// recovery hook, the keeper learns of recoveries from every probe's path
// state (PathProbed, through tracing.observer), and of paths probed
// without flows that go down too.
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
	// flow that finds every slot taken waits for one.
	defaultConcurrentAutoTraces = 8
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

// unflowedPaths is what the keeper needs to trace paths probed without
// flows; with a nil field it traces none.
type unflowedPaths struct {
	// answersElsewhere reports whether another path to t's peer answered
	// its latest probe.
	answersElsewhere func(t prober.Target) bool
	// flow is the identity a trace of t takes: the sticky flow 0 the
	// trace command takes too (FlowConfig.FlowIdentities).
	flow func(t prober.Target) prober.Flow
}

// traceKeeper traces failing flows, rate limited (one trace per flow per
// retrace, a few at a time, and the tracer's own probe rate), and keeps the
// latest trace of each flow while it fails: for the admin API, status and
// connectivity_path_trace_info. A flow that finds every slot taken waits
// for one, oldest first.
type traceKeeper struct {
	tracer   FlowTracer
	paths    unflowedPaths
	retrace  time.Duration
	maxFlows int
	maxRun   int // traces at once
	now      func() time.Time
	ctx      context.Context
	wg       sync.WaitGroup

	mu      sync.Mutex
	flows   map[flowID]*tracedFlow
	running int
	count   atomic.Int32 // len(flows), read without the lock
}

// newTraceKeeper traces with tr until ctx ends; Wait waits for the traces
// running then.
func newTraceKeeper(ctx context.Context, tr FlowTracer) *traceKeeper {
	return &traceKeeper{
		tracer: tr, retrace: defaultRetrace, maxFlows: defaultMaxTracedFlows, maxRun: defaultConcurrentAutoTraces,
		now: time.Now, ctx: ctx, flows: map[flowID]*tracedFlow{},
	}
}

// FlowFailing keeps f (unless too many flows fail) and traces it unless a
// trace of it runs or ended less than the retrace interval ago; when every
// slot is taken, as soon as one frees.
func (k *traceKeeper) FlowFailing(f FlowFailure) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.keep(f)
	k.startDue()
}

// keep adds f to the flows kept, or updates its identity; k.mu is held.
func (k *traceKeeper) keep(f FlowFailure) {
	id := flowID{f.Target, f.Index}
	e, ok := k.flows[id]
	if !ok {
		if len(k.flows) >= k.maxFlows {
			return
		}
		e = &tracedFlow{TracedFlow: TracedFlow{FlowFailure: f, Since: k.now()}}
		k.flows[id] = e
		k.count.Add(1)
	}
	e.Flow = f.Flow
}

// startDue starts the traces that are due while slots are free: flows
// never traced first (the longest failing first), then those traced a
// retrace interval ago or more; k.mu is held.
func (k *traceKeeper) startDue() {
	now := k.now()
	for k.running < k.maxRun && k.ctx.Err() == nil {
		var next *tracedFlow
		for _, e := range k.flows {
			if e.running || !e.started.IsZero() && now.Sub(e.started) < k.retrace {
				continue
			}
			if next == nil || e.started.Before(next.started) || e.started.Equal(next.started) && e.Since.Before(next.Since) {
				next = e
			}
		}
		if next == nil {
			return
		}
		k.start(next, now)
	}
}

// start traces e; k.mu is held.
func (k *traceKeeper) start(e *tracedFlow, now time.Time) {
	e.running, e.started = true, now
	k.running++
	f := e.FlowFailure
	k.wg.Go(func() {
		r := k.tracer.Trace(k.ctx, f.Target.Protocol, f.Target.IP, f.Flow)
		k.mu.Lock()
		defer k.mu.Unlock()
		k.running--
		e.running = false
		if k.flows[flowID{f.Target, f.Index}] == e { // not recovered meanwhile
			e.Trace = &r
		}
		k.startDue()
	})
}

// forget drops a flow; k.mu is held.
func (k *traceKeeper) forget(id flowID) {
	if _, ok := k.flows[id]; ok {
		delete(k.flows, id)
		k.count.Add(-1)
	}
}

// FlowRecovered forgets the flow and its trace.
func (k *traceKeeper) FlowRecovered(t prober.Target, index int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.forget(flowID{t, index})
}

// PathProbed is told every path's state after each probe of it. For a
// path probed over flows, the flows that fail past the threshold: it
// forgets the others (a flow that answers again), keeps these (a failure
// the hook told while every place was taken), and starts the traces that
// are due (a flow still failing a retrace interval after its trace). A
// path probed without flows is unflowedProbed.
func (k *traceKeeper) PathProbed(st prober.PathState) {
	if st.Flows.Count == 0 {
		k.unflowedProbed(st)
		return
	}
	t, failing := st.Target, st.Flows.Failing
	if len(failing) == 0 && k.count.Load() == 0 {
		return // the common case, at every probe: nothing fails
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	for id := range k.flows {
		if id.target == t && !slices.ContainsFunc(failing, func(f prober.FlowState) bool { return f.Index == id.index }) {
			k.forget(id)
		}
	}
	for _, f := range failing {
		k.keep(FlowFailure{Target: t, Index: f.Index, Flow: f.Flow})
	}
	if len(failing) > 0 {
		k.startDue()
	}
}

// unflowedProbed keeps a path probed without flows (an IPv4 ICMP path, or
// any path with --probe.flows=1), as its flow 0, while it is unreachable
// (failure-threshold failures in a row), if another path to its peer
// answered its latest probe when it went down (paths.answersElsewhere):
// then the peer is up and the trace can say where this path stops. A
// peer down on every path is not traced: it would cost every node a trace
// of every path of it and say little. The path and its trace go once it
// answers again.
func (k *traceKeeper) unflowedProbed(st prober.PathState) {
	id := flowID{st.Target, 0}
	if st.Status != prober.StatusUnreachable {
		if k.count.Load() == 0 {
			return // the common case, at every probe: nothing fails
		}
		k.mu.Lock()
		k.forget(id)
		k.mu.Unlock()
		return
	}
	if k.paths.answersElsewhere == nil || k.paths.flow == nil {
		return
	}
	k.mu.Lock()
	_, kept := k.flows[id]
	k.mu.Unlock()
	// Asked without k.mu held: it reads the store.
	if !kept && !k.paths.answersElsewhere(st.Target) {
		return
	}
	f := FlowFailure{Target: st.Target, Index: 0, Flow: k.paths.flow(st.Target)}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.keep(f)
	k.startDue()
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
