package prober

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"syscall"
)

// MTUProbeConfig says how full-size probes are sized and sent.
type MTUProbeConfig struct {
	// HostMTU and EndpointMTU override the expected MTU of host and
	// endpoint paths (--probe.mtu, --probe.mtu.endpoint); 0 reads it from
	// the route towards the probed address.
	HostMTU, EndpointMTU int
	// Routes gives the route MTUs; needed unless both overrides are set.
	Routes MTUSource
	// ICMP sends one don't-fragment echo whose IP packet is size bytes
	// (ICMPEngine.ProbeSize of an engine with DontFragment).
	ICMP func(ctx context.Context, ip netip.Addr, size int) Outcome
	// HTTP GETs /hello?size=N and checks that N bytes come
	// (NewMTUHTTPProbe).
	HTTP func(ctx context.Context, ip netip.Addr, size int) Outcome
	// ICMPWithSmall sends a small echo and a don't-fragment one of size
	// bytes back to back, both with IPv6 flow label label unless 0
	// (ICMPEngine.ProbeSmallAndSize of the engine of ICMP), for
	// NewSmallAndFullSizeProbe; nil: none, the full-size echo is sent
	// after the small probe.
	ICMPWithSmall func(ctx context.Context, ip netip.Addr, size int, label uint32) (small, full Outcome)
	// HTTPWithSmall GETs /hello?size=N on the small probe's connection,
	// made over flow f (NewSmallAndFullSizeHTTPProbe), for
	// NewSmallAndFullSizeProbe; nil: none, the full-size HTTP probe has a
	// connection of its own.
	HTTPWithSmall func(ctx context.Context, ip netip.Addr, size int, f Flow) SmallAndFullSize
}

// MTUSource is what full-size probes need of the routing table (RouteMTU).
type MTUSource interface {
	Expected(ip netip.Addr) (int, error)
	Current(ip netip.Addr) int
}

// minProbeMTU is the smallest MTU a full-size probe is sized for: IPv6's
// minimum, and above any small probe.
const minProbeMTU = 1280

// FullSizeBody is the body a full-size HTTP probe asks for on a path of
// MTU mtu: four full-size segments, so that the answer tests the MSS and
// path MTU discovery and not only the first segment; at most
// MaxFullSizeBody.
func FullSizeBody(mtu int) int { return min(4*mtu, MaxFullSizeBody) }

// NewMTUProbe returns the MTUProbeFunc of cfg.
func NewMTUProbe(cfg MTUProbeConfig) MTUProbeFunc {
	return func(ctx context.Context, t Target) MTUOutcome {
		ip := t.IP.Unmap()
		mtu, failed := expectedMTU(cfg, t.Path, ip)
		if failed != nil {
			return *failed
		}
		if t.Protocol == ProtocolHTTP {
			return fullSizeHTTP(cfg, ip, mtu, cfg.HTTP(ctx, ip, FullSizeBody(mtu)))
		}
		return fullSizeICMP(cfg, ip, mtu, cfg.ICMP(ctx, ip, mtu))
	}
}

// expectedMTU is what a full-size probe of path towards ip is sized for;
// failed, when not nil, is the outcome of a path that cannot be probed at
// full size.
func expectedMTU(cfg MTUProbeConfig, path Path, ip netip.Addr) (mtu int, failed *MTUOutcome) {
	mtu = cfg.HostMTU
	if path == PathEndpoint {
		mtu = cfg.EndpointMTU
	}
	if mtu == 0 {
		if cfg.Routes == nil {
			return 0, &MTUOutcome{Result: MTUResultError, Err: errors.New("no expected MTU: no route lookup and no --probe.mtu")}
		}
		m, err := cfg.Routes.Expected(ip)
		if err != nil {
			return 0, &MTUOutcome{Result: MTUResultError, Err: err}
		}
		mtu = m
	}
	if mtu < minProbeMTU {
		// A path this small gains nothing from a full-size probe, and
		// an IPv4 echo this small may be what the small probe sends.
		return 0, &MTUOutcome{Result: MTUResultError, Expected: mtu, Err: fmt.Errorf("expected MTU %d is below %d: not probed at full size", mtu, minProbeMTU)}
	}
	return mtu, nil
}

// fullSizeICMP classifies o, the reply to a full-size echo of a path of
// MTU mtu.
func fullSizeICMP(cfg MTUProbeConfig, ip netip.Addr, mtu int, o Outcome) MTUOutcome {
	out := MTUOutcome{Expected: mtu, RTT: o.RTT, Err: o.Err}
	switch {
	case o.Result == ResultSuccess:
		out.Result = MTUResultOK
	case errors.Is(o.Err, syscall.EMSGSIZE):
		// The kernel refused it: a path MTU learned from an earlier
		// "fragmentation needed", or the interface's MTU (below an
		// --probe.mtu), is smaller.
		out.Result, out.PathMTU = MTUResultTooBig, current(cfg, ip)
		if out.PathMTU == 0 && cfg.Routes != nil {
			if m, err := cfg.Routes.Expected(ip); err == nil && m < mtu {
				out.PathMTU = m
			}
		}
	case o.Result == ResultTimeout:
		// A router that cannot forward it answers "fragmentation needed"
		// / "packet too big", which the kernel learns as this
		// destination's path MTU: smaller now means refused, not lost.
		out.Result = MTUResultLost
		if pmtu := current(cfg, ip); pmtu > 0 && pmtu < mtu {
			out.Result, out.PathMTU = MTUResultTooBig, pmtu
			out.Err = fmt.Errorf("refused as too big: path MTU %d", pmtu)
		}
	default:
		out.Result = MTUResultError
	}
	return out
}

// fullSizeHTTP classifies o, the answer to a full-size HTTP probe of a
// path of MTU mtu.
func fullSizeHTTP(cfg MTUProbeConfig, ip netip.Addr, mtu int, o Outcome) MTUOutcome {
	out := MTUOutcome{Expected: mtu, RTT: o.RTT, Err: o.Err}
	switch o.Result {
	case ResultSuccess:
		// TCP got the whole answer; if it had to, path MTU discovery
		// learned a smaller MTU on the way.
		out.Result = MTUResultOK
		if pmtu := current(cfg, ip); pmtu > 0 && pmtu < mtu {
			out.PathMTU = pmtu
		}
	case ResultTimeout:
		out.Result = MTUResultLost
	default:
		out.Result = MTUResultError
	}
	return out
}

func current(cfg MTUProbeConfig, ip netip.Addr) int {
	if cfg.Routes == nil {
		return 0
	}
	return cfg.Routes.Current(ip)
}
