package cluster

import (
	"fmt"
	"net/netip"
)

// The address plan. Every address is inside 198.18.0.0/15 (and 2001:db8::/32
// for the IPv6 half of a dual-stack cluster), so no traffic can leave for a
// real network:
//
//	fabric (node and control-plane addresses)  198.18.0.0/24   2001:db8::/64
//	  control plane                             .2              ::2
//	  node-i                                    .(10+i)         ::(10+i)
//	services                                    198.18.1.0/24   2001:db8:2::/112
//	pods of node-i                              198.19.i.0/24   2001:db8:1:i::/64
//
// so at most maxNodes nodes.
const maxNodes = 240

// family is one IP family's half of the plan.
type family struct {
	fabric   netip.Prefix // the nodes' shared L2 segment
	services netip.Prefix // --service-cluster-ip-range
	pods     netip.Prefix // every node's pod CIDR is carved out of it
}

var (
	planV4 = family{
		fabric:   netip.MustParsePrefix("198.18.0.0/24"),
		services: netip.MustParsePrefix("198.18.1.0/24"),
		pods:     netip.MustParsePrefix("198.19.0.0/16"),
	}
	planV6 = family{
		fabric:   netip.MustParsePrefix("2001:db8::/64"),
		services: netip.MustParsePrefix("2001:db8:2::/112"),
		pods:     netip.MustParsePrefix("2001:db8:1::/48"),
	}
)

// hostAt is the address n inside the fabric prefix.
func (f family) hostAt(n int) netip.Addr {
	a := f.fabric.Addr().As16()
	a[15] = byte(n)
	if f.fabric.Addr().Is4() {
		return netip.AddrFrom4([4]byte(a[12:16]))
	}
	return netip.AddrFrom16(a)
}

// controlPlane is the API server's (and etcd's) address.
func (f family) controlPlane() netip.Addr { return f.hostAt(2) }

// nodeAddr is node index i's address (i from 1).
func (f family) nodeAddr(i int) netip.Addr { return f.hostAt(10 + i) }

// podCIDR is node index i's pod range: 198.19.i.0/24 or 2001:db8:1:i::/64.
func (f family) podCIDR(i int) netip.Prefix {
	a := f.pods.Addr().As16()
	if f.pods.Addr().Is4() {
		a[14] = byte(i)
		return netip.PrefixFrom(netip.AddrFrom4([4]byte(a[12:16])), 24)
	}
	a[6], a[7] = byte(i>>8), byte(i)
	return netip.PrefixFrom(netip.AddrFrom16(a), 64)
}

// podGateway is the node's bridge address in its pod range (the .1).
func (f family) podGateway(i int) netip.Addr { return f.podCIDR(i).Addr().Next() }

// serviceIP is the first service address, the kubernetes Service's.
func (f family) serviceIP() netip.Addr { return f.services.Addr().Next() }

// families is the plan of a cluster: IPv4 always, IPv6 too when dual-stack.
func families(dualStack bool) []family {
	if dualStack {
		return []family{planV4, planV6}
	}
	return []family{planV4}
}

// checkNodeIndex refuses an index the plan has no room for.
func checkNodeIndex(i int) error {
	if i < 1 || i > maxNodes {
		return fmt.Errorf("node index %d outside 1..%d", i, maxNodes)
	}
	return nil
}
