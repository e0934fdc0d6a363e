package status

import (
	"fmt"
	"strings"

	"github.com/connectivity-exporter/connectivity_exporter/admin"
)

// partial: some of the path's flows fail past the threshold, others answer.
func partial(p admin.ProbeReport) bool { return p.Status == admin.StatusPartial }

// diagnosePartial says which paths of n are partial: "2 of 8 flows to
// node-3 fail on host HTTP: one member of an equal-cost group drops".
// fam names the family on a dual-stack node whose other family works.
func diagnosePartial(n admin.NodeReport, ps []probe, fam string) string {
	parts := make([]string, 0, len(ps))
	for _, p := range ps {
		failing, count := 0, 0
		if p.Flows != nil {
			failing, count = len(p.Flows.Failing), p.Flows.Count
		}
		parts = append(parts, fmt.Sprintf("%d of %d flows to %s fail on %s", failing, count, n.Name, p.name))
	}
	if fam != "" {
		parts[len(parts)-1] += " over " + fam
	}
	return strings.Join(parts, ", ") + ": one member of an equal-cost group drops (the flows that fail keep their route; `status -o json` names them)"
}

// flowsText lists a path's failing flows, for the lines under a node;
// "" when none fails.
func flowsText(p admin.ProbeReport) string {
	if p.Flows == nil || len(p.Flows.Failing) == 0 {
		return ""
	}
	ids := make([]string, len(p.Flows.Failing))
	for i, f := range p.Flows.Failing {
		switch {
		case f.SourcePort != 0 && f.FlowLabel != 0:
			ids[i] = fmt.Sprintf("port %d label %#05x", f.SourcePort, f.FlowLabel)
		case f.SourcePort != 0:
			ids[i] = fmt.Sprintf("port %d", f.SourcePort)
		default:
			ids[i] = fmt.Sprintf("label %#05x", f.FlowLabel)
		}
	}
	return fmt.Sprintf("%d of %d fail (%s)", len(p.Flows.Failing), p.Flows.Count, strings.Join(ids, ", "))
}

// nodePartial: every path of n works or is partial, and one is partial.
func nodePartial(n admin.NodeReport) bool {
	some := false
	for _, p := range probesOf(n) {
		switch {
		case partial(p.ProbeReport):
			some = true
		case p.Status != reachable:
			return false
		}
	}
	return some
}

// partialScope adds the nodes that are partial to the health line: they
// are neither reachable nor unreachable.
func partialScope(n int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf(", %d partial (some flows fail)", n)
}
