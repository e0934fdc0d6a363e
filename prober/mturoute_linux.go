//go:build linux

package prober

import (
	"fmt"
	"net/netip"

	"github.com/vishvananda/netlink"
)

// netlinkRoutes asks the kernel with RTM_GETROUTE, as `ip route get` does.
type netlinkRoutes struct{}

func (netlinkRoutes) expected(ip netip.Addr) (int, error) {
	// The matching route as configured (fibmatch): its MTU metric, not a
	// path MTU learned since.
	fib, err := netlink.RouteGetWithOptions(ip.AsSlice(), &netlink.RouteGetOptions{FIBMatch: true})
	if err == nil && len(fib) > 0 && fib[0].MTU > 0 {
		return fib[0].MTU, nil
	}
	// The interface the packets leave by (lo for this node's own
	// addresses, which fibmatch reports on the interface holding them).
	rs, err := netlink.RouteGet(ip.AsSlice())
	if err != nil {
		return 0, fmt.Errorf("route to %s: %w", ip, err)
	}
	if len(rs) == 0 {
		return 0, fmt.Errorf("no route to %s", ip)
	}
	link, err := netlink.LinkByIndex(rs[0].LinkIndex)
	if err != nil {
		return 0, fmt.Errorf("interface of the route to %s: %w", ip, err)
	}
	return link.Attrs().MTU, nil
}

func (netlinkRoutes) current(ip netip.Addr) (int, error) {
	rs, err := netlink.RouteGet(ip.AsSlice())
	if err != nil {
		return 0, err
	}
	if len(rs) == 0 {
		return 0, fmt.Errorf("no route to %s", ip)
	}
	// A learned path MTU (a route exception) shows as the MTU metric of
	// the route the kernel returns; without one, the interface's MTU.
	link, err := netlink.LinkByIndex(rs[0].LinkIndex)
	if err != nil {
		return 0, err
	}
	mtu := link.Attrs().MTU
	if m := rs[0].MTU; m > 0 && m < mtu {
		mtu = m
	}
	return mtu, nil
}
