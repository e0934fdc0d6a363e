package daemon

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/connectivity-exporter/connectivity_exporter/admin"
	"github.com/connectivity-exporter/connectivity_exporter/plan"
	"github.com/connectivity-exporter/connectivity_exporter/prober"
)

// FlowTracer traces one flow of one path: prober.Tracer, or a fake in
// tests.
type FlowTracer interface {
	Trace(ctx context.Context, proto prober.Protocol, dst netip.Addr, f prober.Flow) prober.TraceResult
}

// newTracers are the daemon's tracers (Deps.Tracers): one for the trace
// command, which tries a silent TTL twice (the routers' ICMP rate limits
// bite when every flow of a node is traced at once), and one for failing
// flows, which tries once so that the bad member is named within seconds.
// They share one rate limit.
func newTracers(c *Config) (onDemand, automatic FlowTracer, err error) {
	tr, err := prober.NewTracer(prober.TraceConfig{Port: uint16(c.HelloPort), PrivilegedICMP: c.ICMPPrivileged})
	if err != nil {
		return nil, nil, err
	}
	return tr.WithAttempts(2), tr, nil
}

// traceFlows are the first n flows of t as the scheduler probes them
// (fc: its key and ports): one for IPv4 ICMP, where nothing of an echo
// but the addresses is hashed (docs/ecmp.md).
func traceFlows(fc prober.FlowConfig, t prober.Target, n int) ([]prober.Flow, error) {
	flows := fc.FlowIdentities(t, n)
	if len(flows) == 0 {
		return nil, fmt.Errorf("no %d flows of %s/%s/%s to trace", n, t.Peer, t.Path, t.Protocol)
	}
	return flows, nil
}

// maxConcurrentTraces bounds the flows traced at once by the trace
// command: enough to overlap the silent TTLs of several flows; the
// tracer's rate limit bounds the probes.
const maxConcurrentTraces = 8

// traceNode traces every flow (n per path, identities from fc) of every
// path of node in p.
func traceNode(ctx context.Context, tr FlowTracer, fc prober.FlowConfig, p *plan.Plan, node string, n int) (admin.TraceReport, error) {
	if p == nil {
		return admin.TraceReport{}, fmt.Errorf("%w: the daemon has no node list yet", admin.ErrNotTraceable)
	}
	e, ok := p.Entry(node)
	if !ok {
		return admin.TraceReport{}, fmt.Errorf("%w %q: not in %s's node list", admin.ErrUnknownNode, node, p.Local())
	}
	if len(e.Targets) == 0 {
		why := p.NotProbedReason(e)
		if why == "" {
			why = "no path to probe"
		}
		return admin.TraceReport{}, fmt.Errorf("%w: %s is not probed from %s (%s)", admin.ErrNotTraceable, node, p.Local(), why)
	}
	rep := admin.TraceReport{LocalNode: p.Local(), Node: node, Flows: n, Started: time.Now()}
	type job struct {
		t prober.Target
		i int
		f prober.Flow
	}
	var jobs []job
	for _, t := range e.Targets {
		flows, err := traceFlows(fc, t, n)
		if err != nil {
			return admin.TraceReport{}, err
		}
		for i, f := range flows {
			jobs = append(jobs, job{t: t, i: i, f: f})
		}
	}
	rep.Traces = make([]admin.FlowTrace, len(jobs))
	sem := make(chan struct{}, maxConcurrentTraces)
	var wg sync.WaitGroup
	for k, j := range jobs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			rep.Traces[k] = FlowTraceReport(j.t, j.i, tr.Trace(ctx, j.t.Protocol, j.t.IP, j.f))
		})
	}
	wg.Wait()
	rep.Duration = admin.Duration(time.Since(rep.Started))
	return rep, nil
}

// FlowTraceReport is r, the trace of flow i of t, for the admin API.
func FlowTraceReport(t prober.Target, i int, r prober.TraceResult) admin.FlowTrace {
	ft := admin.FlowTrace{
		Path: string(t.Path), Protocol: string(t.Protocol), Family: string(t.Family()), IP: t.IP.String(),
		Flow: i, SourcePort: int(r.Flow.SourcePort), Reached: r.Reached,
		LastHopTTL: r.LastHopTTL, FirstSilentTTL: r.FirstSilentTTL(),
		Started: r.Started, Duration: admin.Duration(r.Duration), Error: r.Err,
		Hops: make([]admin.TraceHop, 0, len(r.Hops)),
	}
	if t.Family() == prober.FamilyIPv6 {
		ft.FlowLabel = r.Flow.FlowLabel
	}
	if r.LastHop.IsValid() {
		ft.LastHop = r.LastHop.String()
	}
	for _, h := range r.Hops {
		th := admin.TraceHop{TTL: h.TTL, Kind: string(h.Kind), RTT: admin.Duration(h.RTT), Error: h.Error}
		if h.Addr.IsValid() {
			th.Addr = h.Addr.String()
		}
		ft.Hops = append(ft.Hops, th)
	}
	return ft
}
