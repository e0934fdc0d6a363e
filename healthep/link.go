package healthep

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// innerInterface is the name of the veth end inside the health netns.
const innerInterface = "eth0"

// innerGateway is a next hop that exists only as a permanent neighbour entry
// inside the health netns, pointing at the host veth's MAC. With it the host
// side needs no address, no proxy ARP and no ARP per peer: the netns keeps one
// neighbour entry however many nodes it talks to.
func innerGateway(ip netip.Addr) net.IP {
	if ip.Is4() {
		return net.IPv4(169, 254, 1, 1).To4()
	}
	return net.ParseIP("fe80::1")
}

// hostPrefix is ip as a single-address prefix, /32 or /128.
func hostPrefix(ip netip.Addr) *net.IPNet {
	return &net.IPNet{IP: net.IP(ip.AsSlice()), Mask: net.CIDRMask(ip.BitLen(), ip.BitLen())}
}

// createVeth creates the pair with its inner end born inside ns as eth0, so the
// name never clashes with an eth0 of the daemon's netns.
func createVeth(host *netlink.Handle, name string, ns netns.NsHandle) (netlink.Link, error) {
	veth := &netlink.Veth{
		LinkAttrs:     netlink.LinkAttrs{Name: name},
		PeerName:      innerInterface,
		PeerNamespace: netlink.NsFd(int(ns)),
	}
	if err := host.LinkAdd(veth); err != nil {
		return nil, fmt.Errorf("create veth %s: %w", name, err)
	}
	link, err := host.LinkByName(name)
	if err != nil {
		return nil, fmt.Errorf("look up veth %s: %w", name, err)
	}
	return link, nil
}

// configureInner brings up lo and eth0 in the health netns (h is a handle
// there), gives eth0 the health IPs and a default route of each family to
// the host veth, and returns eth0's index.
func configureInner(h *netlink.Handle, ips []netip.Addr, hostMAC net.HardwareAddr) (int, error) {
	lo, err := h.LinkByName("lo")
	if err != nil {
		return 0, fmt.Errorf("health netns lo: %w", err)
	}
	if err := h.LinkSetUp(lo); err != nil {
		return 0, fmt.Errorf("health netns lo up: %w", err)
	}
	eth, err := h.LinkByName(innerInterface)
	if err != nil {
		return 0, fmt.Errorf("health netns %s: %w", innerInterface, err)
	}
	if err := h.LinkSetUp(eth); err != nil {
		return 0, fmt.Errorf("health netns %s up: %w", innerInterface, err)
	}
	for _, ip := range ips {
		if err := addInnerAddress(h, eth.Attrs().Index, ip, hostMAC); err != nil {
			return 0, err
		}
	}
	return eth.Attrs().Index, nil
}

// addInnerAddress gives eth0 (index) ip, and a default route of its family
// via a permanent neighbour that is the host veth's MAC.
func addInnerAddress(h *netlink.Handle, index int, ip netip.Addr, hostMAC net.HardwareAddr) error {
	eth := &netlink.Device{LinkAttrs: netlink.LinkAttrs{Index: index}}
	addr := &netlink.Addr{IPNet: hostPrefix(ip)}
	if ip.Is6() {
		addr.Flags = unix.IFA_F_NODAD // usable at once; we own the link, no one to clash with
	}
	if err := h.AddrAdd(eth, addr); err != nil {
		return fmt.Errorf("add %s to health netns %s: %w", ip, innerInterface, err)
	}
	gw := innerGateway(ip)
	neigh := &netlink.Neigh{
		LinkIndex:    index,
		Family:       ipFamily(ip),
		State:        netlink.NUD_PERMANENT,
		IP:           gw,
		HardwareAddr: hostMAC,
	}
	if err := h.NeighAdd(neigh); err != nil {
		return fmt.Errorf("add neighbour %s in health netns: %w", gw, err)
	}
	route := &netlink.Route{
		LinkIndex: index,
		Gw:        gw,
		Flags:     int(netlink.FLAG_ONLINK),
		Family:    ipFamily(ip),
	}
	if err := h.RouteAdd(route); err != nil {
		return fmt.Errorf("add default route via %s in health netns: %w", gw, err)
	}
	return nil
}

// addHostNeighbours makes the inner end's MAC a permanent neighbour entry
// of each IPv6 health IP on the host veth (host handle, index hostIndex).
// Neighbour discovery on a new veth needs a link-local source address,
// which stays tentative for a second or more of duplicate address
// detection: until then the host could not reach the endpoint over IPv6.
// IPv4's ARP needs no address of its own, so it is left to ARP.
func addHostNeighbours(host, inner *netlink.Handle, ips []netip.Addr, hostIndex, innerIndex int) error {
	var innerMAC net.HardwareAddr
	for _, ip := range ips {
		if !ip.Is6() {
			continue
		}
		if innerMAC == nil {
			link, err := inner.LinkByIndex(innerIndex)
			if err != nil {
				return fmt.Errorf("health netns %s: %w", innerInterface, err)
			}
			innerMAC = link.Attrs().HardwareAddr
		}
		neigh := &netlink.Neigh{
			LinkIndex:    hostIndex,
			Family:       netlink.FAMILY_V6,
			State:        netlink.NUD_PERMANENT,
			IP:           net.IP(ip.AsSlice()),
			HardwareAddr: innerMAC,
		}
		if err := host.NeighAdd(neigh); err != nil {
			return fmt.Errorf("add neighbour %s on the host veth: %w", ip, err)
		}
	}
	return nil
}

// deleteHostVeth deletes the host end by name (which removes the inner end
// too). It refuses links that are not veths: a mistyped --health-endpoint.interface
// must not take down a real interface.
func deleteHostVeth(host *netlink.Handle, name string) error {
	link, err := host.LinkByName(name)
	var notFound netlink.LinkNotFoundError
	if errors.As(err, &notFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("look up %s: %w", name, err)
	}
	if link.Type() != "veth" {
		return fmt.Errorf("interface %s exists and is a %s, not a veth: refusing to delete it", name, link.Type())
	}
	if err := host.LinkDel(link); err != nil && !errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("delete veth %s: %w", name, err)
	}
	return nil
}

// waitOperUp waits until the link is operationally up. Operstate follows the
// kernel's linkwatch, which also attaches the queues of a link that got its
// carrier after being opened; until then it drops every packet (an ARP reply
// lost that way costs a full second of ARP retry). Linkwatch runs under the
// global RTNL lock, so on a busy node this can take a while.
func waitOperUp(ctx context.Context, h *netlink.Handle, index int) error {
	for {
		link, err := h.LinkByIndex(index)
		if err != nil {
			return err
		}
		if link.Attrs().OperState == netlink.OperUp {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s still %s: %w", link.Attrs().Name, link.Attrs().OperState, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}
