package daemon

import (
	"context"
	"net/netip"

	"github.com/connectivity-exporter/connectivity_exporter/hello"
	"github.com/connectivity-exporter/connectivity_exporter/prober"
)

// probeParts lets the flow probes share the ICMP engine that the plain
// probes opened: one socket, one reader of echo replies. Deps.Probes runs
// before Deps.FlowProbes (startProbing).
type probeParts struct {
	icmp *prober.ICMPEngine
}

func (p *probeParts) newProbes(c *Config) (map[prober.Protocol]prober.ProbeFunc, func(), error) {
	probes, closeProbes, engine, err := newProbesWithEngine(c)
	p.icmp = engine
	return probes, closeProbes, err
}

// newFlowProbes probes one flow of a path (--probe.flows): HTTP from the
// flow's source port and with its IPv6 flow label; ICMPv6 with its label,
// on the shared engine (pro-bing cannot set one, and IPv4 echoes cannot be
// spread: those paths keep one flow). None with one flow.
func (p *probeParts) newFlowProbes(c *Config) map[prober.Protocol]prober.FlowProbeFunc {
	if c.Flows <= 1 {
		return nil
	}
	out := map[prober.Protocol]prober.FlowProbeFunc{
		prober.ProtocolHTTP: prober.NewFlowHTTPProbe(prober.HTTPConfig{Port: c.HelloPort, Path: hello.Path}),
	}
	if e := p.icmp; e != nil {
		out[prober.ProtocolICMP] = func(ctx context.Context, ip netip.Addr, f prober.Flow) prober.Outcome {
			return e.ProbeFlow(ctx, ip, f.FlowLabel)
		}
	}
	return out
}
