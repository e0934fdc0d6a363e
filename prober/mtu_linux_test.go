package prober

import (
	"context"
	"errors"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/connectivity-exporter/connectivity_exporter/test/testbin"
)

// Full-size echoes over a real link of MTU 1400, in both families: a
// packet of the link's MTU is answered, one byte of MTU more is refused at
// once by the sending kernel (EMSGSIZE: the DF socket never fragments),
// which full-size probes read as "too big", not as a loss.
func TestICMPEngineFullSizeOnASmallLink(t *testing.T) {
	lab := testbin.NewLab(t)
	const a, b = "cxt-prb-mtu-a", "cxt-prb-mtu-b"
	for _, ns := range []string{a, b} {
		lab.Netns(ns)
		// No duplicate address detection: a tentative link-local address
		// would hold neighbour discovery, and so IPv6, back for a second or two.
		lab.Sysctl(ns, "net.ipv6.conf.default.accept_dad=0", "net.ipv6.conf.all.accept_dad=0")
	}
	lab.Veth(testbin.End{Netns: a, Dev: "cxa", MTU: 1400, Addrs: []string{"198.18.6.1/24", "2001:db8:6::1/64"}},
		testbin.End{Netns: b, Dev: "cxb", MTU: 1400, Addrs: []string{"198.18.6.2/24", "2001:db8:6::2/64"}})

	var e *ICMPEngine
	if err := testbin.InNetns(a, func() (err error) {
		if e, err = NewICMPEngine(ICMPConfig{Privileged: true, DontFragment: true}); err != nil {
			return err
		}
		// The engine opens a family's socket at its first probe: open
		// the IPv6 one here too, in the namespace.
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		e.Probe(ctx, netip.MustParseAddr("::1"))
		cancel()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	defer e.Close()

	probe := func(ip string, size int) Outcome {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		return e.ProbeSize(ctx, netip.MustParseAddr(ip), size)
	}
	for _, ip := range []string{"198.18.6.2", "2001:db8:6::2"} {
		// The first echo may wait for neighbour discovery; one retry.
		o := probe(ip, 1400)
		if o.Result != ResultSuccess {
			o = probe(ip, 1400)
		}
		if o.Result != ResultSuccess {
			t.Errorf("%s: echo of 1400 bytes over a 1400 link: %+v", ip, o)
		}
		start := time.Now()
		o = probe(ip, 1401)
		if o.Result == ResultSuccess || !errors.Is(o.Err, syscall.EMSGSIZE) || time.Since(start) > time.Second {
			t.Errorf("%s: echo of 1401 bytes over a 1400 link: %+v after %s, want EMSGSIZE at once", ip, o, time.Since(start))
		}
		// A small echo and a full-size one sent together: two verdicts,
		// each its own.
		for _, tc := range []struct {
			size    int
			fullErr error
		}{{1400, nil}, {1401, syscall.EMSGSIZE}} {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			small, full := e.ProbeSmallAndSize(ctx, netip.MustParseAddr(ip), tc.size, 0)
			cancel()
			if small.Result != ResultSuccess || small.RTT <= 0 {
				t.Errorf("%s: small echo sent with one of %d bytes: %+v", ip, tc.size, small)
			}
			if ok := full.Result == ResultSuccess; ok != (tc.fullErr == nil) || (tc.fullErr != nil && !errors.Is(full.Err, tc.fullErr)) {
				t.Errorf("%s: echo of %d bytes sent with a small one: %+v, want error %v", ip, tc.size, full, tc.fullErr)
			}
		}
	}
}
