package prober

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-kit/log/level"
)

// FlowConfig has a Scheduler probe each path over Flows sticky flows
// (docs/ecmp.md) at the cost of one: each interval probes one flow of
// each path, in rotation, a flow that just failed first (flowSet.pick).
type FlowConfig struct {
	// Flows is how many flows each path is probed over: 0 or 1 probes
	// without flows, as the ProbeFuncs do (the kernel's source port and
	// flow label); at most MaxFlows.
	Flows int
	// FlowProbes probe one flow of a path, per protocol; a protocol
	// without one is probed without flows.
	FlowProbes map[Protocol]FlowProbeFunc
	// FlowPorts are the flows' TCP source ports; zero: DefaultFlowPorts.
	FlowPorts PortRange
	// FlowKey starts every path's flow key (Flows): this node's name, so
	// that daemons sharing a network namespace and an address (labs,
	// benchmarks) do not share 4-tuples.
	FlowKey string
	// OnFlowFailing, if set, is told when a flow of a path has just failed
	// failure-threshold times in a row (once per run of failures), after
	// the outcome is recorded: the hook for tracing that flow. It must not
	// block.
	OnFlowFailing FlowFailingFunc
}

// FlowFailingFunc is told about a flow of path st that failed past the
// threshold: f is the flow, st the path's state with it.
type FlowFailingFunc func(st PathState, f FlowState)

func (c FlowConfig) validate() error {
	if c.Flows < 0 || c.Flows > MaxFlows {
		return &ConfigError{"Flows", fmt.Sprintf("must be from 1 to %d, got %d", MaxFlows, c.Flows)}
	}
	if c.Flows > 1 && c.FlowPorts != (PortRange{}) {
		if err := c.FlowPorts.valid(); err != nil {
			return &ConfigError{"FlowPorts", err.Error()}
		}
		if size := int(c.FlowPorts.Last) - int(c.FlowPorts.First) + 1; c.Flows > size {
			return &ConfigError{"Flows", fmt.Sprintf("must fit in the %d source ports of %d-%d, got %d", size, c.FlowPorts.First, c.FlowPorts.Last, c.Flows)}
		}
	}
	return nil
}

// flowIDs are t's flow identities; none when t is probed without flows.
// TCP flows vary the source port and, for IPv6, the flow label; ICMPv6
// flows the label; IPv4 ICMP has nothing a fabric hashes besides the
// addresses (docs/ecmp.md), so it keeps one flow.
func (c FlowConfig) flowIDs(t Target) []Flow {
	if c.Flows <= 1 || c.FlowProbes[t.Protocol] == nil {
		return nil
	}
	if t.Protocol == ProtocolICMP && !t.IP.Unmap().Is6() {
		return nil
	}
	return c.FlowIdentities(t, c.Flows)
}

// FlowIdentities are the first n flows of t (1 <= n <= MaxFlows), as
// the scheduler probes them with n or more flows: the same identities for
// traces (prober.Tracer). IPv4 ICMP has a single zero flow, ICMPv6 flows
// a label each, TCP flows a source port and a label each.
func (c FlowConfig) FlowIdentities(t Target, n int) []Flow {
	if t.Protocol == ProtocolICMP {
		if !t.IP.Unmap().Is6() {
			return []Flow{{}}
		}
		out := make([]Flow, n)
		for i := range out {
			out[i] = Flow{FlowLabel: FlowLabel(i)}
		}
		return out
	}
	ports := c.FlowPorts
	if ports == (PortRange{}) {
		ports = DefaultFlowPorts
	}
	out, err := Flows(c.FlowKey+"/"+t.Peer+"/"+string(t.Path)+"/"+string(t.Protocol), n, ports)
	if err != nil {
		return nil // validate rules this out
	}
	return out
}

// probeFlow probes one flow of t, if t is probed over flows; false if it
// is not (the caller probes it without).
func (s *Scheduler) probeFlow(ctx context.Context, t Target) bool {
	probe := s.cfg.FlowProbes[t.Protocol]
	if s.cfg.Flows <= 1 || probe == nil || (t.Protocol == ProtocolICMP && !t.IP.Unmap().Is6()) {
		return false
	}
	f, i, ok := s.store.PickFlow(t, s.cfg.flowIDs)
	if !ok {
		return false
	}
	pctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	o := probe(pctx, t.IP, f)
	cancel()
	if ctx.Err() != nil {
		return true
	}
	if o.Result != ResultSuccess && errors.Is(pctx.Err(), context.DeadlineExceeded) {
		o.Result = ResultTimeout
	}
	s.applyMu.Lock()
	st, crossed, ok := s.store.RecordFlow(t, i, o, time.Now())
	if ok {
		s.obs.ProbeDone(st, o)
	}
	s.applyMu.Unlock()
	if ok && crossed != nil && s.cfg.OnFlowFailing != nil {
		s.cfg.OnFlowFailing(st, *crossed)
	}
	if ok && o.Result != ResultSuccess {
		level.Debug(s.logger).Log("msg", "probe failed", "peer", t.Peer, "path", t.Path, "protocol", t.Protocol, "ip", t.IP, "flow", f, "result", o.Result, "err", o.Err)
	}
	return true
}
