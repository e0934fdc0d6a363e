// Package nodes discovers the cluster's nodes: from a static YAML file or from
// the Kubernetes API. Every source yields the same validated []Node.
package nodes

import (
	"context"
	"net/netip"
)

// Node is one member of the cluster, probed on up to four paths.
type Node struct {
	// Name is unique; "cluster/name" is allowed for multi-cluster setups.
	Name string
	// HostIP is the node's own address (host paths).
	HostIP netip.Addr
	// HealthIP is the address of the node's health endpoint (endpoint
	// paths). The zero Addr means the node has none.
	HealthIP netip.Addr
	// Zone and Region are the node's place in the topology (Kubernetes:
	// the topology.kubernetes.io labels); "" when unknown. The exporter
	// aggregates by zone, so that series grow with zones, not nodes.
	Zone, Region string
}

// HasHealthEndpoint reports whether endpoint paths exist for this node.
func (n Node) HasHealthEndpoint() bool { return n.HealthIP.IsValid() }

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
