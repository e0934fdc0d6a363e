package status

import "github.com/connectivity-exporter/connectivity_exporter/admin"

// Exit codes of the status, ping and get commands; see the package doc.
const (
	ExitOK          = 0
	ExitUnhealthy   = 1
	ExitUsage       = 2
	ExitUnreachable = 3
)

// ExitCode is ExitOK when every node this node probes is reachable on all
// its paths (also when no node is known) and ExitUnhealthy otherwise,
// including paths not probed yet and MTU black holes (a reduced path MTU
// that PMTUD handles is healthy). Nodes outside the --probe.peers choice
// count neither way, nor do nodes leaving the cluster. A daemon without a
// node list yet is unhealthy: it probes nothing.
func ExitCode(r admin.Report) int {
	if r.NoNodeList {
		return ExitUnhealthy
	}
	for _, n := range r.Nodes {
		if n.NotProbed == "" && (!nodeReachable(n) || nodeMTUBlackhole(n)) {
			return ExitUnhealthy
		}
	}
	return ExitOK
}
