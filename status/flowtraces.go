package status

import (
	"fmt"
	"io"
	"strings"

	"github.com/connectivity-exporter/connectivity_exporter/admin"
)

// writeFlowTraces writes a line per outcome of the failing flows' traces
// of path p: the flows that end at the same hop share one (a peer down
// fails every flow the same way); one line for a path probed without
// flows.
func writeFlowTraces(w io.Writer, p *admin.PathReport) {
	for _, pr := range []struct {
		label string
		r     admin.ProbeReport
	}{{"ICMP trace:", p.ICMP}, {"HTTP trace:", p.HTTP}} {
		var order []admin.FlowTrace // the first trace of each outcome
		names := map[string][]string{}
		for _, t := range pr.r.FlowTraces {
			o := traceOutcome(t, false)
			if _, ok := names[o]; !ok {
				order = append(order, t)
			}
			names[o] = append(names[o], flowName(t))
		}
		if pr.r.Flows == nil && len(pr.r.FlowTraces) == 1 {
			// A path probed without flows, down while its node answers
			// on another path: traced as a whole.
			fmt.Fprintf(w, "      %-17sthe path fails; its trace %s\n", pr.label, traceOutcome(pr.r.FlowTraces[0], false))
			continue
		}
		for _, t := range order {
			fs := names[traceOutcome(t, false)]
			verb := "fails; its trace"
			if len(fs) > 1 {
				verb = "fail; their traces"
			}
			fmt.Fprintf(w, "      %-17s%s %s %s %s\n", pr.label, pluralWord(len(fs), "flow"), strings.Join(fs, ", "), verb, traceOutcome(t, len(fs) > 1))
		}
	}
}

// traceOutcome says where a failing flow's trace went (where several
// did, with plural).
func traceOutcome(t admin.FlowTrace, plural bool) string {
	end := "ends"
	if plural {
		end = "end"
	}
	switch {
	case t.Reached:
		return "reached the node (the fault is not on the way there)"
	case t.LastHop != "":
		s := fmt.Sprintf("%s at %s (TTL %d)", end, clean(t.LastHop), t.LastHopTTL)
		if t.FirstSilentTTL > 0 {
			s += fmt.Sprintf(", silent from TTL %d", t.FirstSilentTTL)
		}
		return s
	case t.Error != "":
		return "failed: " + clean(t.Error)
	}
	return "got no answer"
}
