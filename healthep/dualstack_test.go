package healthep

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/connectivity-exporter/connectivity_exporter/test/testbin"
)

// TestDualStackEndpoint: an endpoint with an address of each family is
// reachable on both, from the node and through forwarding from a peer, and
// an IPv6-only forward drop breaks only the peer's IPv6 path.
func TestDualStackEndpoint(t *testing.T) {
	lab := testbin.NewLab(t)
	const node, peer, health = "cxt-hep-node6", "cxt-hep-peer6", "cxt-hep-health6"
	ip4, ip6 := netip.MustParseAddr("198.19.6.1"), netip.MustParseAddr("2001:db8:6:1::1")
	lab.Forget(health)
	lab.Netns(node)
	lab.Netns(peer)
	lab.Veth(testbin.End{Netns: node, Dev: "fab0", Addrs: []string{"198.18.6.1/24", "2001:db8:6::1/64"}},
		testbin.End{Netns: peer, Dev: "fab0", Addrs: []string{"198.18.6.2/24", "2001:db8:6::2/64"}})
	testbin.IP(t, "-n", peer, "route", "add", ip4.String()+"/32", "via", "198.18.6.1")
	testbin.IP(t, "-n", peer, "-6", "route", "add", ip6.String()+"/128", "via", "2001:db8:6::1")

	h := startHelper(t, node, helperSpec{Mode: "run", IP: ip4, DualStackIP: ip6, Netns: health, HostInterface: hostIf, Interval: labInterval})
	h.waitFor("endpoint up", func(s helperState) bool { return s.Up })
	if got := testbin.NetnsExec(t, node, "sysctl", "-n", "net.ipv6.conf.all.forwarding"); strings.TrimSpace(got) != "1" {
		t.Errorf("net.ipv6.conf.all.forwarding in the node = %q, want 1", got)
	}
	// nodad: usable at once, never tentative.
	if addrs := testbin.IP(t, "-n", health, "-6", "-o", "addr", "show", "dev", "eth0", "to", ip6.String()+"/128"); !strings.Contains(addrs, ip6.String()) || strings.Contains(addrs, "tentative") {
		t.Errorf("health netns eth0 address %s missing or tentative:\n%s", ip6, addrs)
	}
	for _, ip := range []netip.Addr{ip4, ip6} {
		requireReachable(t, node, ip)
		testbin.Eventually(t, labWait, "ICMP to "+ip.String()+" from the peer", func() error { return pingFrom(peer, ip) })
		testbin.Eventually(t, labWait, "/hello on "+ip.String()+" from the peer", func() error { return helloFrom(peer, ip, time.Second) })
	}

	t.Run("IPv6-only forward drop", func(t *testing.T) {
		testbin.NeedTool(t, "nft", "apt-get install -y nftables")
		testbin.NetnsExec(t, node, "nft", "add table ip6 cxthep6; add chain ip6 cxthep6 cxfwd { type filter hook forward priority 0; policy drop; }")
		t.Cleanup(func() { _, _ = testbin.Run("ip", "netns", "exec", node, "nft", "delete", "table", "ip6", "cxthep6") })
		if err := helloFrom(peer, ip6, time.Second); err == nil {
			t.Error("/hello on the IPv6 address from the peer passed although the node drops forwarded IPv6")
		}
		if err := helloFrom(peer, ip4, 2*time.Second); err != nil {
			t.Errorf("/hello on the IPv4 address from the peer failed under an IPv6-only drop: %v", err)
		}
		if err := helloFrom(node, ip6, 2*time.Second); err != nil {
			t.Errorf("/hello on the IPv6 address from the node failed under a forward drop: %v", err)
		}
	})

	h.stop()
	requireGone(t, node, health, ip4)
	if routes := testbin.IP(t, "-n", node, "-6", "route", "show", "table", "all"); strings.Contains(routes, ip6.String()) {
		t.Errorf("a route to %s is still in %s:\n%s", ip6, node, routes)
	}
}
