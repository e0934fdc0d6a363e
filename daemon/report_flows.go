package daemon

import (
	"github.com/connectivity-exporter/connectivity_exporter/admin"
	"github.com/connectivity-exporter/connectivity_exporter/prober"
)

// flowsReport reports a path's flows; nil for a path probed without.
func flowsReport(f prober.FlowsState) *admin.FlowsReport {
	if f.Count == 0 {
		return nil
	}
	out := &admin.FlowsReport{Count: f.Count, Probed: f.Probed}
	for _, fl := range f.Failing {
		out.Failing = append(out.Failing, admin.FlowReport{
			Index:               fl.Index,
			SourcePort:          fl.Flow.SourcePort,
			FlowLabel:           fl.Flow.FlowLabel,
			Result:              string(fl.LastResult),
			Error:               fl.LastError,
			LastProbed:          utc(fl.LastProbed),
			ConsecutiveFailures: fl.ConsecutiveFailures,
		})
	}
	return out
}
