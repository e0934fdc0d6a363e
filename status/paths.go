package status

import (
	"net/netip"

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
// HTTP when the node has a health endpoint, for each address of each.
func probesOf(n admin.NodeReport) []probe {
	var out []probe
	// On a node of both families a path's name says which.
	dual := len(n.HostPaths()) > 1 || len(n.EndpointPaths()) > 1
	name := func(p *admin.PathReport, what string) string {
		if dual {
			return familyName(familyOf(p)) + " " + what
		}
		return what
	}
	for _, p := range n.HostPaths() {
		out = append(out, probe{name(p, "host ICMP"), false, false, p.ICMP}, probe{name(p, "host HTTP"), true, false, p.HTTP})
	}
	for _, p := range n.EndpointPaths() {
		out = append(out, probe{name(p, "endpoint ICMP"), false, true, p.ICMP}, probe{name(p, "endpoint HTTP"), true, true, p.HTTP})
	}
	return out
}

// familyView is the part of a node's report of one address family.
type familyView struct {
	family prober.Family
	node   admin.NodeReport // with Host and Endpoint of that family only
}

// familyViews splits a dual-stack node's report by family, IPv4 first;
// nil when the node has addresses of one family only (or none).
func familyViews(n admin.NodeReport) []familyView {
	var views []familyView
	for _, f := range prober.Families {
		v := n
		v.Host, v.DualStackHost, v.Endpoint, v.DualStackEndpoint = nil, nil, nil, nil
		for _, p := range n.HostPaths() {
			if familyOf(p) == f {
				v.Host = p
			}
		}
		for _, p := range n.EndpointPaths() {
			if familyOf(p) == f {
				v.Endpoint = p
			}
		}
		if v.Host != nil || v.Endpoint != nil {
			views = append(views, familyView{f, v})
		}
	}
	if len(views) < 2 {
		return nil
	}
	return views
}

// familyOf is the family of a path's address; IPv4 when the address does
// not parse (a report from elsewhere).
func familyOf(p *admin.PathReport) prober.Family {
	ip, err := netip.ParseAddr(p.IP)
	if err != nil {
		return prober.FamilyIPv4
	}
	return prober.FamilyOf(ip)
}

// familyName is how text names a family: "IPv4", "IPv6".
func familyName(f prober.Family) string {
	if f == prober.FamilyIPv6 {
		return "IPv6"
	}
	return "IPv4"
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
