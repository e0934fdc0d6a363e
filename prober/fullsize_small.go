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

// SmallAndFullSizeFunc probes t small and at full size in one exchange;
// false when it does not do so for t (its protocol, or a path not probed
// at full size), and the caller sends the two probes itself. It must
// return by ctx's deadline.
type SmallAndFullSizeFunc func(ctx context.Context, t Target) (SmallAndFullSizeOutcome, bool)

// NewSmallAndFullSizeProbe returns the SmallAndFullSizeFunc of cfg: an HTTP
// path's full-size probe on its small probe's connection
// (cfg.HTTPWithSmall), which then costs about a tenth of a small probe
// instead of a whole one (a connection is most of a probe's cost; see
// BENCHMARKS.md). ICMP paths are left to the caller: an echo cannot carry
// both verdicts, since a lost full-size echo does not tell whether a
// small one would have come back.
func NewSmallAndFullSizeProbe(cfg MTUProbeConfig) SmallAndFullSizeFunc {
	return func(ctx context.Context, t Target) (SmallAndFullSizeOutcome, bool) {
		if t.Protocol != ProtocolHTTP || cfg.HTTPWithSmall == nil {
			return SmallAndFullSizeOutcome{}, false
		}
		ip := t.IP.Unmap()
		mtu, failed := expectedMTU(cfg, t.Path, ip)
		if failed != nil {
			return SmallAndFullSizeOutcome{}, false
		}
		o := cfg.HTTPWithSmall(ctx, ip, FullSizeBody(mtu))
		return SmallAndFullSizeOutcome{Small: o.Small, SmallKnown: o.SmallKnown, FullSize: fullSizeHTTP(cfg, ip, mtu, o.FullSize)}, true
	}
}
