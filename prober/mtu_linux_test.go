package prober

import (
	"context"
	"errors"
	"net/netip"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Full-size echoes over a real link of MTU 1400, in both families: a
// packet of the link's MTU is answered, one byte of MTU more is refused at
// once by the sending kernel (EMSGSIZE: the DF socket never fragments),
// which full-size probes read as "too big", not as a loss.
func TestICMPEngineFullSizeOnASmallLink(t *testing.T) {
	needRoot(t)
	if testing.Short() {
		t.Skip("builds network namespaces; skipped in -short mode")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs ip (apt-get install -y iproute2)")
	}
	const a, b = "cxt-prb-mtu-a", "cxt-prb-mtu-b"
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	for _, ns := range []string{a, b} {
		exec.Command("ip", "netns", "delete", ns).Run() // a leftover of an aborted run
		run("ip", "netns", "add", ns)
		t.Cleanup(func() { exec.Command("ip", "netns", "delete", ns).Run() })
	}
	// No duplicate address detection: a tentative link-local address
	// would hold neighbour discovery, and so IPv6, back for a second or two.
	for _, ns := range []string{a, b} {
		run("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.default.accept_dad=0", "net.ipv6.conf.all.accept_dad=0")
	}
	run("ip", "-n", a, "link", "add", "cxa", "mtu", "1400", "type", "veth", "peer", "name", "cxb", "mtu", "1400", "netns", b)
	run("ip", "-n", a, "addr", "add", "198.18.6.1/24", "dev", "cxa")
	run("ip", "-n", b, "addr", "add", "198.18.6.2/24", "dev", "cxb")
	run("ip", "-n", a, "addr", "add", "2001:db8:6::1/64", "dev", "cxa", "nodad")
	run("ip", "-n", b, "addr", "add", "2001:db8:6::2/64", "dev", "cxb", "nodad")
	for _, ns := range []string{a, b} {
		run("ip", "-n", ns, "link", "set", "lo", "up")
	}
	run("ip", "-n", a, "link", "set", "cxa", "up")
	run("ip", "-n", b, "link", "set", "cxb", "up")

	var e *ICMPEngine
	var engineErr error
	inNetns(t, a, func() {
		e, engineErr = NewICMPEngine(ICMPConfig{Privileged: true, DontFragment: true})
		if engineErr == nil {
			// The engine opens a family's socket at its first probe: open
			// the IPv6 one here too, in the namespace.
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			e.Probe(ctx, netip.MustParseAddr("::1"))
			cancel()
		}
	})
	if engineErr != nil {
		t.Fatal(engineErr)
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
	}
}
