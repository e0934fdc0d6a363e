package plan

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/connectivity-exporter/connectivity_exporter/nodes"
)

func cluster(n int) []nodes.Node {
	out := make([]nodes.Node, n)
	for i := range out {
		out[i] = nodes.Node{Name: fmt.Sprintf("node-%d", i), HostIP: netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)})}
	}
	return out
}

func names(ns []nodes.Node) map[string]bool {
	m := map[string]bool{}
	for _, n := range ns {
		m[n.Name] = true
	}
	return m
}

func TestSelectPeersBasics(t *testing.T) {
	all := cluster(50)
	for _, k := range []int{-1, 0, 49, 50, 100} {
		if got := SelectPeers("node-3", all, k); len(got) != 50 {
			t.Errorf("k=%d: %d nodes, want all 50", k, len(got))
		}
	}
	for _, k := range []int{1, 2, 7, 48} {
		got := SelectPeers("node-3", all, k)
		if len(got) != k+1 || !names(got)["node-3"] {
			t.Errorf("k=%d: %d nodes (local included: %v), want the local node and %d peers", k, len(got), names(got)["node-3"], k)
		}
		again := SelectPeers("node-3", all, k)
		for i := range got {
			if got[i] != again[i] {
				t.Fatalf("k=%d: not deterministic", k)
			}
		}
	}
	// Input order is kept.
	got := SelectPeers("node-3", all, 10)
	for i := 1; i < len(got); i++ {
		if got[i-1].HostIP.Compare(got[i].HostIP) >= 0 {
			t.Fatalf("order not kept: %v", got)
		}
	}
	// A local node that is not listed: k peers.
	if got := SelectPeers("elsewhere", all, 5); len(got) != 5 {
		t.Errorf("unlisted local: %d nodes, want 5", len(got))
	}
}

func inDegrees(all []nodes.Node, k int) map[string]int {
	in := map[string]int{}
	for _, n := range all {
		for _, p := range SelectPeers(n.Name, all, k) {
			if p.Name != n.Name {
				in[p.Name]++
			}
		}
	}
	return in
}

func TestSelectPeersEveryNodeIsWatched(t *testing.T) {
	all := cluster(1000)
	const k = 10
	in := inDegrees(all, k)
	lo, hi, sum := 1<<30, 0, 0
	for _, n := range all {
		d := in[n.Name]
		lo, hi, sum = min(lo, d), max(hi, d), sum+d
	}
	// The ring half guarantees (k+1)/2 watchers to every node.
	if lo < (k+1)/2 || hi > 3*k || sum != k*len(all) {
		t.Fatalf("in-degree min %d max %d mean %.1f; want min >= %d, max <= %d, mean %d", lo, hi, float64(sum)/float64(len(all)), (k+1)/2, 3*k, k)
	}
}

func TestSelectPeersChangesLittleWhenNodesLeave(t *testing.T) {
	all := cluster(1000)
	const k = 10
	var left []nodes.Node
	for i, n := range all {
		if i%100 != 7 { // 1% leave
			left = append(left, n)
		}
	}
	changed, total := 0, 0
	for _, n := range left {
		before := names(SelectPeers(n.Name, all, k))
		for p := range names(SelectPeers(n.Name, left, k)) {
			total++
			if !before[p] {
				changed++
			}
		}
	}
	// Choices of departed nodes must change (about 1%); few others should.
	if frac := float64(changed) / float64(total); frac > 0.03 {
		t.Fatalf("%.1f%% of choices changed when 1%% of the nodes left", 100*frac)
	}
}

func BenchmarkSelectPeers(b *testing.B) {
	all := cluster(5000)
	b.ReportAllocs()
	for b.Loop() {
		SelectPeers("node-42", all, 50)
	}
}

func BenchmarkNew(b *testing.B) {
	all := cluster(5000)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := New(Config{Local: "node-42", PeerLimit: 50}, all); err != nil {
			b.Fatal(err)
		}
	}
}
