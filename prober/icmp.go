package prober

import (
	"context"
	"net"
	"net/netip"
	"time"

	probing "github.com/prometheus-community/pro-bing"
)

// ICMPConfig sets how echo requests are sent.
type ICMPConfig struct {
	// Privileged uses raw sockets (needs CAP_NET_RAW); otherwise unprivileged
	// datagram ICMP sockets, which need net.ipv4.ping_group_range to allow it.
	Privileged bool
	// DontFragment sets don't-fragment on every packet (IPv4) and stops
	// the kernel from fragmenting (both families): the sockets of the
	// full-size probes. Only the shared engine honours it.
	DontFragment bool
}

// NewICMPProbe returns a ProbeFunc that sends one ICMP echo and waits for its
// reply until ctx's deadline.
func NewICMPProbe(cfg ICMPConfig) ProbeFunc {
	return func(ctx context.Context, ip netip.Addr) Outcome {
		deadline, ok := ctx.Deadline()
		if !ok {
			return Outcome{Result: ResultError, Err: errICMPNoDeadline}
		}
		p := probing.New("")
		p.SetIPAddr(&net.IPAddr{IP: ip.AsSlice()})
		if ip.Is4() {
			p.SetNetwork("ip4")
		} else {
			p.SetNetwork("ip6")
		}
		p.SetPrivileged(cfg.Privileged)
		p.SetLogger(probing.NoopLogger{})
		p.Count = 1
		p.Timeout = time.Until(deadline)
		var rtt time.Duration
		p.OnRecv = func(pkt *probing.Packet) { rtt = pkt.Rtt }
		if err := p.RunWithContext(ctx); err != nil {
			return Outcome{Result: ResultError, Err: err}
		}
		if p.Statistics().PacketsRecv == 0 {
			return Outcome{Result: ResultTimeout, Err: errICMPNoReply}
		}
		return Outcome{Result: ResultSuccess, RTT: rtt}
	}
}
