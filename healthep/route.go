package healthep

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// routeProtocol marks the host route as ours ("proto 199" in `ip route`), so a
// restart after a crash removes exactly that route and nothing an operator
// added by hand.
const routeProtocol netlink.RouteProtocol = 199

func ipFamily(ip netip.Addr) int {
	if ip.Is4() {
		return netlink.FAMILY_V4
	}
	return netlink.FAMILY_V6
}

// addHostRoute routes the health IP into the host veth in the daemon's netns.
func addHostRoute(host *netlink.Handle, ip netip.Addr, linkIndex int) error {
	route := &netlink.Route{
		LinkIndex: linkIndex,
		Dst:       hostPrefix(ip),
		Protocol:  routeProtocol,
		Table:     unix.RT_TABLE_MAIN,
	}
	if ip.Is4() {
		route.Scope = netlink.SCOPE_LINK
	}
	if err := host.RouteAdd(route); err != nil {
		return fmt.Errorf("add route %s dev index %d: %w", route.Dst, linkIndex, err)
	}
	return nil
}

// deleteStaleRoutes removes routes to exactly ip that carry our protocol.
// Routes through our veth vanish with it; this catches the rest.
func deleteStaleRoutes(host *netlink.Handle, ip netip.Addr) error {
	filter := &netlink.Route{Table: unix.RT_TABLE_MAIN, Protocol: routeProtocol}
	routes, err := host.RouteListFiltered(ipFamily(ip), filter, netlink.RT_FILTER_TABLE|netlink.RT_FILTER_PROTOCOL)
	if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
		return fmt.Errorf("list routes: %w", err)
	}
	want := netip.PrefixFrom(ip, ip.BitLen())
	var errs []error
	for _, r := range routes {
		if r.Dst == nil {
			continue
		}
		got, ok := netip.AddrFromSlice(r.Dst.IP)
		ones, _ := r.Dst.Mask.Size()
		if !ok || netip.PrefixFrom(got.Unmap(), ones) != want {
			continue
		}
		if err := host.RouteDel(&r); err != nil && !errors.Is(err, unix.ESRCH) {
			errs = append(errs, fmt.Errorf("delete stale route %s: %w", r.Dst, err))
		}
	}
	return errors.Join(errs...)
}
