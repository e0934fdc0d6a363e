package prober

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"net"
	"net/netip"
	"strconv"
	"syscall"
)

// Flow is one fixed flow identity of a path: what an ECMP fabric's hash
// sees of a TCP probe besides the addresses and the destination port. A
// probe sent with the same Flow takes the same member of every equal-cost
// group, interval after interval and across restarts (see docs/ecmp.md).
type Flow struct {
	// SourcePort is the TCP source port; 0 lets the kernel pick one, as
	// probes without flows do.
	SourcePort uint16
	// FlowLabel is the IPv6 flow label (20 bits, the top one clear); 0
	// leaves the kernel's label, which is random per connection. Ignored
	// for IPv4.
	FlowLabel uint32
}

// maxFlowLabel is the largest flow label a Flow gets: the top bit of the
// 20 stays clear, since with net.ipv6.flowlabel_state_ranges=1 it marks
// labels the flow label manager refuses to lease.
const maxFlowLabel = 0x7ffff

// PortRange is the range source ports of flows are taken from, both ends
// included.
type PortRange struct{ First, Last uint16 }

// DefaultFlowPorts is the top thousand of Linux's default ephemeral range
// (net.ipv4.ip_local_port_range, 32768-60999): ports no service listens
// on. The kernel may still hand one of them to another connection, whose
// socket then holds it against a flow's bind (an ErrFlowSetup, for as long
// as that connection lasts); net.ipv4.ip_local_reserved_ports=60000-60999
// keeps the kernel's picks out of the range and leaves binds to it alone.
var DefaultFlowPorts = PortRange{60000, 60999}

func (r PortRange) valid() error {
	if r.First == 0 || r.Last < r.First {
		return fmt.Errorf("source port range %d-%d: want 1 <= first <= last", r.First, r.Last)
	}
	return nil
}

// Flows returns the n flows of a path: key names the path (for example
// peer name, path and protocol: "node-3/host/http"), and the flows derive
// from it and their index alone, so that they stay the same across
// restarts and on every node. Their source ports are distinct (n must fit
// in ports) and spread over the range by a hash of key and index. Their
// flow labels depend on the index alone (FlowLabel): flow i of every path
// has the same label (the addresses tell paths apart in a fabric's hash),
// so that a node leases n labels in all, not n per path: the kernel
// refuses an unprivileged lease once about 3,000 labels exist in a network
// namespace (a released label lingers 6 s), and an ICMP socket may hold 32.
func Flows(key string, n int, ports PortRange) ([]Flow, error) {
	if err := ports.valid(); err != nil {
		return nil, err
	}
	size := int(ports.Last) - int(ports.First) + 1
	if n < 1 || n > size {
		return nil, fmt.Errorf("%d flows: want 1 to %d, the size of the source port range", n, size)
	}
	flows := make([]Flow, 0, n)
	used := make(map[uint16]bool, n)
	for i := 0; len(flows) < n; i++ {
		h := fnv.New64a()
		_, _ = h.Write([]byte(key))
		_, _ = h.Write([]byte{0})
		_, _ = h.Write(strconv.AppendInt(nil, int64(i), 10))
		v := mix64(h.Sum64())
		port := ports.First + uint16(v%uint64(size))
		if used[port] {
			continue // the next index: ports of one path never repeat
		}
		used[port] = true
		flows = append(flows, Flow{SourcePort: port, FlowLabel: FlowLabel(len(flows))})
	}
	return flows, nil
}

// FlowLabel is the IPv6 flow label of flow index i (0 <= i < 0x7ffff) of
// any path (Flows): i+1 times an odd constant, modulo 2^19, which spreads
// the labels over the range and never gives two indices the same one, nor 0.
func FlowLabel(i int) uint32 {
	return uint32(i+1) * 0x5bd1e995 & maxFlowLabel
}

// mix64 is splitmix64's finaliser: FNV-1a leaves keys that differ in their
// last bytes too much alike.
func mix64(v uint64) uint64 {
	v ^= v >> 30
	v *= 0xbf58476d1ce4e5b9
	v ^= v >> 27
	v *= 0x94d049bb133111eb
	return v ^ v>>31
}

func (f Flow) String() string {
	return fmt.Sprintf("sport %d label %#05x", f.SourcePort, f.FlowLabel)
}

// ErrFlowSetup marks a flow that could not be set up on this node (its
// port or flow label taken here, an option refused): a local error that
// says nothing about the path.
var ErrFlowSetup = errors.New("flow setup")

// Dial connects to addr over TCP with f's identity: source port
// f.SourcePort (bound with SO_REUSEADDR, so that flows to different peers
// share it), flow label f.FlowLabel for IPv6, no change of the flow's hash
// when a SYN or segment is sent again (SO_TXREHASH off where the kernel
// has it, 6.1 and later), and a reset rather than a FIN when the
// connection is closed, so that no TIME_WAIT socket holds the flow's
// 4-tuple until the next probe. A zero Flow dials like net.Dialer.
func (f Flow) Dial(ctx context.Context, addr netip.AddrPort) (*net.TCPConn, error) {
	d := net.Dialer{KeepAlive: -1}
	if f.SourcePort != 0 {
		d.ControlContext = f.control(addr)
	}
	c, err := d.DialContext(ctx, "tcp", addr.String())
	if err != nil {
		if f.SourcePort != 0 && errors.Is(err, syscall.EADDRNOTAVAIL) {
			// Another socket of this host holds the flow's 4-tuple (a trace
			// of the flow, a probe of it not yet closed): local, not the path.
			return nil, fmt.Errorf("%w: the flow's 4-tuple is in use on this host: %w", ErrFlowSetup, err)
		}
		return nil, err
	}
	return c.(*net.TCPConn), nil
}

// FlowProbeFunc probes ip over one flow.
type FlowProbeFunc func(ctx context.Context, ip netip.Addr, f Flow) Outcome

// NewFlowHTTPProbe returns NewHTTPProbe's minimal GET of /hello over a
// given flow: the same request and checks, from the flow's source port and
// with its flow label (Flow.Dial). A zero Flow probes like NewHTTPProbe. A
// flow that cannot be set up here is an error wrapping ErrFlowSetup.
func NewFlowHTTPProbe(cfg HTTPConfig) FlowProbeFunc {
	return newHTTPGetter(cfg).probeFlow
}
