package prober

import (
	"context"
	"errors"
)

// probeSmallAndFullSize runs t's small and full-size probes of a cycle
// with a full-size turn, and calls smallDone once the small verdict is
// recorded (a sweep lasts as long as its small probes). The small verdict
// is recorded first: it says whether a lost full-size probe is an MTU
// fault. Both go over the flow of t this cycle probes (pickFlow), so that
// the turn's small verdict is that flow's, as in any other cycle. With
// Config.SmallAndFullSize, one exchange gives both where it can; a small
// verdict it cannot give (an MTU black hole drops the answer's head with
// its first full-size segment) comes from a small probe on its own, on
// the same flow, so that a black hole is told from a dead path in the
// same cycle. A full-size probe on its own (MTUProbe: no exchange for t)
// carries no flow. As the flows rotate once a cycle, the turns are
// grouped (fullSizeSpan) so that they go over every flow in turn.
func (s *Scheduler) probeSmallAndFullSize(ctx context.Context, t Target, smallDone func()) {
	f := s.pickFlow(t)
	if s.cfg.SmallAndFullSize != nil {
		pctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
		o, ok := s.cfg.SmallAndFullSize(pctx, t, f.Flow)
		timedOut := errors.Is(pctx.Err(), context.DeadlineExceeded)
		cancel()
		if ok {
			if ctx.Err() != nil {
				smallDone()
				return // shutting down: the outcome says nothing about the peer
			}
			if o.SmallKnown {
				if o.Small.Result != ResultSuccess && timedOut {
					o.Small.Result = ResultTimeout
				}
				s.recordSmall(t, f, o.Small)
			} else {
				s.probeSmall(ctx, t, f)
			}
			smallDone()
			// Over this cycle's flow, as its small verdict just recorded.
			o.FullSize.OnFlow = f.index >= 0
			s.recordMTU(ctx, t, o.FullSize)
			return
		}
	}
	s.probeSmall(ctx, t, f)
	smallDone()
	s.probeMTU(ctx, t)
}
