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
// there), gives eth0 the health IP and a default route to the host veth,
// and returns eth0's index.
func configureInner(h *netlink.Handle, ip netip.Addr, hostMAC net.HardwareAddr) (int, error) {
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
	addr := &netlink.Addr{IPNet: hostPrefix(ip)}
	if ip.Is6() {
		addr.Flags = unix.IFA_F_NODAD // usable at once; we own the link, no one to clash with
	}
	if err := h.AddrAdd(eth, addr); err != nil {
		return 0, fmt.Errorf("add %s to health netns %s: %w", ip, innerInterface, err)
	}
	index, gw := eth.Attrs().Index, innerGateway(ip)
	neigh := &netlink.Neigh{
		LinkIndex:    index,
		Family:       ipFamily(ip),
		State:        netlink.NUD_PERMANENT,
		IP:           gw,
		HardwareAddr: hostMAC,
	}
	if err := h.NeighAdd(neigh); err != nil {
		return 0, fmt.Errorf("add neighbour %s in health netns: %w", gw, err)
	}
	route := &netlink.Route{
		LinkIndex: index,
		Gw:        gw,
		Flags:     int(netlink.FLAG_ONLINK),
		Family:    ipFamily(ip),
	}
	if err := h.RouteAdd(route); err != nil {
		return 0, fmt.Errorf("add default route via %s in health netns: %w", gw, err)
	}
	return index, nil
}

// deleteHostVeth deletes the host end by name (which removes the inner end
// too). It refuses links that are not veths: a mistyped --healthep.interface
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
