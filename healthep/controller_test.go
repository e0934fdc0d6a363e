package healthep

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/connectivity-exporter/connectivity_exporter/test/testbin"
)

func upAgainAfter(restarts int) func(helperState) bool {
	return func(s helperState) bool { return s.Restarts >= restarts && s.Up }
}

// requireQuickRebuild allows "a few" check intervals, with room for a loaded
// machine: detection takes at most one interval, the rebuild milliseconds.
func requireQuickRebuild(t *testing.T, what string, took time.Duration) {
	t.Helper()
	t.Logf("up again %v after %s", took.Round(time.Millisecond), what)
	if limit := 10 * labInterval; took > limit {
		t.Errorf("rebuild after %s took %v, more than %v", what, took, limit)
	}
}

// TestEndpointLifecycle covers a node with one peer: reachability from the
// node and, through forwarding, from the peer; rebuilds after the netns or
// the veth is deleted behind the controller's back; and a clean shutdown.
func TestEndpointLifecycle(t *testing.T) {
	lab := testbin.NewLab(t)
	const node, peer, health = "cxt-hep-node", "cxt-hep-peer", "cxt-hep-health"
	ip := netip.MustParseAddr("198.19.1.1")
	lab.Forget(health)
	lab.Netns(node)
	lab.Netns(peer)
	// node fab0 198.18.1.1/24 <-> peer fab0 198.18.1.2/24; the peer routes the
	// health IP via the node, like a remote node of the cluster would.
	lab.Veth(testbin.End{Netns: node, Dev: "fab0", Addrs: []string{"198.18.1.1/24"}}, testbin.End{Netns: peer, Dev: "fab0", Addrs: []string{"198.18.1.2/24"}})
	testbin.IP(t, "-n", peer, "route", "add", ip.String()+"/32", "via", "198.18.1.1")

	h := startHelper(t, node, helperSpec{Mode: "run", IP: ip, Netns: health, HostInterface: hostIf, Interval: labInterval})
	h.waitFor("endpoint up", func(s helperState) bool { return s.Up })
	if !testbin.NetnsExists(health) {
		t.Fatalf("`ip netns list` does not show %s", health)
	}
	requireReachable(t, node, ip)
	requireReachable(t, peer, ip) // forwarded through the node
	if routes := testbin.IP(t, "-n", node, "route", "show", ip.String()); !strings.Contains(routes, "dev "+hostIf) {
		t.Errorf("node route to %s not via %s:\n%s", ip, hostIf, routes)
	}

	t.Run("forward drop breaks only the remote path", func(t *testing.T) {
		testbin.NeedTool(t, "nft", "apt-get install -y nftables")
		testbin.NetnsExec(t, node, "nft", "add table inet cxthep; add chain inet cxthep cxfwd { type filter hook forward priority 0; policy drop; }")
		t.Cleanup(func() { _, _ = testbin.Run("ip", "netns", "exec", node, "nft", "delete", "table", "inet", "cxthep") })
		if err := helloFrom(peer, ip, time.Second); err == nil {
			t.Error("/hello from the peer passed although the node drops forwarded traffic")
		}
		if err := helloFrom(node, ip, 2*time.Second); err != nil {
			t.Errorf("/hello from the node failed under a forward drop: %v", err)
		}
		testbin.NetnsExec(t, node, "nft", "delete", "table", "inet", "cxthep")
		testbin.Eventually(t, labWait, "/hello from the peer after removing the drop", func() error { return helloFrom(peer, ip, time.Second) })
	})

	t.Run("netns deleted", func(t *testing.T) {
		oldID, err := namedNetnsID(health)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		testbin.IP(t, "netns", "delete", health)
		h.waitFor("rebuild after netns delete", upAgainAfter(1))
		requireQuickRebuild(t, "`ip netns delete`", time.Since(start))
		if newID, err := namedNetnsID(health); err != nil || newID == oldID {
			t.Errorf("netns %s after rebuild: id %v (old %v), err %v", health, newID, oldID, err)
		}
		requireReachable(t, node, ip)
		requireReachable(t, peer, ip)
	})

	t.Run("host veth deleted", func(t *testing.T) {
		start := time.Now()
		testbin.IP(t, "-n", node, "link", "del", hostIf)
		h.waitFor("rebuild after link delete", upAgainAfter(2))
		requireQuickRebuild(t, "`ip link del`", time.Since(start))
		requireReachable(t, node, ip)
		requireReachable(t, peer, ip)
	})

	t.Run("host veth down", func(t *testing.T) {
		start := time.Now()
		testbin.IP(t, "-n", node, "link", "set", hostIf, "down")
		h.waitFor("rebuild after link down", upAgainAfter(3))
		requireQuickRebuild(t, "`ip link set down`", time.Since(start))
		requireReachable(t, node, ip)
	})

	h.stop()
	requireGone(t, node, health, ip)
	if st := h.snapshot(); st.Up || st.Restarts != 3 {
		t.Errorf("final state %+v, want down after shutdown and exactly 3 restarts", st)
	}
}

