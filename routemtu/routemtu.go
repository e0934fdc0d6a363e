// Package routemtu reads, from the host's routing table, the MTU towards an
// address: what full-size probes are sized for. It is apart from prober so
// that prober's users (the status command among them) do not link netlink.
package routemtu

import (
	"net/netip"
	"sync"
	"time"
)

// DefaultRefresh is how long an expected MTU read from the routing table
// is kept before it is read again.
const DefaultRefresh = 5 * time.Minute

// Table reads, from the routing table, the MTU that full-size probes
// towards an address are sized for: the MTU of the route's own metric if it
// has one, else the MTU of the interface the route leaves by. Expected
// values are cached per destination for the refresh period, so the table
// is read once per peer and period, not per probe. Safe for concurrent use.
type Table struct {
	refresh time.Duration
	now     func() time.Time
	lookup  routeLookup

	mu        sync.Mutex
	cache     map[netip.Addr]entry
	lastSweep time.Time
}

// routeLookup reads the routing table: expected is what the route says
// (its MTU metric, else its interface's), current is the MTU the kernel
// would use now, a path MTU it learned included.
type routeLookup interface {
	expected(ip netip.Addr) (int, error)
	current(ip netip.Addr) (int, error)
	close()
}

type entry struct {
	mtu int
	at  time.Time
}

// New reads the host's routing table (netlink on Linux).
func New(refresh time.Duration) *Table {
	if refresh <= 0 {
		refresh = DefaultRefresh
	}
	return newTable(refresh, time.Now, newNetlinkRoutes(refresh))
}

func newTable(refresh time.Duration, now func() time.Time, l routeLookup) *Table {
	if refresh <= 0 {
		refresh = DefaultRefresh
	}
	return &Table{refresh: refresh, now: now, lookup: l, cache: map[netip.Addr]entry{}}
}

// Expected is the MTU towards ip, from the cache while it is fresh.
func (r *Table) Expected(ip netip.Addr) (int, error) {
	now := r.now()
	r.mu.Lock()
	if e, ok := r.cache[ip]; ok && now.Sub(e.at) < r.refresh {
		r.mu.Unlock()
		return e.mtu, nil
	}
	r.mu.Unlock()
	mtu, err := r.lookup.expected(ip)
	if err != nil {
		return 0, err
	}
	mtu = min(mtu, MaxIPPacket)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cache[ip] = entry{mtu: mtu, at: now}
	if now.Sub(r.lastSweep) >= r.refresh {
		// Peers that left the node list leave the cache too.
		for a, e := range r.cache {
			if now.Sub(e.at) >= r.refresh {
				delete(r.cache, a)
			}
		}
		r.lastSweep = now
	}
	return mtu, nil
}

// Current is the MTU metric of the route the kernel uses towards ip now: a
// path MTU it learned, or the route's own; 0 when there is neither or the
// table cannot say. It is read afresh: it changes when an ICMP
// "fragmentation needed" or "packet too big" arrives.
func (r *Table) Current(ip netip.Addr) int {
	mtu, err := r.lookup.current(ip)
	if err != nil {
		return 0
	}
	return mtu
}

// MaxIPPacket is the largest IPv4 packet, and the largest IPv6 packet
// without a jumbogram: a loopback MTU of 65536 is capped to it.
const MaxIPPacket = 65535

// Close releases the netlink socket.
func (r *Table) Close() { r.lookup.close() }
