package status

import (
	"github.com/connectivity-exporter/connectivity_exporter/admin"
	"github.com/connectivity-exporter/connectivity_exporter/exitcode"
)

// ExitCode is exitcode.OK when every node this node probes is reachable on all
// its paths (also when no node is known) and exitcode.Unhealthy otherwise,
// including paths not probed yet and MTU black holes (a reduced path MTU
// that PMTUD handles is healthy). Nodes outside the --probe.peers choice
// count neither way, nor do nodes leaving the cluster. A daemon without a
// node list yet is unhealthy: it probes nothing.
func ExitCode(r admin.Report) int {
	if r.NoNodeList {
		return exitcode.Unhealthy
	}
	for _, n := range r.Nodes {
		if n.NotProbed == "" && (!nodeReachable(n) || nodeMTUBlackhole(n)) {
			return exitcode.Unhealthy
		}
	}
	return exitcode.OK
}
