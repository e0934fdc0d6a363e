package daemon

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/connectivity-exporter/connectivity_exporter/admin"
	"github.com/connectivity-exporter/connectivity_exporter/collector"
	"github.com/connectivity-exporter/connectivity_exporter/plan"
	"github.com/connectivity-exporter/connectivity_exporter/prober"
)

// tracing is the daemon's tracers: on demand (the trace command) and for
// failing flows (the keeper).
type tracing struct {
	onDemand FlowTracer
	keeper   *traceKeeper
}

// startTracing makes the tracers (the automatic one also for paths
// probed without flows that go down while their peer answers elsewhere,
// as store says), keeps the keeper's flows to the plan's paths and
// exports connectivity_path_trace_info; nil for a passive daemon, and
// without Deps.Tracers.
func (d *daemon) startTracing(ctx context.Context, g *errgroup.Group, keeper *plan.Keeper, store *prober.Store, reg prometheus.Registerer, src prometheus.Labels) (*tracing, error) {
	if d.cfg.Passive || d.deps.Tracers == nil {
		return nil, nil
	}
	onDemand, automatic, err := d.deps.Tracers(d.cfg)
	if err != nil {
		return nil, err
	}
	tk := newTraceKeeper(ctx, automatic)
	tk.paths = unflowedPaths{answersElsewhere: answersElsewhere(keeper, store), flow: stickyFlow(d.cfg.SchedulerConfig().FlowConfig)}
	keeper.OnChange(func(p *plan.Plan) { tk.Retain(p.Targets()) })
	if err := reg.Register(collector.NewTraceInfoCollector(src, func() []collector.TraceInfo { return traceInfos(tk.Snapshot()) })); err != nil {
		return nil, err
	}
	g.Go(func() error {
		<-ctx.Done()
		tk.Wait()
		return nil
	})
	return &tracing{onDemand: onDemand, keeper: tk}, nil
}

// onFlowFailing is the scheduler's hook (prober.FlowConfig.OnFlowFailing):
// the keeper traces the flow. nil without tracing.
func (t *tracing) onFlowFailing() prober.FlowFailingFunc {
	if t == nil {
		return nil
	}
	k := t.keeper
	return func(st prober.PathState, f prober.FlowState) {
		k.FlowFailing(FlowFailure{Target: st.Target, Index: f.Index, Flow: f.Flow})
	}
}

// observer is obs, which also tells the keeper of every path's failing
// flows, so that a flow that answers again leaves with its trace and its
// series. obs itself without tracing.
func (t *tracing) observer(obs prober.Observer) prober.Observer {
	if t == nil {
		return obs
	}
	return &traceObserver{Observer: obs, keeper: t.keeper}
}

type traceObserver struct {
	prober.Observer
	keeper *traceKeeper
}

func (o *traceObserver) ProbeDone(st prober.PathState, out prober.Outcome) {
	o.keeper.PathProbed(st)
	o.Observer.ProbeDone(st, out)
}

// answersElsewhere reports whether a path to t's peer other than t (in
// the current plan: host and endpoint paths, both protocols and
// families) answered its latest probe.
func answersElsewhere(plans *plan.Keeper, store *prober.Store) func(prober.Target) bool {
	return func(t prober.Target) bool {
		p := plans.Current()
		if p == nil {
			return false
		}
		e, ok := p.Entry(t.Peer)
		if !ok {
			return false
		}
		for _, o := range e.Targets {
			if o == t {
				continue
			}
			if st, ok := store.State(o); ok && st.Status == prober.StatusReachable && st.LastResult == prober.ResultSuccess {
				return true
			}
		}
		return false
	}
}

// stickyFlow is the flow a trace of a path probed without flows takes:
// flow 0 of fc, as the trace command's. For IPv4 ICMP it is the path's
// own (no fabric hashes an echo's identifier: docs/ecmp.md); for TCP and
// ICMPv6 with --probe.flows=1, whose probes take the kernel's port and
// label, one fixed flow of the path.
func stickyFlow(fc prober.FlowConfig) func(prober.Target) prober.Flow {
	return func(t prober.Target) prober.Flow {
		if ids := fc.FlowIdentities(t, 1); len(ids) > 0 {
			return ids[0]
		}
		return prober.Flow{}
	}
}

// flowsPerPath is how many flows of each path the trace command follows
// when it does not say: the flows the daemon probes (--probe.flows), one
// without flows (a sticky flow then, where the probes take the kernel's
// port and label).
func flowsPerPath(c *Config) int { return max(c.Flows, 1) }

// traceInfos are the traced flows that have a trace, for the metric.
func traceInfos(flows []TracedFlow) []collector.TraceInfo {
	out := make([]collector.TraceInfo, 0, len(flows))
	for _, f := range flows {
		if f.Trace == nil {
			continue
		}
		ti := collector.TraceInfo{
			Peer: f.Target.Peer, Path: string(f.Target.Path), Protocol: string(f.Target.Protocol), Family: string(f.Target.Family()),
			Flow: f.Index, LastHopTTL: f.Trace.LastHopTTL, Reached: f.Trace.Reached,
		}
		if f.Trace.LastHop.IsValid() {
			ti.LastHop = f.Trace.LastHop.String()
		}
		out = append(out, ti)
	}
	return out
}

// attachFlowTraces puts the traces of failing flows into r, under the
// path and protocol of each.
func attachFlowTraces(r *admin.Report, flows []TracedFlow) {
	for _, f := range flows {
		if f.Trace == nil {
			continue
		}
		pr := probeReportOf(r, f.Target)
		if pr == nil {
			continue // the node left the report's plan meanwhile
		}
		pr.FlowTraces = append(pr.FlowTraces, FlowTraceReport(f.Target, f.Index, *f.Trace))
	}
}

// probeReportOf finds t's ProbeReport in r; nil if r has none.
func probeReportOf(r *admin.Report, t prober.Target) *admin.ProbeReport {
	ip := t.IP.String()
	for i := range r.Nodes {
		n := &r.Nodes[i]
		if n.Name != t.Peer {
			continue
		}
		paths := n.HostPaths()
		if t.Path == prober.PathEndpoint {
			paths = n.EndpointPaths()
		}
		for _, p := range paths {
			if p.IP != ip {
				continue
			}
			if t.Protocol == prober.ProtocolICMP {
				return &p.ICMP
			}
			return &p.HTTP
		}
	}
	return nil
}
