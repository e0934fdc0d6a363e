package prober

import (
	"errors"
	"math/bits"
	"time"
)

// MaxFlows bounds --probe.flows: an unprivileged ICMP socket may lease 32
// IPv6 flow labels, and flow i of every path shares label i (FlowLabel).
// It also bounds the per-path flow state, and lets a path's run of failed
// flows fit in a word.
const MaxFlows = 32

// FlowState is what is known about one flow of a path.
type FlowState struct {
	// Index is the flow's place among its path's flows (0-based).
	Index int
	// Flow is its identity: the TCP source port and the IPv6 flow label
	// (the label alone for ICMPv6).
	Flow                Flow
	LastResult          Result // empty before the flow's first probe
	LastError           string
	LastProbed          time.Time
	ConsecutiveFailures int
	// FullSizeLosses counts the flow's full-size probes lost in a row
	// while its small probes answered (Store.RecordMTU).
	FullSizeLosses int
}

// FlowsState sums up a path's flows for its PathState; its slice is never
// changed once published, so copies of a PathState may share it.
type FlowsState struct {
	// Count is how many flows the path is probed over; 0 for a path
	// probed without flows (--probe.flows=1, or an IPv4 ICMP path, whose
	// echoes no fabric can spread).
	Count int
	// Probed counts the flows probed at least once.
	Probed int
	// Failing are the flows that failed failure-threshold times in a row,
	// by index; bounded by Count.
	Failing []FlowState
	// Partial is set while some flows fail past the threshold and the
	// path answers on others (PathState.Partial).
	Partial bool
}

// Partial reports a path some of whose flows fail past the threshold
// while others answer: one member of an equal-cost group drops, not the
// peer. A partial path is neither reachable nor unreachable in a verdict.
func (s PathState) Partial() bool { return s.Flows.Partial }

// flowSet is the store's state of a path's flows.
type flowSet struct {
	flows []FlowState
	// next is the rotation's next flow.
	next int
	// freshRun has bit i set when flow i, answering before, failed in the
	// path's current run of failed probes: the path is down when that many
	// flows that answered fail in a row, not when one flow is re-probed or
	// flows already known to fail fail again.
	freshRun uint64
	// unsure is set by a fresh failure until a probe of another flow says
	// whether the path answers at all.
	unsure bool
}

func newFlowSet(ids []Flow) *flowSet {
	fs := &flowSet{flows: make([]FlowState, len(ids))}
	for i, f := range ids {
		fs.flows[i] = FlowState{Index: i, Flow: f}
	}
	return fs
}

// pick chooses the flow to probe next and returns its index. Right after
// a flow that answered fails, the next flow in rotation: its answer tells
// a member that drops from a peer that is down, as fast as probing
// without flows would (threshold fresh failures in a row). Otherwise a
// flow that failed but not yet threshold times in a row (the most
// failures first, then the lowest index), so that a member's fault is
// confirmed within threshold intervals; otherwise the next in rotation,
// so that every flow is probed within len(flows) picks. A flow failing
// past the threshold waits for its turn in the rotation: a member that
// stays bad must not stall the others.
func (fs *flowSet) pick(threshold int) int {
	best := -1
	if !fs.unsure {
		for i, f := range fs.flows {
			if f.ConsecutiveFailures > 0 && f.ConsecutiveFailures < threshold &&
				(best < 0 || f.ConsecutiveFailures > fs.flows[best].ConsecutiveFailures) {
				best = i
			}
		}
	}
	if best >= 0 {
		return best
	}
	i := fs.next
	fs.next = (fs.next + 1) % len(fs.flows)
	return i
}

// record folds outcome o of flow i into the flow and returns whether the
// flow just reached threshold failures in a row.
func (fs *flowSet) record(i int, o Outcome, at time.Time, threshold int) (crossed bool) {
	f := &fs.flows[i]
	f.LastResult, f.LastProbed = o.Result, at
	if o.Result == ResultSuccess {
		f.ConsecutiveFailures, f.LastError = 0, ""
		fs.freshRun, fs.unsure = 0, false
		return false
	}
	f.LastError = string(o.Result)
	if o.Err != nil {
		f.LastError = o.Err.Error()
	}
	if errors.Is(o.Err, ErrFlowSetup) {
		return false // a local error (port taken here): nothing about the flow's route
	}
	if f.ConsecutiveFailures == 0 {
		fs.freshRun |= 1 << uint(i)
		fs.unsure = true
	}
	f.ConsecutiveFailures++
	return f.ConsecutiveFailures == threshold
}

