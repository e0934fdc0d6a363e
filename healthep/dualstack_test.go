package healthep

import (
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestDualStackEndpoint: an endpoint with an address of each family is
// reachable on both, from the node and through forwarding from a peer, and
// an IPv6-only forward drop breaks only the peer's IPv6 path.
func TestDualStackEndpoint(t *testing.T) {
	requireRoot(t)
	const node, peer, health = "cxt-hep-node6", "cxt-hep-peer6", "cxt-hep-health6"
	ip4, ip6 := netip.MustParseAddr("198.19.6.1"), netip.MustParseAddr("2001:db8:6:1::1")
	forgetNetns(t, health)
	addNetns(t, node)
	addNetns(t, peer)
	mustSh(t, "ip", "-n", node, "link", "add", "fab0", "type", "veth", "peer", "name", "fab0", "netns", peer)
	for ns, addrs := range map[string][]string{node: {"198.18.6.1/24", "2001:db8:6::1/64"}, peer: {"198.18.6.2/24", "2001:db8:6::2/64"}} {
		for _, a := range addrs {
			mustSh(t, "ip", "-n", ns, "addr", "add", a, "dev", "fab0", "nodad")
		}
		mustSh(t, "ip", "-n", ns, "link", "set", "fab0", "up")
	}
	mustSh(t, "ip", "-n", peer, "route", "add", ip4.String()+"/32", "via", "198.18.6.1")
	mustSh(t, "ip", "-n", peer, "-6", "route", "add", ip6.String()+"/128", "via", "2001:db8:6::1")

	h := startHelper(t, node, helperSpec{Mode: "run", IP: ip4, DualStackIP: ip6, Netns: health, HostInterface: hostIf, Interval: labInterval})
	h.waitFor("endpoint up", func(s helperState) bool { return s.Up })
	if got := mustSh(t, "ip", "netns", "exec", node, "sysctl", "-n", "net.ipv6.conf.all.forwarding"); strings.TrimSpace(got) != "1" {
		t.Errorf("net.ipv6.conf.all.forwarding in the node = %q, want 1", got)
	}
	// nodad: usable at once, never tentative.
	if addrs := mustSh(t, "ip", "-n", health, "-6", "-o", "addr", "show", "dev", "eth0", "to", ip6.String()+"/128"); !strings.Contains(addrs, ip6.String()) || strings.Contains(addrs, "tentative") {
		t.Errorf("health netns eth0 address %s missing or tentative:\n%s", ip6, addrs)
	}
	for _, ip := range []netip.Addr{ip4, ip6} {
		requireReachable(t, node, ip)
		eventually(t, "ICMP to "+ip.String()+" from the peer", func() error { return pingFrom(peer, ip) })
		eventually(t, "/hello on "+ip.String()+" from the peer", func() error { return helloFrom(peer, ip, time.Second) })
	}

	t.Run("IPv6-only forward drop", func(t *testing.T) {
		if _, err := exec.LookPath("nft"); err != nil {
			t.Skip("nft not installed")
		}
		mustSh(t, "ip", "netns", "exec", node, "nft", "add table ip6 cxthep6; add chain ip6 cxthep6 cxfwd { type filter hook forward priority 0; policy drop; }")
		t.Cleanup(func() { _, _ = sh("ip", "netns", "exec", node, "nft", "delete", "table", "ip6", "cxthep6") })
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
	if routes := mustSh(t, "ip", "-n", node, "-6", "route", "show", "table", "all"); strings.Contains(routes, ip6.String()) {
		t.Errorf("a route to %s is still in %s:\n%s", ip6, node, routes)
	}
}
