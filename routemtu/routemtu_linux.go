//go:build linux

package routemtu

import (
	"fmt"
	"net/netip"
	"sync"

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
	// path MTU learned since.
	fib, err := h.RouteGetWithOptions(ip.AsSlice(), &netlink.RouteGetOptions{FIBMatch: true})
	if err == nil && len(fib) > 0 && fib[0].MTU > 0 {
		return fib[0].MTU, nil
	}
	// The interface the packets leave by (lo for this node's own
	// addresses, which fibmatch reports on the interface holding them).
	rs, err := h.RouteGet(ip.AsSlice())
	if err != nil {
		return 0, fmt.Errorf("route to %s: %w", ip, err)
	}
	if len(rs) == 0 {
		return 0, fmt.Errorf("no route to %s", ip)
	}
	link, err := h.LinkByIndex(rs[0].LinkIndex)
	if err != nil {
		return 0, fmt.Errorf("interface of the route to %s: %w", ip, err)
	}
	return link.Attrs().MTU, nil
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
