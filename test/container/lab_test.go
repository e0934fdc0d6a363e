package container

import (
	"fmt"
	"os"
	"testing"

	"github.com/connectivity-exporter/connectivity_exporter/test/testbin"
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
	tl := testbin.NewLab(t)
	prefix := fmt.Sprintf("cxctr%d", os.Getpid())
	l := &lab{t: t, sw: prefix + "-sw", a: prefix + "-a", b: prefix + "-b", bPod: prefix + "-bpod"}
	for _, ns := range []string{l.sw, l.a, l.b, l.bPod} {
		tl.Netns(ns)
	}
	tl.Bridge(l.sw, "br0")
	for _, node := range []struct{ ns, port, addr string }{{l.a, "a0", nodeAIP}, {l.b, "b0", nodeBIP}} {
		tl.Veth(testbin.End{Netns: node.ns, Dev: "eth0", Addrs: []string{node.addr + "/24"}}, testbin.End{Netns: l.sw, Dev: node.port, Master: "br0"})
	}
	// The pod: a veth from node B, a /30 between them; node A reaches the
	// pod through node B, as it would reach another node's pod CIDR.
	tl.Veth(testbin.End{Netns: l.b, Dev: "pod0", Addrs: []string{podGW + "/30"}}, testbin.End{Netns: l.bPod, Dev: "eth0", Addrs: []string{podIP + "/30"}})
	testbin.IP(t, "-n", l.bPod, "route", "add", "default", "via", podGW)
	testbin.IP(t, "-n", l.a, "route", "add", podIP+"/32", "via", nodeBIP)
	// Node B forwards to its pods. Set here, from outside: a container
	// cannot (its /proc/sys is read-only), and the exporter no longer
	// needs to.
	tl.Sysctl(l.b, "net.ipv4.ip_forward=1")

	if out, err := l.inNS(l.a, "ping", "-c", "1", "-W", "2", podIP); err != nil {
		t.Fatalf("lab: node-a cannot ping the pod behind node-b: %v\n%s", err, out)
	}
	return l
}

// forwardDrop drops everything node B forwards: its pods become
// unreachable, node B itself does not.
func (l *lab) forwardDrop() {
	l.t.Helper()
	testbin.NetnsExec(l.t, l.b, "nft", "add table inet cxtest; add chain inet cxtest forward { type filter hook forward priority 0; policy drop; }")
}

func (l *lab) inNS(ns string, args ...string) (string, error) {
	return testbin.Run("ip", append([]string{"netns", "exec", ns}, args...)...)
}
