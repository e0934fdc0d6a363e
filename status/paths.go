package status

import (
	"github.com/connectivity-exporter/connectivity_exporter/admin"
	"github.com/connectivity-exporter/connectivity_exporter/prober"
)

var (
	reachable   = string(prober.StatusReachable)
	unreachable = string(prober.StatusUnreachable)
)

// probe is one of a node's up to four paths, named for messages.
type probe struct {
	name string // "host ICMP", "endpoint HTTP", ...
	http bool
	endp bool
	admin.ProbeReport
}

// probesOf lists a node's paths: host ICMP and HTTP, then endpoint ICMP and
// HTTP when the node has a health endpoint.
func probesOf(n admin.NodeReport) []probe {
	var out []probe
	if n.Host != nil {
		out = append(out, probe{"host ICMP", false, false, n.Host.ICMP}, probe{"host HTTP", true, false, n.Host.HTTP})
	}
	if n.Endpoint != nil {
		out = append(out, probe{"endpoint ICMP", false, true, n.Endpoint.ICMP}, probe{"endpoint HTTP", true, true, n.Endpoint.HTTP})
	}
	return out
}

// nodeReachable: a node counts as reachable only when all its paths are.
func nodeReachable(n admin.NodeReport) bool {
	ps := probesOf(n)
	for _, p := range ps {
		if p.Status != reachable {
			return false
		}
	}
	return len(ps) > 0
}

// nodeFailing reports a latest probe that failed, even below the failure
// threshold: worth showing, not yet worth calling unreachable.
func nodeFailing(n admin.NodeReport) bool {
	for _, p := range probesOf(n) {
		if p.Result != "" && p.Result != string(prober.ResultSuccess) {
			return true
		}
	}
	return false
}

func isLocal(r admin.Report, n admin.NodeReport) bool {
	return n.Local || (r.LocalNode != "" && n.Name == r.LocalNode)
}
