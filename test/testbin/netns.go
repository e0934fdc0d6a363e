package testbin

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netns"
)

// Lab builds a test's hosts as network namespaces with the ip command (tests
// may; the product uses netlink) and removes them when the test ends, also
// when it fails.
type Lab struct{ t testing.TB }

// NewLab is a lab for t. It skips in -short mode, and needs root and ip
// (a skip, or a failure under Strict).
func NewLab(t testing.TB) *Lab {
	t.Helper()
	SkipShort(t, "builds network namespaces")
	NeedRoot(t, "builds network namespaces")
	NeedTool(t, "ip", "apt-get install -y iproute2")
	return &Lab{t: t}
}

// Netns creates the network namespace name with its loopback up, after
// removing a leftover of an aborted run, and deletes it when the test ends.
func (l *Lab) Netns(name string) {
	l.t.Helper()
	l.Forget(name)
	IP(l.t, "netns", "add", name)
	IP(l.t, "-n", name, "link", "set", "lo", "up")
}

// Forget deletes the network namespace name now, if an aborted run left it,
// and again when the test ends: for names the code under test creates.
func (l *Lab) Forget(name string) {
	l.t.Helper()
	_, _ = Run("ip", "netns", "delete", name)
	l.t.Cleanup(func() { _, _ = Run("ip", "netns", "delete", name) })
}

// End is one end of a veth pair.
type End struct {
	Netns, Dev string
	// Addrs are CIDRs in 198.18.0.0/15 or 2001:db8::/32; IPv6 ones skip
	// duplicate address detection, so that they are usable at once.
	Addrs  []string
	MTU    int    // 0 keeps the default
	Master string // a bridge in the same namespace to join, if not ""
}

// Veth joins a and b with a veth pair and brings both ends up.
func (l *Lab) Veth(a, b End) {
	l.t.Helper()
	IP(l.t, "link", "add", "name", a.Dev, "netns", a.Netns, "type", "veth", "peer", "name", b.Dev, "netns", b.Netns)
	for _, e := range []End{a, b} {
		if e.MTU != 0 {
			IP(l.t, "-n", e.Netns, "link", "set", e.Dev, "mtu", fmt.Sprint(e.MTU))
		}
		if e.Master != "" {
			IP(l.t, "-n", e.Netns, "link", "set", e.Dev, "master", e.Master)
		}
		for _, a := range e.Addrs {
			l.Addr(e.Netns, e.Dev, a)
		}
		IP(l.t, "-n", e.Netns, "link", "set", e.Dev, "up")
	}
}

// Addr adds cidr to dev in ns; IPv6 without duplicate address detection.
// An address outside the lab ranges fails the test: a lab never sends to
// a real network's addresses.
func (l *Lab) Addr(ns, dev, cidr string) {
	l.t.Helper()
	p, err := netip.ParsePrefix(cidr)
	if err != nil {
		l.t.Fatalf("lab address %q: %v", cidr, err)
	}
	if !LabAddr(p.Addr()) {
		l.t.Fatalf("lab address %s is outside 198.18.0.0/15 and 2001:db8::/32", cidr)
	}
	args := []string{"-n", ns, "addr", "add", cidr, "dev", dev}
	if p.Addr().Is6() {
		args = append(args, "nodad")
	}
	IP(l.t, args...)
}

var labRanges = []netip.Prefix{
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("2001:db8::/32"),
}

// LabAddr reports whether ip is one a lab may use: 198.18.0.0/15,
// 2001:db8::/32 or loopback.
func LabAddr(ip netip.Addr) bool {
	if ip.IsLoopback() {
		return true
	}
	for _, r := range labRanges {
		if r.Contains(ip.Unmap()) {
			return true
		}
	}
	return false
}

// Bridge creates the bridge name in ns and brings it up.
func (l *Lab) Bridge(ns, name string) {
	l.t.Helper()
	IP(l.t, "-n", ns, "link", "add", name, "type", "bridge")
	IP(l.t, "-n", ns, "link", "set", name, "up")
}

