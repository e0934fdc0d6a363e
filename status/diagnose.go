package status

import (
	"fmt"
	"strings"

	"github.com/connectivity-exporter/connectivity_exporter/admin"
	"github.com/connectivity-exporter/connectivity_exporter/hello"
	"github.com/connectivity-exporter/connectivity_exporter/prober"
)

// Diagnose reads the pattern of each node's four paths, and of all nodes
// together, and says in one line per node where to look. Healthy nodes have
// no entry.
func Diagnose(r admin.Report) map[string]string {
	out := make(map[string]string)
	port := r.HelloPort
	if port == 0 {
		port = hello.DefaultPort
	}
	for _, n := range r.Nodes {
		if d := diagnoseNode(n, port); d != "" {
			out[n.Name] = d
		}
	}
	// One vantage point cannot tell "many peers are down" from "this node
	// is cut off"; when most peers fail, the second is far more likely.
	if cut, peers := isolatedPeers(r); len(cut) > 0 {
		for _, name := range cut {
			out[name] = "unreachable, probably because this node is isolated"
		}
		for _, n := range r.Nodes {
			if isLocal(r, n) {
				out[n.Name] = fmt.Sprintf("this node is isolated: %d/%d peers unreachable from here; check this node's uplink, routes and firewall", len(cut), peers)
			}
		}
	}
	return out
}

// WithDiagnosis returns a copy of r with every node's Diagnosis set.
func WithDiagnosis(r admin.Report) admin.Report {
	d := Diagnose(r)
	nodes := make([]admin.NodeReport, len(r.Nodes))
	for i, n := range r.Nodes {
		n.Diagnosis = d[n.Name]
		nodes[i] = n
	}
	r.Nodes = nodes
	return r
}

// isolatedPeers returns the peers unreachable on all host paths when they
// are at least two and at least half of the peers, and the number of peers.
func isolatedPeers(r admin.Report) (cut []string, peers int) {
	for _, n := range r.Nodes {
		if isLocal(r, n) {
			continue
		}
		peers++
		if n.Host != nil && n.Host.ICMP.Status == unreachable && n.Host.HTTP.Status == unreachable {
			cut = append(cut, n.Name)
		}
	}
	if len(cut) < 2 || 2*len(cut) < peers {
		return nil, peers
	}
	return cut, peers
}

// diagnoseNode reads one node's paths; the cases are checked from the most
// to the least specific, so the first that fits is the best explanation.
func diagnoseNode(n admin.NodeReport, helloPort int) string {
	all := probesOf(n)
	var known, down []probe
	refused := false
	for _, p := range all {
		switch p.Status {
		case reachable:
			known = append(known, p)
		case unreachable:
			known = append(known, p)
			down = append(down, p)
			refused = refused || p.Result == string(prober.ResultRefused)
		}
	}
	switch {
	case len(known) == 0:
		return "not probed yet"
	case len(down) == 0 && len(known) < len(all):
		return fmt.Sprintf("not probed yet on %d of %d paths", len(all)-len(known), len(all))
	case len(down) == 0:
		return ""
	case len(down) == len(known) && !refused:
		// A refusal is an answer: only silence on every path means down.
		if len(known) == 1 {
			return fmt.Sprintf("%s is down or cut off: its only probed path does not answer", n.Name)
		}
		return fmt.Sprintf("%s is down or cut off: none of its %d probed paths answers", n.Name, len(known))
	}

	hostICMP, hostHTTP := status(n.Host, false), status(n.Host, true)
	switch {
	case hostHTTP == unreachable && n.Host.HTTP.Result == string(prober.ResultRefused):
		if hostICMP == reachable {
			return fmt.Sprintf("the exporter is not running on %s (ICMP answers, HTTP /hello refused)", n.Name)
		}
		return fmt.Sprintf("the exporter is not running on %s (HTTP /hello refused) and ICMP to it gets no answer", n.Name)
	case hostHTTP == unreachable && hostICMP == reachable:
		return fmt.Sprintf("TCP port %d blocked or the exporter hangs on %s", helloPort, n.Name)
	case n.Endpoint != nil && (hostICMP == reachable || hostHTTP == reachable) && endpointDown(n.Endpoint):
		return fmt.Sprintf("traffic is dropped inside %s before it reaches endpoints: check forwarding and firewall there (e.g. a FORWARD chain with policy DROP), and the health endpoint", n.Name)
	case onlyICMPDown(n, down):
		return fmt.Sprintf("ICMP is filtered on the path to %s; TCP works", n.Name)
	case len(down) == 1 && down[0].endp && down[0].http && status(n.Endpoint, false) == reachable:
		if down[0].Result == string(prober.ResultRefused) {
			return fmt.Sprintf("the health endpoint on %s answers ICMP but refuses HTTP: its /hello responder is not running", n.Name)
		}
		return fmt.Sprintf("the health endpoint on %s answers ICMP but not HTTP: its /hello responder hangs or TCP port %d is filtered towards endpoints", n.Name, helloPort)
	}
	names := make([]string, len(down))
	for i, p := range down {
		names[i] = fmt.Sprintf("%s (%s)", p.name, failureWord(p.ProbeReport))
	}
	return "unreachable on " + strings.Join(names, ", ")
}

// status of one protocol of a path; "" when the path does not exist.
func status(p *admin.PathReport, http bool) string {
	switch {
	case p == nil:
		return ""
	case http:
		return p.HTTP.Status
	default:
		return p.ICMP.Status
	}
}

// endpointDown: every probed endpoint path is unreachable.
func endpointDown(p *admin.PathReport) bool {
	known := 0
	for _, s := range []string{p.ICMP.Status, p.HTTP.Status} {
		switch s {
		case reachable:
			return false
		case unreachable:
			known++
		}
	}
	return known > 0
}

// onlyICMPDown: every unreachable path is ICMP, and HTTP to the same
// address works.
func onlyICMPDown(n admin.NodeReport, down []probe) bool {
	for _, p := range down {
		pr := n.Host
		if p.endp {
			pr = n.Endpoint
		}
		if p.http || pr.HTTP.Status != reachable {
			return false
		}
	}
	return true
}

// failureWord names how a probe failed, for the fallback diagnosis.
func failureWord(p admin.ProbeReport) string {
	switch prober.Result(p.Result) {
	case prober.ResultTimeout:
		return "timed out"
	case prober.ResultRefused:
		return "refused"
	case prober.ResultError:
		return "error"
	}
	return "unreachable"
}
