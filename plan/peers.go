package plan

import (
	"hash/fnv"

	"github.com/connectivity-exporter/connectivity_exporter/nodes"
)

// SelectPeers returns the nodes that local probes when each node probes only
// k peers: the local node itself (when listed) and k others, in the order of
// all. k <= 0, or k at least the number of peers, means all of them.
//
// Half the peers (rounded up) are local's successors on a hash ring of node
// names, so every node is probed by exactly that many others and none is
// left unwatched; the other half are the highest scores of rendezvous
// hashing of (local, peer), which links distant parts of the ring so that a
// node cut off is seen from all over the cluster. Both depend on names only,
// so a node that joins or leaves changes few choices, and every node
// computes the same choices without talking to the others.
func SelectPeers(local string, all []nodes.Node, k int) []nodes.Node {
	others := len(all)
	localIdx := -1
	for i, n := range all {
		if n.Name == local {
			localIdx = i
			others--
			break
		}
	}
	if k <= 0 || k >= others {
		return append([]nodes.Node(nil), all...)
	}
	lh := nameHash(local)
	ringK := (k + 1) / 2
	ring := newBottomK(ringK)
	hashes := make([]uint64, len(all))
	for i, n := range all {
		if i == localIdx {
			continue
		}
		hashes[i] = nameHash(n.Name)
		ring.offer(hashes[i]-lh, i) // clockwise distance from local on the ring
	}
	chosen := make([]bool, len(all))
	for _, c := range ring.items {
		chosen[c.idx] = true
	}
	rv := newBottomK(k - ringK)
	for i := range all {
		if i == localIdx || chosen[i] {
			continue
		}
		rv.offer(^rendezvousScore(lh, hashes[i]), i) // the highest scores
	}
	for _, c := range rv.items {
		chosen[c.idx] = true
	}
	out := make([]nodes.Node, 0, k+1)
	for i, n := range all {
		if i == localIdx || chosen[i] {
			out = append(out, n)
		}
	}
	return out
}

// nameHash places a node name on the ring; FNV-1a then a finaliser, so that
// similar names (node-1, node-2) land far apart.
func nameHash(name string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(name))
	return mix64(h.Sum64())
}

func rendezvousScore(local, peer uint64) uint64 {
	return mix64(local*0x9e3779b97f4a7c15 ^ peer)
}

// mix64 is SplitMix64's finaliser.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// bottomK keeps the k smallest keys offered (ties broken by index), in O(k)
// memory: SelectPeers stays O(N·k) however large the cluster.
type bottomK struct {
	k     int
	items []keyed // sorted by key
}

type keyed struct {
	key uint64
	idx int
}

func newBottomK(k int) *bottomK { return &bottomK{k: k, items: make([]keyed, 0, k+1)} }

func (b *bottomK) offer(key uint64, idx int) {
	if b.k <= 0 {
		return
	}
	less := func(a, c keyed) bool { return a.key < c.key || (a.key == c.key && a.idx < c.idx) }
	it := keyed{key, idx}
	if len(b.items) == b.k && !less(it, b.items[b.k-1]) {
		return
	}
	i := len(b.items)
	b.items = append(b.items, it)
	for ; i > 0 && less(it, b.items[i-1]); i-- {
		b.items[i] = b.items[i-1]
	}
	b.items[i] = it
	if len(b.items) > b.k {
		b.items = b.items[:b.k]
	}
}
