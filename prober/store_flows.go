package prober

import "time"

// PickFlow chooses which of t's flows to probe next (flowSet.pick) and
// returns it with its index. ids gives t's flow identities the first
// time; false when t is not tracked.
func (s *Store) PickFlow(t Target, ids func(Target) []Flow) (Flow, int, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.states[t]; !ok {
		return Flow{}, 0, false
	}
	fs := s.flowSets[t]
	if fs == nil {
		flows := ids(t)
		if len(flows) == 0 {
			return Flow{}, 0, false
		}
		fs = newFlowSet(flows)
		s.flowSets[t] = fs
	}
	i := fs.pick(s.failureThreshold)
	return fs.flows[i].Flow, i, true
}

// RecordFlow folds the outcome of t's flow i (from PickFlow) into the
// flow's and the path's state, like Record, and returns the new state and,
// when the flow has just failed failure-threshold times in a row, the
// flow's state (crossed). The path turns unreachable after threshold
// failures in a row of flows that answered before (flowSet.down), so that
// one flow re-probed, or flows known to fail failing again, make a
// partial path, not a peer down; it turns reachable on any flow's
// success, and a path back from unreachable probes the flows that failed
// meanwhile again before it calls them failing (flowSet.recovered).
func (s *Store) RecordFlow(t Target, i int, o Outcome, at time.Time) (st PathState, crossed *FlowState, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.states[t]
	fs := s.flowSets[t]
	if !ok || fs == nil || i < 0 || i >= len(fs.flows) {
		return PathState{}, nil, false
	}
	if s.inherited[t] {
		delete(s.inherited, t)
		cur.ConsecutiveFailures = 0
	}
	cur.LastResult = o.Result
	cur.LastProbed = at
	if fs.record(i, o, at, s.failureThreshold) {
		f := fs.flows[i]
		crossed = &f
	}
	if o.Result == ResultSuccess {
		if cur.Status == StatusUnreachable {
			fs.recovered(s.failureThreshold)
		}
		cur.Status = StatusReachable
		cur.ConsecutiveFailures = 0
		cur.LastRTT = o.RTT
		cur.LastError = ""
	} else {
		cur.ConsecutiveFailures++
		cur.LastRTT = 0
		cur.LastError = fs.flows[i].LastError
		if cur.ConsecutiveFailures >= s.failureThreshold && fs.down(s.failureThreshold) {
			cur.Status = StatusUnreachable
			if cur.MTU.Status == MTUStatusBlackhole {
				cur.MTU.Status = MTUStatusUnknown
			}
		}
	}
	if cur.Status == StatusReachable {
		// A flow black-holed at full size that now fails past the
		// threshold is a partial path, no longer an MTU fault.
		cur.MTU = fs.withBlackholeFlows(cur.MTU, s.failureThreshold, false)
	}
	cur.Flows = fs.summary(s.failureThreshold)
	cur.Flows.Partial = cur.Status == StatusReachable && len(cur.Flows.Failing) > 0
	return *cur, crossed, true
}

// BlackholedFlows returns t's flows whose full-size probes are lost past
// MTULossThreshold in a row (a black hole), in order; none for a path
// without flows.
func (s *Store) BlackholedFlows(t Target) []FlowState {
	s.mu.RLock()
	defer s.mu.RUnlock()
	fs := s.flowSets[t]
	if fs == nil {
		return nil
	}
	var out []FlowState
	for _, f := range fs.flows {
		if f.FullSizeLosses >= MTULossThreshold {
			out = append(out, f)
		}
	}
	return out
}