// TestLeftoversFromCrashAreCleaned kills a controller (no cleanup runs) and
// starts another one on the same node: it must replace the leftovers.
func TestLeftoversFromCrashAreCleaned(t *testing.T) {
	lab := testbin.NewLab(t)
	const node, health = "cxt-hep-crash", "cxt-hep-crash-h"
	ip := netip.MustParseAddr("198.19.4.1")
	lab.Forget(health)
	addNode(lab, node, "198.18.4.1/24")
	spec := helperSpec{Mode: "run", IP: ip, Netns: health, HostInterface: hostIf, Interval: labInterval}

	first := startHelper(t, node, spec)
	first.waitFor("first endpoint up", func(s helperState) bool { return s.Up })
	first.kill()
	oldID, err := namedNetnsID(health)
	if err != nil {
		t.Fatalf("crash left no netns behind, the test proves nothing: %v", err)
	}
	if routes := testbin.IP(t, "-n", node, "route", "show", ip.String()); !strings.Contains(routes, "proto 199") {
		t.Fatalf("crash left no route behind, the test proves nothing:\n%s", routes)
	}
	testbin.IP(t, "-n", node, "link", "show", hostIf)

	second := startHelper(t, node, spec)
	st := second.waitFor("second endpoint up", func(s helperState) bool { return s.Up })
	if st.Restarts != 0 {
		t.Errorf("cleaning leftovers at start counted as %d restarts", st.Restarts)
	}
	if newID, err := namedNetnsID(health); err != nil || newID == oldID {
		t.Errorf("netns %s was not replaced: id %v (old %v), err %v", health, newID, oldID, err)
	}
	requireReachable(t, node, ip)
	second.stop()
	requireGone(t, node, health, ip)
}

// TestTwoControllersDoNotCollide runs two nodes side by side with the same
// host interface name and different netns names and IPs.
func TestTwoControllersDoNotCollide(t *testing.T) {
	lab := testbin.NewLab(t)
	type side struct {
		node, health string
		ip           netip.Addr
		fabric       string
		h            *helper
	}
	sides := []*side{
		{node: "cxt-hep-node-a", health: "cxt-hep-health-a", ip: netip.MustParseAddr("198.19.2.1"), fabric: "198.18.2.1/24"},
		{node: "cxt-hep-node-b", health: "cxt-hep-health-b", ip: netip.MustParseAddr("198.19.3.1"), fabric: "198.18.3.1/24"},
	}
	for _, s := range sides {
		lab.Forget(s.health)
		addNode(lab, s.node, s.fabric)
	}
	for _, s := range sides {
		s.h = startHelper(t, s.node, helperSpec{Mode: "run", IP: s.ip, Netns: s.health, HostInterface: hostIf, Interval: labInterval})
	}
	for _, s := range sides {
		s.h.waitFor(s.node+" up", func(st helperState) bool { return st.Up })
	}
	for _, s := range sides {
		if !testbin.NetnsExists(s.health) {
			t.Errorf("`ip netns list` does not show %s", s.health)
		}
		requireReachable(t, s.node, s.ip)
	}
	a, b := sides[0], sides[1]
	a.h.stop()
	requireGone(t, a.node, a.health, a.ip)
	if !testbin.NetnsExists(b.health) {
		t.Errorf("stopping %s removed %s", a.node, b.health)
	}
	requireReachable(t, b.node, b.ip)
	if st := b.h.snapshot(); st.Restarts != 0 || !st.Up {
		t.Errorf("%s was disturbed by %s: %+v", b.node, a.node, st)
	}
	b.h.stop()
	requireGone(t, b.node, b.health, b.ip)
}

// TestBuildFailureIsRetried blocks the host interface name with a non-veth:
// the controller must report down, leave that interface alone, keep running
// and build the endpoint once the name is free.
func TestBuildFailureIsRetried(t *testing.T) {
	lab := testbin.NewLab(t)
	const node, health = "cxt-hep-retry", "cxt-hep-retry-h"
	ip := netip.MustParseAddr("198.19.5.1")
	lab.Forget(health)
	addNode(lab, node, "198.18.5.1/24")
	testbin.IP(t, "-n", node, "link", "add", hostIf, "type", "bridge")

	h := startHelper(t, node, helperSpec{Mode: "run", IP: ip, Netns: health, HostInterface: hostIf, Interval: labInterval})
	h.waitFor("two failed builds", func(s helperState) bool { return s.Downs >= 2 })
	if out := testbin.IP(t, "-n", node, "-d", "link", "show", hostIf); !strings.Contains(out, "bridge") {
		t.Fatalf("the blocking bridge was touched:\n%s", out)
	}
	if testbin.NetnsExists(health) {
		t.Errorf("failed build left netns %s behind", health)
	}
	testbin.IP(t, "-n", node, "link", "del", hostIf)
	st := h.waitFor("up once the name is free", func(s helperState) bool { return s.Up })
	if st.Restarts != 0 {
		t.Errorf("first successful build counted as %d restarts", st.Restarts)
	}
	requireReachable(t, node, ip)
	h.stop()
	requireGone(t, node, health, ip)
}

// TestCleanupRefusesNonVeth runs Cleanup on its own against a node whose
// interface of that name is not ours.
func TestCleanupRefusesNonVeth(t *testing.T) {
	lab := testbin.NewLab(t)
	const node, health = "cxt-hep-refuse", "cxt-hep-refuse-h"
	lab.Forget(health)
	addNode(lab, node, "198.18.6.1/24")
	testbin.IP(t, "-n", node, "link", "add", hostIf, "type", "bridge")
	testbin.IP(t, "netns", "add", health) // a leftover name Cleanup must still remove

	h := startHelper(t, node, helperSpec{Mode: "cleanup", Netns: health, HostInterface: hostIf})
	st := h.waitFor("cleanup done", func(s helperState) bool { return s.Exited })
	if !strings.Contains(st.ExitMsg, "not a veth") {
		t.Errorf("Cleanup error %q, want a refusal to delete the bridge", st.ExitMsg)
	}
	testbin.IP(t, "-n", node, "link", "show", hostIf)
	if testbin.NetnsExists(health) {
		t.Errorf("Cleanup left netns %s although only the link was refused", health)
	}
}