// Sysctl sets kernel settings ("net.ipv4.ip_forward=1") in ns.
func (l *Lab) Sysctl(ns string, settings ...string) {
	l.t.Helper()
	NetnsExec(l.t, ns, append([]string{"sysctl", "-qw"}, settings...)...)
}

// IP runs the ip command and returns its output; an error fails t.
func IP(t testing.TB, args ...string) string {
	t.Helper()
	out, err := Run("ip", args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// NetnsExec runs a command in the network namespace ns and returns its
// output; an error fails t.
func NetnsExec(t testing.TB, ns string, args ...string) string {
	t.Helper()
	return IP(t, append([]string{"netns", "exec", ns}, args...)...)
}

// runTimeout bounds a lab command: none should take more than moments.
const runTimeout = 30 * time.Second

// Run runs a command and returns its combined output; the error, if any,
// names the command and holds the output.
func Run(name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// NetnsExists reports whether `ip netns list` shows name.
func NetnsExists(name string) bool {
	out, err := Run("ip", "netns", "list")
	if err != nil {
		return false
	}
	for line := range strings.Lines(out) {
		if f := strings.Fields(line); len(f) > 0 && f[0] == name {
			return true
		}
	}
	return false
}

// SweepPrefix deletes every network namespace and every link of the root
// namespace whose name starts with prefix: what a lab of that prefix left
// when its test process was killed before its cleanup. Call it only while
// holding the lock of labs of that prefix.
func SweepPrefix(prefix string) error {
	var errs []error
	if out, err := Run("ip", "netns", "list"); err != nil {
		errs = append(errs, err)
	} else {
		for line := range strings.Lines(out) {
			if f := strings.Fields(line); len(f) > 0 && strings.HasPrefix(f[0], prefix) {
				if _, err := Run("ip", "netns", "delete", f[0]); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	if out, err := Run("ip", "-o", "link", "show"); err != nil {
		errs = append(errs, err)
	} else {
		for line := range strings.Lines(out) {
			// "7: name@peer: <...>" or "7: name: <...>"
			f := strings.Fields(line)
			if len(f) < 2 {
				continue
			}
			name, _, _ := strings.Cut(strings.TrimSuffix(f[1], ":"), "@")
			if strings.HasPrefix(name, prefix) {
				if _, err := Run("ip", "link", "del", name); err != nil && NetnsLinkExists(name) {
					errs = append(errs, err)
				}
			}
		}
	}
	return errors.Join(errs...)
}

// NetnsLinkExists reports whether the root namespace has a link name (a
// veth goes with its peer's namespace, so it may be gone by the time it is
// deleted).
func NetnsLinkExists(name string) bool {
	_, err := Run("ip", "link", "show", "dev", name)
	return err == nil
}

// InNetns runs fn on an OS thread switched into the named network
// namespace: sockets fn creates stay in that namespace.
func InNetns(name string, fn func() error) error {
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer orig.Close()
	target, err := netns.GetFromName(name)
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("netns %s: %w", name, err)
	}
	defer target.Close()
	if err := netns.Set(target); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("entering netns %s: %w", name, err)
	}
	ferr := fn()
	if err := netns.Set(orig); err != nil {
		// The thread stays locked: Go ends it with the goroutine, so no
		// other goroutine runs in the wrong namespace.
		return fmt.Errorf("leaving netns %s: %w", name, err)
	}
	runtime.UnlockOSThread()
	return ferr
}

// DialIn dials addr from inside the named network namespace.
func DialIn(ctx context.Context, ns, network, addr string) (net.Conn, error) {
	var conn net.Conn
	err := InNetns(ns, func() error {
		var err error
		conn, err = (&net.Dialer{}).DialContext(ctx, network, addr)
		return err
	})
	return conn, err
}
