package container

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// The lab: two nodes on a bridge, and a pod behind node B that node B
// routes to, as a CNI would. Everything lives in network namespaces of
// its own (the bridge too), so nothing touches the machine's network and
// the addresses cannot clash with another lab.
//
//	node-a 198.18.100.1 ─┐
//	                     br0 (switch namespace)
//	node-b 198.18.100.2 ─┘
//	node-b pod0 198.18.101.1/30 ── pod 198.18.101.2 (node-b's health pod)
const (
	nodeAIP = "198.18.100.1"
	nodeBIP = "198.18.100.2"
	podGW   = "198.18.101.1"
	podIP   = "198.18.101.2"
)

type lab struct {
	t              *testing.T
	sw, a, b, bPod string // namespace names (under /run/netns)
}

func newLab(t *testing.T) *lab {
	t.Helper()
	prefix := fmt.Sprintf("cxctr%d", os.Getpid())
	l := &lab{t: t, sw: prefix + "-sw", a: prefix + "-a", b: prefix + "-b", bPod: prefix + "-bpod"}
	for _, ns := range []string{l.sw, l.a, l.b, l.bPod} {
		l.ip("netns", "add", ns)
		t.Cleanup(func() {
			if out, err := run(10*time.Second, "ip", "netns", "delete", ns); err != nil {
				t.Errorf("deleting namespace %s: %v\n%s", ns, err, out)
			}
		})
		l.ip("-n", ns, "link", "set", "lo", "up")
	}

	l.ip("-n", l.sw, "link", "add", "br0", "type", "bridge")
	l.ip("-n", l.sw, "link", "set", "br0", "up")
	for _, node := range []struct{ ns, port, addr string }{{l.a, "a0", nodeAIP}, {l.b, "b0", nodeBIP}} {
		l.ip("link", "add", "name", "eth0", "netns", node.ns, "type", "veth", "peer", "name", node.port, "netns", l.sw)
		l.ip("-n", l.sw, "link", "set", node.port, "master", "br0", "up")
		l.ip("-n", node.ns, "addr", "add", node.addr+"/24", "dev", "eth0")
		l.ip("-n", node.ns, "link", "set", "eth0", "up")
	}
	// The pod: a veth from node B, a /30 between them; node A reaches the
	// pod through node B, as it would reach another node's pod CIDR.
	l.ip("link", "add", "name", "pod0", "netns", l.b, "type", "veth", "peer", "name", "eth0", "netns", l.bPod)
	l.ip("-n", l.b, "addr", "add", podGW+"/30", "dev", "pod0")
	l.ip("-n", l.b, "link", "set", "pod0", "up")
	l.ip("-n", l.bPod, "addr", "add", podIP+"/30", "dev", "eth0")
	l.ip("-n", l.bPod, "link", "set", "eth0", "up")
	l.ip("-n", l.bPod, "route", "add", "default", "via", podGW)
	l.ip("-n", l.a, "route", "add", podIP+"/32", "via", nodeBIP)
	// Node B forwards to its pods. Set here, from outside: a container
	// cannot (its /proc/sys is read-only), and the exporter no longer
	// needs to.
	l.exec(l.b, "sh", "-c", "echo 1 > /proc/sys/net/ipv4/ip_forward")

	if out, err := l.inNS(l.a, "ping", "-c", "1", "-W", "2", podIP); err != nil {
		t.Fatalf("lab: node-a cannot ping the pod behind node-b: %v\n%s", err, out)
	}
	return l
}

// forwardDrop drops everything node B forwards: its pods become
// unreachable, node B itself does not.
func (l *lab) forwardDrop() {
	l.t.Helper()
	l.exec(l.b, "nft", "add table inet cxtest; add chain inet cxtest forward { type filter hook forward priority 0; policy drop; }")
}

func (l *lab) ip(args ...string) {
	l.t.Helper()
	if out, err := run(10*time.Second, "ip", args...); err != nil {
		l.t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func (l *lab) exec(ns string, args ...string) {
	l.t.Helper()
	if out, err := l.inNS(ns, args...); err != nil {
		l.t.Fatalf("in %s: %s: %v\n%s", ns, strings.Join(args, " "), err, out)
	}
}

func (l *lab) inNS(ns string, args ...string) (string, error) {
	return run(10*time.Second, "ip", append([]string{"netns", "exec", ns}, args...)...)
}

func run(timeout time.Duration, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	return string(out), err
}
