package cluster

import (
	"fmt"
	"net/netip"
	"os/exec"
	"strings"
)

// The fabric is a bridge in a namespace of its own; the control plane and
// every node are namespaces with an eth0 whose peer is a port of that
// bridge. Nothing is made in the root namespace.
const fabricBridge = "fabric0"

// ip runs the ip command; the harness builds labs with it, as the project's
// other tests do (product code uses netlink).
func ip(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// sysctlIn sets a sysctl inside namespace ns.
func sysctlIn(ns, key, value string) error {
	out, err := exec.Command("ip", "netns", "exec", ns, "sysctl", "-qw", key+"="+value).CombinedOutput()
	if err != nil {
		return fmt.Errorf("sysctl %s in %s: %w: %s", key, ns, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// addNetns makes namespace ns with loopback up.
func addNetns(ns string) error {
	if err := ip("netns", "add", ns); err != nil {
		return err
	}
	return ip("-n", ns, "link", "set", "lo", "up")
}

// makeFabric makes the fabric namespace and its bridge.
func makeFabric(fabricNS string) error {
	if err := addNetns(fabricNS); err != nil {
		return err
	}
	if err := ip("-n", fabricNS, "link", "add", fabricBridge, "type", "bridge"); err != nil {
		return err
	}
	return ip("-n", fabricNS, "link", "set", fabricBridge, "up")
}

// attach makes namespace ns, joins it to the fabric as port (the port's
// name in the fabric namespace) with addrs on its eth0, and turns on
// forwarding (nodes route their pods' traffic).
func attach(fabricNS, ns, port string, addrs []netip.Addr, fams []family) error {
	if err := addNetns(ns); err != nil {
		return err
	}
	if err := ip("-n", fabricNS, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns); err != nil {
		return err
	}
	if err := ip("-n", fabricNS, "link", "set", port, "master", fabricBridge, "up"); err != nil {
		return err
	}
	for i, a := range addrs {
		args := []string{"-n", ns, "addr", "add", netip.PrefixFrom(a, fams[i].fabric.Bits()).String(), "dev", "eth0"}
		if a.Is6() {
			args = append(args, "nodad")
		}
		if err := ip(args...); err != nil {
			return err
		}
	}
	if err := ip("-n", ns, "link", "set", "eth0", "up"); err != nil {
		return err
	}
	if err := sysctlIn(ns, "net.ipv4.ip_forward", "1"); err != nil {
		return err
	}
	if len(fams) > 1 {
		return sysctlIn(ns, "net.ipv6.conf.all.forwarding", "1")
	}
	return nil
}

// routePods routes, in namespace ns, node index i's pod CIDRs via its address.
func routePods(ns string, i int, fams []family) error {
	for _, f := range fams {
		if err := ip("-n", ns, "route", "replace", f.podCIDR(i).String(), "via", f.nodeAddr(i).String()); err != nil {
			return err
		}
	}
	return nil
}

// unroutePods undoes routePods (the namespace may be gone already).
func unroutePods(ns string, i int, fams []family) {
	for _, f := range fams {
		_ = ip("-n", ns, "route", "del", f.podCIDR(i).String())
	}
}