// down reports whether the path's current run of failures says it is
// down as a whole: threshold flows that answered before the run (every
// such flow, if fewer) failed in it. Flows that already failed before the
// run do not count either way: where most flows cross a bad member, the
// few that answered are all that can say the peer went down.
func (fs *flowSet) down(threshold int) bool {
	answered := 0
	for i, f := range fs.flows {
		if f.ConsecutiveFailures == 0 || fs.freshRun&(1<<uint(i)) != 0 {
			answered++
		}
	}
	return bits.OnesCount64(fs.freshRun) >= min(threshold, answered)
}

// recovered is told that the path answers again after it was down: the
// flows that failed meanwhile may have failed with the peer, so each is
// probed again first (a suspect, one failure short of the threshold)
// before it counts as failing on its own.
func (fs *flowSet) recovered(threshold int) {
	for i := range fs.flows {
		if fs.flows[i].ConsecutiveFailures >= threshold {
			fs.flows[i].ConsecutiveFailures = threshold - 1
		}
	}
}

// answeredSince reports whether every flow's latest probe answered, and
// was sent at or after since.
func (fs *flowSet) answeredSince(since time.Time) bool {
	for _, f := range fs.flows {
		if f.LastResult != ResultSuccess || f.LastProbed.Before(since) {
			return false
		}
	}
	return true
}

// recordFullSize folds full-size outcome o of flow o.Flow into the flow
// and returns the path's MTU state m with it. The flow's losses count only
// while its own small probes answer (its latest one, which went with this
// full-size probe, succeeded) and the path is reachable: a flow that
// drops everything is a partial path, not an MTU fault, and its count
// starts again. The path is a black hole while any flow is
// (blackholeFlows); otherwise the outcome's own verdict stands, one loss
// below the threshold changing nothing.
func (fs *flowSet) recordFullSize(m MTUState, o MTUOutcome, reachable bool, at time.Time, threshold int) MTUState {
	f := &fs.flows[o.Flow]
	smallOK := reachable && f.LastResult == ResultSuccess && f.ConsecutiveFailures == 0
	if o.Result == MTUResultLost && smallOK {
		f.FullSizeLosses++
	} else {
		f.FullSizeLosses = 0
	}
	// The path-wide count of foldMTU gives no verdict here: the losses of
	// different flows cross different members.
	m = foldMTU(m, o, smallOK, false, at)
	m = fs.withBlackholeFlows(m, threshold, true)
	m.Unconfirmed = f.FullSizeLosses > 0 && f.FullSizeLosses < MTULossThreshold
	return m
}

// withBlackholeFlows sets m.BlackholeFlows: the flows whose full-size
// probes were lost MTULossThreshold times in a row while their small
// probes answered, and that do not fail past threshold since (a flow
// that drops everything is a partial path, not an MTU fault). The path is
// a black hole while any flow is; when none is any more, a black hole
// verdict goes (unknown until the next full-size probe). With always
// false (a small probe recorded) m is left as it is unless the count
// moved.
func (fs *flowSet) withBlackholeFlows(m MTUState, threshold int, always bool) MTUState {
	n := 0
	for _, f := range fs.flows {
		if f.FullSizeLosses >= MTULossThreshold && f.ConsecutiveFailures < threshold {
			n++
		}
	}
	if !always && n == m.BlackholeFlows {
		return m
	}
	m.BlackholeFlows = n
	switch {
	case n > 0:
		m.Status, m.PathMTU = MTUStatusBlackhole, 0
	case m.Status == MTUStatusBlackhole:
		// The flow that made it one answers at full size again, or fails
		// altogether: the black hole is gone.
		m.Status, m.PathMTU = MTUStatusUnknown, 0
	}
	return m
}

// summary is the FlowsState of fs at threshold.
func (fs *flowSet) summary(threshold int) FlowsState {
	s := FlowsState{Count: len(fs.flows)}
	for _, f := range fs.flows {
		if f.LastResult != "" {
			s.Probed++
		}
		if f.ConsecutiveFailures >= threshold {
			s.Failing = append(s.Failing, f)
		}
	}
	return s
}
