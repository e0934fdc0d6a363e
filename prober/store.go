package prober

import (
	"sort"
	"sync"
	"time"
)

// PathState is what is known about one target after its latest probe.
type PathState struct {
	Target
	Status Status
	// LastResult is the classification of the latest probe.
	LastResult Result
	// LastRTT is the round-trip time of the latest probe if it succeeded.
	LastRTT time.Duration
	// LastError says why the latest probe failed; empty on success.
	LastError string
	// LastProbed is when the latest probe ended; zero before the first.
	LastProbed time.Time
	// ConsecutiveFailures counts failed probes since the last success.
	ConsecutiveFailures int
	// MTU is what the path's full-size probes found.
	MTU MTUState
	// Flows is what the path's flows found (Config.Flows).
	Flows FlowsState
}

// Failing reports whether the path is unreachable, its latest probe
// failed, or some of its flows fail (Partial).
func (s PathState) Failing() bool {
	return s.Status == StatusUnreachable || s.ConsecutiveFailures > 0 || len(s.Flows.Failing) > 0
}

// Store keeps the latest state of every target. It is safe for concurrent use.
type Store struct {
	failureThreshold int

	mu     sync.RWMutex
	states map[Target]*PathState
	// inherited holds the targets whose state came from the target they
	// replaced (Retain) and that have not been probed since.
	inherited map[Target]bool
	// flowSets holds the flows of the targets probed over flows.
	flowSets map[Target]*flowSet
}

// NewStore returns an empty store in which a path turns unreachable after
// failureThreshold consecutive failures, so one lost packet does not flap it.
func NewStore(failureThreshold int) *Store {
	if failureThreshold < 1 {
		failureThreshold = 1
	}
	return &Store{failureThreshold: failureThreshold, states: map[Target]*PathState{}, inherited: map[Target]bool{}, flowSets: map[Target]*flowSet{}}
}

// Record folds one outcome into the target's state and returns the new state.
// Outcomes of targets that are no longer retained are dropped (a probe may end
// after its peer left the node list); ok is false then.
func (s *Store) Record(t Target, o Outcome, at time.Time) (st PathState, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.states[t]
	if !ok {
		return PathState{}, false
	}
	if s.inherited[t] {
		// The first probe of a new address: the old address's failures
		// do not count towards the new one's threshold; its verdict
		// stands until this one's outcomes overturn it.
		delete(s.inherited, t)
		cur.ConsecutiveFailures = 0
	}
	cur.LastResult = o.Result
	cur.LastProbed = at
	if o.Result == ResultSuccess {
		cur.Status = StatusReachable
		cur.ConsecutiveFailures = 0
		cur.LastRTT = o.RTT
		cur.LastError = ""
	} else {
		cur.ConsecutiveFailures++
		cur.LastRTT = 0
		cur.LastError = string(o.Result)
		if o.Err != nil {
			cur.LastError = o.Err.Error()
		}
		if cur.ConsecutiveFailures >= s.failureThreshold {
			cur.Status = StatusUnreachable
			if cur.MTU.Status == MTUStatusBlackhole {
				// The whole path is down: no longer an MTU fault.
				cur.MTU.Status = MTUStatusUnknown
			}
		}
	}
	return *cur, true
}

// RecordMTU folds one full-size outcome into the target's state, like
// Record. A lost full-size probe counts towards a black hole only while
// the small probes it is checked against succeed. One that went over a
// flow of the path (MTUOutcome.OnFlow) is counted for that flow alone,
// against that flow's small probes: a flow whose full-size probes are
// lost MTULossThreshold times in a row while its small ones answer makes
// the path a black hole (MTUState.BlackholeFlows), whatever the other
// flows do, and a flow that drops everything (a partial path) is never
// counted. Without a flow, on a path with flows, a loss counts only once
// every flow answered since the losses began: the probe may have crossed
// an equal-cost member that drops everything, no MTU fault (foldMTU).
func (s *Store) RecordMTU(t Target, o MTUOutcome, at time.Time) (st PathState, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.states[t]
	if !ok {
		return PathState{}, false
	}
	fs := s.flowSets[t]
	if o.OnFlow && fs != nil && o.Flow >= 0 && o.Flow < len(fs.flows) {
		cur.MTU = fs.recordFullSize(cur.MTU, o, cur.Status == StatusReachable, at, s.failureThreshold)
		return *cur, true
	}
	smallOK := cur.Status == StatusReachable && cur.LastResult == ResultSuccess && len(cur.Flows.Failing) == 0
	lostSince := cur.MTU.LostSince
	if lostSince.IsZero() {
		lostSince = at
	}
	answered := true
	if fs != nil {
		answered = fs.answeredSince(lostSince)
	}
	cur.MTU = foldMTU(cur.MTU, o, smallOK, answered, at)
	cur.MTU.Unconfirmed = o.Result == MTUResultLost && smallOK && answered && cur.MTU.ConsecutiveLosses < MTULossThreshold
	return *cur, true
}

// Retain makes targets the tracked set: existing ones keep their state,
// and the ones not listed are dropped and returned. A new target starts
// unknown, unless it replaces a dropped one of the same series (peer,
// path, protocol and family: a health pod replaced with a new IP), whose
// state it takes over until its own first probe: the path stays known,
// and is not returned as removed, so its series stay.
func (s *Store) Retain(targets []Target) (removed []Target) {
	keep := make(map[Target]struct{}, len(targets))
	s.mu.Lock()
	defer s.mu.Unlock()
	var added []Target
	for _, t := range targets {
		keep[t] = struct{}{}
		if _, ok := s.states[t]; !ok {
			added = append(added, t)
		}
	}
	dropped := map[SeriesKey]*PathState{}
	for t, st := range s.states {
		if _, ok := keep[t]; !ok {
			delete(s.states, t)
			delete(s.inherited, t)
			delete(s.flowSets, t)
			dropped[t.SeriesKey()] = st
		}
	}
	for _, t := range added {
		if old, ok := dropped[t.SeriesKey()]; ok {
			delete(dropped, t.SeriesKey())
			st := *old
			st.Target = t
			s.states[t] = &st
			s.inherited[t] = true
			continue
		}
		s.states[t] = &PathState{Target: t, Status: StatusUnknown, MTU: MTUState{Status: MTUStatusUnknown}}
	}
	for _, st := range dropped {
		removed = append(removed, st.Target)
	}
	sortTargets(removed)
	return removed
}

// State returns the state of target t; false when t is not tracked.
func (s *Store) State(t Target) (PathState, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	st, ok := s.states[t]
	if !ok {
		return PathState{}, false
	}
	return *st, true
}

// Snapshot returns a copy of every state, ordered by peer, path and protocol.
func (s *Store) Snapshot() []PathState {
	s.mu.RLock()
	out := make([]PathState, 0, len(s.states))
	for _, st := range s.states {
		out = append(out, *st)
	}
	s.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return targetLess(out[i].Target, out[j].Target) })
	return out
}

func sortTargets(ts []Target) {
	sort.Slice(ts, func(i, j int) bool { return targetLess(ts[i], ts[j]) })
}

func targetLess(a, b Target) bool {
	if a.Peer != b.Peer {
		return a.Peer < b.Peer
	}
	if a.Path != b.Path {
		return a.Path > b.Path // host before endpoint
	}
	if a.Protocol != b.Protocol {
		return a.Protocol > b.Protocol // icmp before http
	}
	return a.IP.Less(b.IP)
}
