package prober

import "context"

// FullSizeProbes are the full-size probes of the paths: Probe sends one on
// its own, WithSmall (nil: none) one together with the small probe of the
// same interval where that costs less (NewSmallAndFullSizeProbe).
type FullSizeProbes struct {
	Probe     MTUProbeFunc
	WithSmall SmallAndFullSizeFunc
}

// SmallAndFullSizeOutcome is what one exchange found of a path's small and
// full-size probes.
type SmallAndFullSizeOutcome struct {
	// Small is the small probe's outcome; valid if SmallKnown. When it is
	// not, the small probe must be sent on its own (see SmallAndFullSize).
	Small      Outcome
	SmallKnown bool
	FullSize   MTUOutcome
}

// SmallAndFullSizeFunc probes t small and at full size in one exchange,
// over flow f (the flow of t probed this interval; a zero Flow for a
// target probed without flows); false when it does not do so for t (its
// protocol, or a path not probed at full size), and the caller sends the
// two probes itself. A flow that cannot be set up here is a small
// verdict wrapping ErrFlowSetup. It must return by ctx's deadline.
type SmallAndFullSizeFunc func(ctx context.Context, t Target, f Flow) (SmallAndFullSizeOutcome, bool)

// NewSmallAndFullSizeProbe returns the SmallAndFullSizeFunc of cfg. An
// HTTP path's full-size probe rides its small probe's connection
// (cfg.HTTPWithSmall): a connection is most of a probe's cost, so the
// full-size probe then costs about a tenth of a small one instead of a
// whole one. An ICMP path's full-size echo goes out with the small one
// (cfg.ICMPWithSmall), so that both replies are read in one wake-up of the
// process instead of one each (see BENCHMARKS.md). Both go over the flow:
// the HTTP connection from its source port and with its label, both
// echoes with its label. Either is false where cfg has none.
func NewSmallAndFullSizeProbe(cfg MTUProbeConfig) SmallAndFullSizeFunc {
	return func(ctx context.Context, t Target, f Flow) (SmallAndFullSizeOutcome, bool) {
		switch {
		case t.Protocol == ProtocolHTTP && cfg.HTTPWithSmall != nil:
		case t.Protocol == ProtocolICMP && cfg.ICMPWithSmall != nil:
		default:
			return SmallAndFullSizeOutcome{}, false
		}
		ip := t.IP.Unmap()
		mtu, failed := expectedMTU(cfg, t.Path, ip)
		if failed != nil {
			return SmallAndFullSizeOutcome{}, false
		}
		if t.Protocol == ProtocolICMP {
			small, full := cfg.ICMPWithSmall(ctx, ip, mtu, f.FlowLabel)
			return SmallAndFullSizeOutcome{Small: small, SmallKnown: true, FullSize: fullSizeICMP(cfg, ip, mtu, full)}, true
		}
		o := cfg.HTTPWithSmall(ctx, ip, FullSizeBody(mtu), f)
		return SmallAndFullSizeOutcome{Small: o.Small, SmallKnown: o.SmallKnown, FullSize: fullSizeHTTP(cfg, ip, mtu, o.FullSize)}, true
	}
}
