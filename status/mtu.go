package status

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/connectivity-exporter/connectivity_exporter/admin"
	"github.com/connectivity-exporter/connectivity_exporter/prober"
)

var (
	mtuBlackhole = string(prober.MTUStatusBlackhole)
	mtuReduced   = string(prober.MTUStatusReduced)
)

// mtuPath is one path of a node with its two full-size verdicts.
type mtuPath struct {
	kind string // "host" or "endpoint"
	*admin.PathReport
}

func mtuPathsOf(n admin.NodeReport) []mtuPath {
	var out []mtuPath
	if n.Host != nil {
		out = append(out, mtuPath{"host", n.Host})
	}
	if n.Endpoint != nil {
		out = append(out, mtuPath{"endpoint", n.Endpoint})
	}
	return out
}

// diagnoseMTU reads the full-size probes of a node whose small probes all
// work: an MTU black hole first (an outage for large transfers), then a
// reduced path MTU (information); "" when neither.
func diagnoseMTU(n admin.NodeReport) string {
	var holes, holeProtos []string
	holeSize, v6 := 0, false
	reducedTo, expected := 0, 0
	var reducedPaths []string
	for _, p := range mtuPathsOf(n) {
		var protos []string
		for _, pr := range []struct {
			name string
			m    *admin.MTUReport
		}{{"ICMP", p.ICMP.MTU}, {"HTTP", p.HTTP.MTU}} {
			switch {
			case pr.m == nil:
			case pr.m.Status == mtuBlackhole:
				protos = append(protos, pr.name)
				holeSize = max(holeSize, pr.m.Expected)
			case pr.m.Status == mtuReduced:
				if reducedTo == 0 || pr.m.PathMTU < reducedTo {
					reducedTo, expected = pr.m.PathMTU, pr.m.Expected
				}
				if len(reducedPaths) == 0 || reducedPaths[len(reducedPaths)-1] != p.kind {
					reducedPaths = append(reducedPaths, p.kind)
				}
			}
		}
		if len(protos) > 0 {
			holes = append(holes, p.kind)
			holeProtos = appendNew(holeProtos, protos...)
			if ip, err := netip.ParseAddr(p.IP); err == nil && ip.Unmap().Is6() {
				v6 = true
			}
		}
	}
	switch {
	case len(holes) > 0:
		icmpError := "ICMP 'fragmentation needed'"
		if v6 {
			icmpError = "ICMPv6 'packet too big'"
		}
		return fmt.Sprintf("packets of %d bytes to %s are lost on the %s while small ones pass (full-size %s): an MTU black hole; check the MTU of every hop and that %s is not dropped",
			holeSize, n.Name, pathsWord(holes), strings.Join(holeProtos, " and "), icmpError)
	case reducedTo > 0:
		return fmt.Sprintf("the path MTU to %s is %d (expected %d) on the %s: PMTUD works", n.Name, reducedTo, expected, pathsWord(reducedPaths))
	}
	return ""
}

// nodeMTUBlackhole reports a path of n that is an MTU black hole.
func nodeMTUBlackhole(n admin.NodeReport) bool {
	for _, p := range mtuPathsOf(n) {
		for _, m := range []*admin.MTUReport{p.ICMP.MTU, p.HTTP.MTU} {
			if m != nil && m.Status == mtuBlackhole {
				return true
			}
		}
	}
	return false
}

func pathsWord(kinds []string) string {
	if len(kinds) == 1 {
		return kinds[0] + " path"
	}
	return strings.Join(kinds, " and ") + " paths"
}

func appendNew(list []string, items ...string) []string {
	for _, it := range items {
		found := false
		for _, x := range list {
			found = found || x == it
		}
		if !found {
			list = append(list, it)
		}
	}
	return list
}

// mtuText says what a path's full-size probes found, for the line under
// its small probes; "" when neither protocol has been probed at full size.
func mtuText(p *admin.PathReport) string {
	if p.ICMP.MTU == nil && p.HTTP.MTU == nil {
		return ""
	}
	return "ICMP " + mtuWord(p.ICMP.MTU, p.ICMP) + ", HTTP " + mtuWord(p.HTTP.MTU, p.HTTP)
}

// mtuStale reports a full-size result that is older than the latest
// small probe of its path, which failed: the path broke since, so the
// old result says nothing about now (full-size probes follow a small
// probe only every few intervals).
func mtuStale(m *admin.MTUReport, small admin.ProbeReport) bool {
	failed := small.Result != "" && small.Result != string(prober.ResultSuccess)
	return failed && !m.LastProbed.IsZero() && m.LastProbed.Before(small.LastProbed)
}

// mtuWord says what full-size result m found, beside the small probes'
// latest result small: never OK beside a failing path.
func mtuWord(m *admin.MTUReport, small admin.ProbeReport) string {
	if m == nil {
		return "not probed yet"
	}
	if mtuStale(m, small) {
		was := *m
		was.ConsecutiveLosses = 0
		return "unknown since the small probes failed (before: " + mtuWordNow(&was) + ")"
	}
	return mtuWordNow(m)
}

// mtuWordNow says what m found, taken as current.
func mtuWordNow(m *admin.MTUReport) string {
	var s string
	switch prober.MTUStatus(m.Status) {
	case prober.MTUStatusOK:
		s = fmt.Sprintf("OK at %d bytes", m.PathMTU)
	case prober.MTUStatusBlackhole:
		s = fmt.Sprintf("lost at %d bytes (MTU black hole)", m.Expected)
		if m.BlackholeFlows > 0 {
			s = fmt.Sprintf("lost at %d bytes on %s (MTU black hole)", m.Expected, plural(m.BlackholeFlows, "flow"))
		}
	case prober.MTUStatusReduced:
		s = fmt.Sprintf("path MTU %d (expected %d)", m.PathMTU, m.Expected)
	default:
		s = "unknown"
		if m.Error != "" {
			s += " (" + clean(m.Error) + ")"
		}
	}
	if m.Status != mtuBlackhole && m.ConsecutiveLosses > 0 {
		s += fmt.Sprintf(" (%d lost in a row)", m.ConsecutiveLosses)
	}
	return s
}
