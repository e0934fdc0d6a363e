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
		if n.NotProbed != "" {
			out[n.Name] = "not probed from this node (" + n.NotProbed + ")"
			continue
		}
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
			if isLocal(r, n) && n.NotProbed == "" {
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
		if isLocal(r, n) || n.NotProbed != "" {
			continue
		}
		peers++
		if hostCut(n) {
			cut = append(cut, n.Name)
		}
	}
	if len(cut) < 2 || 2*len(cut) < peers {
		return nil, peers
	}
	return cut, peers
}

// hostCut: every host path of n, of every family, fails.
func hostCut(n admin.NodeReport) bool {
	hosts := n.HostPaths()
	for _, p := range hosts {
		if !failed(p.ICMP) || !failed(p.HTTP) {
			return false
		}
	}
	return len(hosts) > 0
}

// diagnoseNode reads one node's paths. A dual-stack node is read one family
// at a time: when only one family fails, the diagnosis names it ("IPv6
// traffic is dropped inside node-2 ..."); when both fail alike, the node is
// read as a whole; when they fail differently, each is said.
func diagnoseNode(n admin.NodeReport, helloPort int) string {
	views := familyViews(n)
	if views == nil {
		return diagnosePaths(n, helloPort, "")
	}
	var failing []familyView
	var texts []string
	for _, v := range views {
		if d := diagnosePaths(v.node, helloPort, ""); d != "" {
			failing = append(failing, v)
			texts = append(texts, d)
		}
	}
	switch {
	case len(failing) == 0:
		return ""
	case len(failing) == 1:
		return diagnosePaths(failing[0].node, helloPort, familyName(failing[0].family))
	case texts[0] == texts[1]:
		return diagnosePaths(n, helloPort, "")
	}
	parts := make([]string, len(failing))
	for i, v := range failing {
		parts[i] = familyName(v.family) + ": " + texts[i]
	}
	return strings.Join(parts, "; ")
}

// diagnosePaths reads the paths of n (of family fam, "IPv4" or "IPv6",
// when n is one family of a dual-stack node whose other family works;
// "" otherwise); the cases are checked from the most to the least
// specific, so the first that fits is the best explanation. Every claim it
// makes ("ICMP answers", "TCP works") is one that the lines under it show:
// a path counts as working only when it is reachable and its latest probe
// succeeded.
func diagnosePaths(n admin.NodeReport, helloPort int, fam string) string {
	all := probesOf(n)
	var answered, down, partials []probe
	pending, early := 0, 0
	refused := false
	for _, p := range all {
		switch {
		case partial(p.ProbeReport):
			// Neither up nor down: said on its own.
			partials = append(partials, p)
		case failed(p.ProbeReport):
			down = append(down, p)
			refused = refused || p.Result == string(prober.ResultRefused)
			if p.Status != unreachable {
				early++
			}
		case p.Result == "" && p.Status != reachable:
			pending++
		default:
			answered = append(answered, p)
		}
	}
	if len(partials) > 0 {
		d := diagnosePartial(n, partials, fam)
		if len(down) > 0 {
			d = diagnoseFailures(n, helloPort, answered, down, refused, fam) + "; " + d
		}
		return d
	}
	switch {
	case len(down) == 0 && len(answered) == 0 && fam != "":
		return "not probed yet over " + fam
	case len(down) == 0 && len(answered) == 0:
		return "not probed yet"
	case len(down) == 0 && pending > 0:
		return fmt.Sprintf("not probed yet on %d of %d %spaths", pending, len(all), withSpace(fam))
	case len(down) == 0:
		return diagnoseMTU(n)
	case early == len(down):
		// The lines under it show these failures as below the failure
		// threshold; the diagnosis says so too.
		return "first failures, below the failure threshold so far: " + diagnoseFailures(n, helloPort, answered, down, refused, fam)
	}
	return diagnoseFailures(n, helloPort, answered, down, refused, fam)
}

func withSpace(word string) string {
	if word == "" {
		return ""
	}
	return word + " "
}

// diagnoseFailures names the pattern of a node's failing paths; fam names
// the one family that fails on a dual-stack node, or is "".
func diagnoseFailures(n admin.NodeReport, helloPort int, answered, down []probe, refused bool, fam string) string {
	switch {
	case len(answered) == 0 && !refused && fam != "":
		if len(down) == 1 {
			return fmt.Sprintf("%s does not answer over %s: its only %s path does not answer; check its %s address, routes and firewall on the way", n.Name, fam, fam, fam)
		}
		return fmt.Sprintf("%s does not answer over %s: none of its %d %s paths answers; check its %s addresses, routes and firewall on the way", n.Name, fam, len(down), fam, fam)
	case len(answered) == 0 && !refused:
		// A refusal is an answer: only silence on every path means down.
		if len(down) == 1 {
			return fmt.Sprintf("%s is down or cut off: its only probed path does not answer", n.Name)
		}
		return fmt.Sprintf("%s is down or cut off: none of its %d probed paths answers", n.Name, len(down))
	}
	return diagnosePattern(n, helloPort, down, fam)
}

