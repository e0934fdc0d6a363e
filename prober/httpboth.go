package prober

import (
	"context"
	"net/netip"
)

// SmallAndFullSize is what one GET /hello?size=N tells about a path: the
// small probe's verdict from the answer's head (a 200 head is all a small
// probe asks for), and the full-size probe's from the whole answer.
type SmallAndFullSize struct {
	// Small is the success of the head, its RTT up to the kernel's
	// timestamp of the segment that completed the head, or the failure
	// to connect (refused, timed out: a small probe's own connection
	// would fare the same); valid if SmallKnown.
	Small Outcome
	// SmallKnown is false when the connection was made but no 200 head
	// came (a timeout, an error, another status): the caller then probes
	// small on its own, so that an MTU black hole, which drops the
	// answer's first full-size segment with the head in it, is told from
	// a dead path.
	SmallKnown bool
	// FullSize is the full-size probe's outcome, as NewMTUHTTPProbe's.
	FullSize Outcome
}

// NewSmallAndFullSizeHTTPProbe returns what makes one connection serve a
// path's small and full-size HTTP probes of an interval: a full-size
// probe on a connection of its own costs about as much as the small one
// (the connection is most of it; see BENCHMARKS.md, "Full-size HTTP
// probes on the small probe's connection"). Every /hello responder that
// serves full-size probes answers it, and an older one's short answer
// still gives the small verdict. The connection is made over the given
// flow, as NewFlowHTTPProbe's (a zero Flow: the kernel's source port and
// label), so that in a full-size turn of a path probed over flows the
// small verdict is the flow's; a flow that cannot be set up here is a
// small verdict wrapping ErrFlowSetup.
func NewSmallAndFullSizeHTTPProbe(cfg HTTPConfig) func(ctx context.Context, ip netip.Addr, size int, f Flow) SmallAndFullSize {
	return newHTTPGetter(cfg).getBoth
}
