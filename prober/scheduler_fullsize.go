package prober

import (
	"context"
	"errors"

	"github.com/go-kit/log/level"
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
//
// A lost full-size probe that counts towards a black hole
// (MTUState.Unconfirmed) is confirmed at once, small and full-size again
// over the same flow, rather than at the path's next turn: so a black
// hole is found within a turn's spacing and two timeouts
// (FullSizeDetectionBound), and turns can be far apart. Likewise, when a
// flow's full-size probe gets through on a path with black-holed flows,
// those flows are probed again at once: a black hole of the whole path
// that healed clears at its next turn, not once turns have come round
// every flow, and one of some flows (a member dropping large packets) is
// held to the truth at every turn.
func (s *Scheduler) probeSmallAndFullSize(ctx context.Context, t Target, smallDone func()) {
	f := s.pickFlow(t)
	var st PathState
	for try := 1; ; try++ {
		var ok bool
		st, ok = s.probeTurn(ctx, t, f, smallDone)
		smallDone = func() {} // a confirmation's small probe is not the sweep's
		if !ok || ctx.Err() != nil {
			return
		}
		if !st.MTU.Unconfirmed || try >= MTULossThreshold {
			break
		}
		level.Debug(s.logger).Log("msg", "full-size probe lost: confirming it at once", "peer", t.Peer, "path", t.Path, "protocol", t.Protocol, "ip", t.IP, "flow", f.Flow)
	}
	if st.MTU.LastResult != MTUResultOK || st.MTU.BlackholeFlows == 0 {
		return
	}
	for _, bad := range s.store.BlackholedFlows(t) {
		if bad.Index == f.index || ctx.Err() != nil {
			continue
		}
		level.Debug(s.logger).Log("msg", "full-size probe got through: probing a black-holed flow again", "peer", t.Peer, "path", t.Path, "protocol", t.Protocol, "ip", t.IP, "flow", bad.Flow)
		s.probeTurn(ctx, t, pathFlow{Flow: bad.Flow, index: bad.Index}, func() {})
	}
}

// probeTurn sends t's small and full-size probes of a turn over f and
// returns the state with the full-size outcome recorded; false if none
// was (shutting down, or t gone).
func (s *Scheduler) probeTurn(ctx context.Context, t Target, f pathFlow, smallDone func()) (PathState, bool) {
	if s.cfg.SmallAndFullSize != nil {
		pctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
		o, ok := s.cfg.SmallAndFullSize(pctx, t, f.Flow)
		timedOut := errors.Is(pctx.Err(), context.DeadlineExceeded)
		cancel()
		if ok {
			if ctx.Err() != nil {
				smallDone()
				return PathState{}, false // shutting down: the outcome says nothing about the peer
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
			o.FullSize.OnFlow, o.FullSize.Flow = f.index >= 0, f.index
			return s.recordMTU(ctx, t, o.FullSize)
		}
	}
	s.probeSmall(ctx, t, f)
	smallDone()
	return s.probeMTU(ctx, t)
}
