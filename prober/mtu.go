package prober

import (
	"context"
	"time"
)

// MTUResult classifies one full-size probe.
type MTUResult string

const (
	// MTUResultOK: the full-size probe came back whole.
	MTUResultOK MTUResult = "ok"
	// MTUResultLost: no answer, and nothing said the packet was too big.
	MTUResultLost MTUResult = "lost"
	// MTUResultTooBig: refused as too big, by the local kernel (EMSGSIZE:
	// the interface's MTU or a path MTU it has learned) or by a router
	// (ICMP fragmentation needed / packet too big, learned by the kernel).
	MTUResultTooBig MTUResult = "too_big"
	// MTUResultError: any other failure (refused, a bad answer): it says
	// nothing about the MTU.
	MTUResultError MTUResult = "error"
)

// MTUResults lists every MTUResult, in the order metrics expose them.
var MTUResults = [...]MTUResult{MTUResultOK, MTUResultLost, MTUResultTooBig, MTUResultError}

// MTUStatus is what a path's full-size probes are reported as.
type MTUStatus string

const (
	// MTUStatusOK: full-size packets of the expected MTU get through.
	MTUStatusOK MTUStatus = "ok"
	// MTUStatusBlackhole: small probes succeed, full-size ones are lost
	// (MTULossThreshold in a row) and nothing says they are too big.
	MTUStatusBlackhole MTUStatus = "blackhole"
	// MTUStatusReduced: the path MTU is below the expected MTU, and path
	// MTU discovery learned it (ICMP fragmentation needed / packet too
	// big): information, not an outage.
	MTUStatusReduced MTUStatus = "reduced"
	// MTUStatusUnknown: no full-size verdict (not probed yet, the path is
	// down anyway, or the last full-size probe failed otherwise).
	MTUStatusUnknown MTUStatus = "unknown"
)

// MTUStatuses lists every MTUStatus, in the order metrics expose them.
var MTUStatuses = [...]MTUStatus{MTUStatusOK, MTUStatusBlackhole, MTUStatusReduced, MTUStatusUnknown}

// MTULossThreshold is how many full-size probes in a row must be lost,
// while small probes succeed, before a path is an MTU black hole: one lost
// packet is not a black hole.
const MTULossThreshold = 2

// MTUOutcome is what one full-size probe found.
type MTUOutcome struct {
	Result MTUResult
	// Expected is the MTU the probe was sized for (bytes of the IP packet).
	Expected int
	// PathMTU is the path MTU the kernel knows towards the peer when it is
	// below Expected (from ICMP fragmentation needed / packet too big, or
	// a smaller route MTU); 0 when none is known.
	PathMTU int
	RTT     time.Duration
	Err     error
	// OnFlow says that the probe went over the flow of the path whose
	// small probe answered with it (the one exchange of a full-size turn):
	// it crossed that flow's equal-cost members, and a loss needs no other
	// flow's answer to be an MTU fault (Store.RecordMTU).
	OnFlow bool
	// Flow is the index of that flow among the path's flows (with OnFlow):
	// its full-size losses are counted per flow.
	Flow int
}

// MTUProbeFunc sends one full-size probe of t. It must return by ctx's
// deadline.
type MTUProbeFunc func(ctx context.Context, t Target) MTUOutcome

// MTUState is what is known about one target's full-size probes.
type MTUState struct {
	Status MTUStatus
	// Expected is the MTU of the latest full-size probe; PathMTU the
	// path MTU found (Expected when it is OK, the smaller learned one when
	// reduced); 0 when unknown.
	Expected, PathMTU int
	LastResult        MTUResult
	LastError         string
	LastProbed        time.Time
	// ConsecutiveLosses counts lost full-size probes since the last one
	// that was not lost; LostSince is when the first of them was sent.
	ConsecutiveLosses int
	LostSince         time.Time
	// BlackholeFlows counts the flows of a path probed over flows whose
	// full-size probes were lost MTULossThreshold times in a row while
	// their small probes answered: a member of an equal-cost group that
	// drops only large packets blackholes those flows alone. 0 for a path
	// without flows, whose verdict is the path's own.
	BlackholeFlows int
	// Unconfirmed is set while a lost full-size probe that counts towards
	// a black hole awaits the next one, which the scheduler sends at once
	// (over the same flow) rather than at the path's next turn.
	Unconfirmed bool
}

// foldMTU folds one full-size outcome into m. smallOK says that the path's
// small probes currently succeed: only then is a loss an MTU black hole.
// flowsAnswered says that every flow of a path with flows answered a
// small probe since the losses began: a full-size probe carries no flow's
// identity, so until then it may have crossed a member that drops
// everything (the flows on it not probed yet), and the previous verdict
// stands.
func foldMTU(m MTUState, o MTUOutcome, smallOK, flowsAnswered bool, at time.Time) MTUState {
	m.LastResult, m.LastProbed, m.Expected = o.Result, at, o.Expected
	m.LastError = ""
	if o.Err != nil {
		m.LastError = o.Err.Error()
	}
	if o.Result != MTUResultLost {
		m.ConsecutiveLosses, m.LostSince = 0, time.Time{}
	} else if m.ConsecutiveLosses == 0 {
		m.LostSince = at
	}
	switch o.Result {
	case MTUResultOK, MTUResultTooBig:
		m.Status, m.PathMTU = MTUStatusOK, o.Expected
		if o.PathMTU > 0 && o.PathMTU < o.Expected {
			m.Status, m.PathMTU = MTUStatusReduced, o.PathMTU
		} else if o.Result == MTUResultTooBig {
			// Refused, but no smaller MTU is known: nothing to report.
			m.Status, m.PathMTU = MTUStatusUnknown, 0
		}
	case MTUResultLost:
		m.ConsecutiveLosses++
		switch {
		case !smallOK:
			m.Status, m.PathMTU = MTUStatusUnknown, 0
		case m.ConsecutiveLosses >= MTULossThreshold && flowsAnswered:
			m.Status, m.PathMTU = MTUStatusBlackhole, 0
		}
		// Below the threshold the previous verdict stands: one lost
		// packet is a near miss; so it does until every flow answered.
	default:
		m.Status, m.PathMTU = MTUStatusUnknown, 0
	}
	return m
}
