package prober

import (
	"context"
	"errors"
	"time"

	"github.com/go-kit/log/level"
)

// probeOne probes t small, over this interval's flow of t if it has flows.
func (s *Scheduler) probeOne(ctx context.Context, t Target) {
	s.probeSmall(ctx, t, s.pickFlow(t))
}

// probeSmall sends t's small probe over f and records its outcome.
func (s *Scheduler) probeSmall(ctx context.Context, t Target, f pathFlow) {
	pctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	var o Outcome
	if f.index >= 0 {
		o = s.cfg.FlowProbes[t.Protocol](pctx, t.IP, f.Flow)
	} else {
		o = s.probes[t.Protocol](pctx, t.IP)
	}
	timedOut := errors.Is(pctx.Err(), context.DeadlineExceeded)
	cancel()
	if ctx.Err() != nil {
		return // shutting down: the outcome says nothing about the peer
	}
	if o.Result != ResultSuccess && timedOut {
		o.Result = ResultTimeout
	}
	s.recordSmall(t, f, o)
}

// recordSmall records o, t's small probe outcome over f: into the flow's
// and the path's state for a path probed over flows (and tells
// OnFlowFailing when the flow just crossed the threshold), into the
// path's otherwise.
func (s *Scheduler) recordSmall(t Target, f pathFlow, o Outcome) {
	var (
		st      PathState
		crossed *FlowState
		ok      bool
	)
	s.applyMu.Lock()
	if f.index >= 0 {
		st, crossed, ok = s.store.RecordFlow(t, f.index, o, time.Now())
	} else {
		st, ok = s.store.Record(t, o, time.Now())
	}
	if ok {
		s.obs.ProbeDone(st, o)
	}
	s.applyMu.Unlock()
	if ok && crossed != nil && s.cfg.OnFlowFailing != nil {
		s.cfg.OnFlowFailing(st, *crossed)
	}
	if !ok || o.Result == ResultSuccess {
		return
	}
	if f.index >= 0 {
		level.Debug(s.logger).Log("msg", "probe failed", "peer", t.Peer, "path", t.Path, "protocol", t.Protocol, "ip", t.IP, "flow", f.Flow, "result", o.Result, "err", o.Err)
		return
	}
	level.Debug(s.logger).Log("msg", "probe failed", "peer", t.Peer, "path", t.Path, "protocol", t.Protocol, "ip", t.IP, "result", o.Result, "err", o.Err)
}
