// Package nodes holds the node list: its validation and the static YAML file
// source; nodes/kubernetes discovers it from the Kubernetes API. Every source
// yields the same validated []Node.
package nodes

import (
	"context"
	"net/netip"
	"strings"
	"time"
)

// Node is one member of the cluster, probed on up to four paths.
type Node struct {
	// Name is unique; "cluster/name" is allowed for multi-cluster setups.
	Name string
	// HostIP is the node's own address (host paths): its only one, or
	// its IPv4 one on dual stack.
	HostIP netip.Addr
	// DualStackHostIP is the node's IPv6 address when it has both
	// families (HostIP is then its IPv4 one); the zero Addr otherwise.
	DualStackHostIP netip.Addr
	// HealthIP is the address of the node's health endpoint (endpoint
	// paths), its IPv4 one on dual stack. The zero Addr means the node
	// has none.
	HealthIP netip.Addr
	// DualStackHealthIP is the health endpoint's IPv6 address when it
	// has both families; set only with HealthIP.
	DualStackHealthIP netip.Addr
	// Zone and Region are the node's place in the topology (Kubernetes:
	// the topology.kubernetes.io labels); "" when unknown. The exporter
	// aggregates by zone, so that series grow with zones, not nodes.
	Zone, Region string
	// Leaving says why the node is leaving the cluster (one of the
	// Leaving... reasons), "" while it is not. Such a node is listed but
	// not probed. Only Kubernetes discovery sets it.
	Leaving string
	// NotReady is true while the node's Ready condition is not True, and
	// NotReadySince is when it left True (zero when unknown). Such a
	// node is still probed (unless --nodes.kubernetes.not-ready=exclude):
	// it may have crashed, which is a fault. Only Kubernetes discovery
	// sets them.
	NotReady      bool
	NotReadySince time.Time
}

// HasHealthEndpoint reports whether endpoint paths exist for this node.
func (n Node) HasHealthEndpoint() bool { return n.HealthIP.IsValid() }

// HostIPs are the node's addresses, IPv4 first: one per family it has.
func (n Node) HostIPs() []netip.Addr { return validAddrs(n.HostIP, n.DualStackHostIP) }

// HealthIPs are the health endpoint's addresses, IPv4 first; none when the
// node has no health endpoint.
func (n Node) HealthIPs() []netip.Addr { return validAddrs(n.HealthIP, n.DualStackHealthIP) }

func validAddrs(first, second netip.Addr) []netip.Addr {
	out := make([]netip.Addr, 0, 2)
	for _, ip := range []netip.Addr{first, second} {
		if ip.IsValid() {
			out = append(out, ip)
		}
	}
	return out
}

// DualStack returns the addresses of a dual-stack node's pair in the
// order Node keeps them: the IPv4 one, then the IPv6 one. ips holds at
// most one address per family (IPv4-mapped addresses count as IPv4); the
// second result is zero when ips has one. ok is false when ips is empty,
// has more than two addresses or two of one family.
func DualStack(ips []netip.Addr) (first, second netip.Addr, ok bool) {
	switch len(ips) {
	case 1:
		return ips[0].Unmap(), netip.Addr{}, true
	case 2:
		a, b := ips[0].Unmap(), ips[1].Unmap()
		if a.Is4() == b.Is4() {
			return netip.Addr{}, netip.Addr{}, false
		}
		if b.Is4() {
			a, b = b, a
		}
		return a, b, true
	}
	return netip.Addr{}, netip.Addr{}, false
}

// Source is where the node list comes from.
type Source interface {
	// Load returns the current, validated node list, or an error that says
	// what is wrong (with the line, for files).
	Load(ctx context.Context) ([]Node, error)
	// Watch blocks until ctx ends. It calls update with every new valid
	// list and fail with every error; after an error the last good list
	// stays in force (the caller keeps it).
	Watch(ctx context.Context, update func([]Node), fail func(error))
}

// JoinAddrs is ips for a message or a log line: "198.19.0.1,2001:db8::1".
func JoinAddrs(ips []netip.Addr) string {
	texts := make([]string, len(ips))
	for i, ip := range ips {
		texts[i] = ip.String()
	}
	return strings.Join(texts, ",")
}
