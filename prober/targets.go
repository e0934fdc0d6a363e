package prober

import "github.com/connectivity-exporter/connectivity_exporter/nodes"

// TargetsFor lists the paths to probe for a node list: host icmp and http for
// every node, endpoint icmp and http for nodes with a health endpoint. The
// four paths of a peer are adjacent so that they are probed close in time
// and can be compared.
func TargetsFor(list []nodes.Node) []Target {
	out := make([]Target, 0, 4*len(list))
	for _, n := range list {
		out = append(out,
			Target{Peer: n.Name, Path: PathHost, Protocol: ProtocolICMP, IP: n.HostIP},
			Target{Peer: n.Name, Path: PathHost, Protocol: ProtocolHTTP, IP: n.HostIP},
		)
		if n.HasHealthEndpoint() {
			out = append(out,
				Target{Peer: n.Name, Path: PathEndpoint, Protocol: ProtocolICMP, IP: n.HealthIP},
				Target{Peer: n.Name, Path: PathEndpoint, Protocol: ProtocolHTTP, IP: n.HealthIP},
			)
		}
	}
	sortTargets(out)
	return out
}