// forwardDropText says that fam's traffic (one family of a dual-stack
// node) is dropped on its way to the node's endpoints.
func forwardDropText(node, fam string) string {
	example := "an iptables or nft ip FORWARD chain with policy DROP"
	if fam == "IPv6" {
		example = "an ip6tables or nft ip6 FORWARD chain with policy DROP, or IPv6 forwarding off"
	}
	return fmt.Sprintf("%s traffic is dropped inside %s before it reaches endpoints: check %s forwarding and firewall there (e.g. %s), and the health endpoint's %s address", fam, node, fam, example, fam)
}

// diagnosePattern names the pattern of failing paths of a node some of
// whose paths answer.
func diagnosePattern(n admin.NodeReport, helloPort int, down []probe, fam string) string {
	// say qualifies a finding about one family of a dual-stack node.
	say := func(text string) string {
		if fam == "" {
			return text
		}
		return "over " + fam + ", " + text
	}
	host := hostOf(n)
	hostICMP, hostHTTP := host.ICMP, host.HTTP
	switch {
	case failed(hostHTTP) && hostHTTP.Result == string(prober.ResultRefused):
		switch {
		case works(hostICMP):
			return say(fmt.Sprintf("the exporter is not running on %s (ICMP answers, HTTP /hello refused)", n.Name))
		case failed(hostICMP):
			return say(fmt.Sprintf("the exporter is not running on %s (HTTP /hello refused) and ICMP to it gets no answer", n.Name))
		}
		return say(fmt.Sprintf("the exporter is not running on %s (HTTP /hello refused)", n.Name))
	case failed(hostHTTP) && works(hostICMP):
		return say(fmt.Sprintf("TCP port %d blocked or the exporter hangs on %s", helloPort, n.Name))
	case n.Endpoint != nil && (works(hostICMP) || works(hostHTTP)) && endpointDown(n.Endpoint):
		if fam != "" {
			return forwardDropText(n.Name, fam)
		}
		return fmt.Sprintf("traffic is dropped inside %s before it reaches endpoints: check forwarding and firewall there (e.g. a FORWARD chain with policy DROP), and the health endpoint", n.Name)
	case onlyICMPDown(n, down):
		return say(fmt.Sprintf("ICMP is filtered on the path to %s; TCP works", n.Name))
	case len(down) == 1 && down[0].endp && down[0].http && works(n.Endpoint.ICMP):
		if down[0].Result == string(prober.ResultRefused) {
			return say(fmt.Sprintf("the health endpoint on %s answers ICMP but refuses HTTP: its /hello responder is not running", n.Name))
		}
		return say(fmt.Sprintf("the health endpoint on %s answers ICMP but not HTTP: its /hello responder hangs or TCP port %d is filtered towards endpoints", n.Name, helloPort))
	}
	names := make([]string, len(down))
	for i, p := range down {
		names[i] = fmt.Sprintf("%s (%s)", p.name, failureWord(p.ProbeReport))
	}
	return say("unreachable on " + strings.Join(names, ", "))
}

// hostOf is n's (first) host path; zero in reports that were not built by
// BuildReport, and in the view of a family the node has an endpoint of
// only.
func hostOf(n admin.NodeReport) admin.PathReport {
	if n.Host != nil {
		return *n.Host
	}
	return admin.PathReport{}
}

// failed: the path is unreachable, or it has no verdict yet and its latest
// probe failed (a node that never answered since it was listed).
func failed(p admin.ProbeReport) bool {
	switch p.Status {
	case unreachable:
		return true
	case reachable, admin.StatusPartial:
		return false
	}
	return p.Result != "" && p.Result != string(prober.ResultSuccess)
}

// works: the path is reachable and its latest probe succeeded, so a
// diagnosis may say that it answers.
func works(p admin.ProbeReport) bool {
	return p.Status == reachable && (p.Result == "" || p.Result == string(prober.ResultSuccess))
}

// endpointDown: no endpoint path works and at least one failed.
func endpointDown(p *admin.PathReport) bool {
	if works(p.ICMP) || works(p.HTTP) {
		return false
	}
	return failed(p.ICMP) || failed(p.HTTP)
}

// onlyICMPDown: every failing path is ICMP, and HTTP to the same address
// works.
func onlyICMPDown(n admin.NodeReport, down []probe) bool {
	for _, p := range down {
		pr := n.Host
		if p.endp {
			pr = n.Endpoint
		}
		if p.http || !works(pr.HTTP) {
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
