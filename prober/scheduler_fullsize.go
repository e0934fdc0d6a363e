package prober

import (
	"context"
	"errors"
	"time"

	"github.com/go-kit/log/level"
)

// probeSmallAndFullSize runs t's small and full-size probes of a cycle
// with a full-size turn, and calls smallDone once the small verdict is
// recorded (a sweep lasts as long as its small probes). The small verdict
// is recorded first: it says whether a lost full-size probe is an MTU
// fault. With Config.SmallAndFullSize, one exchange gives both where it
// can; a small verdict it cannot give (an MTU black hole drops the
// answer's head with its first full-size segment) comes from a small
// probe on its own, so that a black hole is told from a dead path in the
// same cycle.
func (s *Scheduler) probeSmallAndFullSize(ctx context.Context, t Target, smallDone func()) {
	// A target probed over flows keeps its small probe on this cycle's
	// sticky flow: the one exchange does not carry a flow (yet).
	if s.cfg.SmallAndFullSize != nil && len(s.cfg.flowIDs(t)) == 0 {
		pctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
		o, ok := s.cfg.SmallAndFullSize(pctx, t)
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
				s.recordSmall(t, o.Small)
			} else {
				s.probeOne(ctx, t)
			}
			smallDone()
			s.recordMTU(ctx, t, o.FullSize)
			return
		}
	}
	s.probeOne(ctx, t)
	smallDone()
	s.probeMTU(ctx, t)
}

// recordSmall records o, t's small probe outcome, as probeOne does.
func (s *Scheduler) recordSmall(t Target, o Outcome) {
	s.applyMu.Lock()
	st, ok := s.store.Record(t, o, time.Now())
	if ok {
		s.obs.ProbeDone(st, o)
	}
	s.applyMu.Unlock()
	if ok && o.Result != ResultSuccess {
		level.Debug(s.logger).Log("msg", "probe failed", "peer", t.Peer, "path", t.Path, "protocol", t.Protocol, "ip", t.IP, "result", o.Result, "err", o.Err)
	}
}
