package prober

import (
	"context"
	"fmt"
	"net/netip"
)

// ProbeFlow is Probe with the echo request carrying IPv6 flow label label
// (1 to 0x7ffff): the one field of an echo that an ECMP fabric hashes
// where it hashes the flow label, so that ICMPv6 probes of one path can
// take several members of an equal-cost group and each keep its own (see
// docs/ecmp.md). IPv4 has no such field: label is ignored for IPv4 and 0
// probes like Probe. The engine's socket leases each label from the
// kernel's flow label manager on first use and keeps it; an unprivileged
// socket may hold 32, so labels are best shared by all peers (flow i of
// every path the same label: the addresses tell the paths apart). A label
// that cannot be leased is an error wrapping ErrFlowSetup.
func (e *ICMPEngine) ProbeFlow(ctx context.Context, ip netip.Addr, label uint32) Outcome {
	if label > maxFlowLabel {
		return Outcome{Result: ResultError, Err: fmt.Errorf("%w: flow label %#x over %#x", ErrFlowSetup, label, maxFlowLabel)}
	}
	return e.probe(ctx, ip, 0, label)
}
