//go:build linux

package routemtu

import (
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// netlinkRoutes asks the kernel with RTM_GETROUTE, as `ip route get` does,
// through one netlink socket kept open (a socket per request costs more
// than the request), made on first use.
type netlinkRoutes struct {
	once   sync.Once
	handle *netlink.Handle
	err    error

	// Interface MTUs by index, each kept for refresh: thousands of peers
	// leave by a handful of interfaces, and reading one (RTM_GETLINK, the
	// whole interface with its statistics) costs more than the route.
	refresh time.Duration
	linksMu sync.Mutex
	links   map[int]linkMTU
}

type linkMTU struct {
	mtu int
	at  time.Time
}

func newNetlinkRoutes(refresh time.Duration) *netlinkRoutes {
	return &netlinkRoutes{refresh: refresh, links: map[int]linkMTU{}}
}

func (n *netlinkRoutes) h() (*netlink.Handle, error) {
	n.once.Do(func() { n.handle, n.err = netlink.NewHandle(unix.NETLINK_ROUTE) })
	return n.handle, n.err
}

func (n *netlinkRoutes) expected(ip netip.Addr) (int, error) {
	h, err := n.h()
	if err != nil {
		return 0, err
	}
	// The matching route as configured (fibmatch): its MTU metric, not a
	// path MTU learned since; without one, the MTU of the interface of
	// its single next hop.
	fib, err := h.RouteGetWithOptions(ip.AsSlice(), &netlink.RouteGetOptions{FIBMatch: true})
	if err == nil && len(fib) > 0 {
		r := fib[0]
		if r.MTU > 0 {
			return r.MTU, nil
		}
		if r.Type == unix.RTN_UNICAST && r.LinkIndex > 0 && len(r.MultiPath) == 0 {
			return n.linkMTU(h, r.LinkIndex)
		}
	}
	// Else the interface the packets leave by, as routed now: lo for this
	// node's own addresses (which fibmatch reports on the interface holding
	// them), one of several next hops.
	rs, err := h.RouteGet(ip.AsSlice())
	if err != nil {
		return 0, fmt.Errorf("route to %s: %w", ip, err)
	}
	if len(rs) == 0 {
		return 0, fmt.Errorf("no route to %s", ip)
	}
	mtu, err := n.linkMTU(h, rs[0].LinkIndex)
	if err != nil {
		return 0, fmt.Errorf("interface of the route to %s: %w", ip, err)
	}
	return mtu, nil
}

// linkMTU is the MTU of interface index, from the cache while it is fresh.
func (n *netlinkRoutes) linkMTU(h *netlink.Handle, index int) (int, error) {
	now := time.Now()
	n.linksMu.Lock()
	l, ok := n.links[index]
	n.linksMu.Unlock()
	if ok && now.Sub(l.at) < n.refresh {
		return l.mtu, nil
	}
	link, err := h.LinkByIndex(index)
	if err != nil {
		return 0, err
	}
	mtu := link.Attrs().MTU
	n.linksMu.Lock()
	n.links[index] = linkMTU{mtu: mtu, at: now}
	n.linksMu.Unlock()
	return mtu, nil
}

// current is the MTU metric of the route the kernel uses now: a path MTU
// it learned (a route exception), or the route's own; 0 for neither.
func (n *netlinkRoutes) current(ip netip.Addr) (int, error) {
	h, err := n.h()
	if err != nil {
		return 0, err
	}
	rs, err := h.RouteGet(ip.AsSlice())
	if err != nil {
		return 0, err
	}
	if len(rs) == 0 {
		return 0, fmt.Errorf("no route to %s", ip)
	}
	return rs[0].MTU, nil
}

func (n *netlinkRoutes) close() {
	if n.handle != nil {
		n.handle.Close()
	}
}
