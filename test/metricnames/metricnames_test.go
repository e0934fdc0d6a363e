package metricnames

import (
	"slices"
	"testing"
)

func TestExposed(t *testing.T) {
	names, err := Exposed()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"connectivity_peer_reachable",
		"connectivity_discovery_rejected",
		"connectivity_rtt_seconds",
		"connectivity_rtt_seconds_bucket",
		"connectivity_rtt_seconds_count",
		"connectivity_build_info",
		"connectivity_exporter_build_info",
	} {
		if !names[want] {
			t.Errorf("%s is not among the exposed names", want)
		}
	}
	for _, notWant := range []string{"connectivity_peers_bucket", "connectivity_rtt_seconds_total", "up"} {
		if names[notWant] {
			t.Errorf("%s is among the exposed names", notWant)
		}
	}
}

func TestSelected(t *testing.T) {
	tests := []struct {
		expr string
		want []string
	}{
		{`sum by (source) (rate(connectivity_probes_total{job="connectivity"}[5m]))`, []string{"connectivity_probes_total"}},
		{`a:b:c{x="y"} / on (source) group_left x_total[1m] or up{}`, []string{"a:b:c", "up", "x_total"}},
		{`connectivity_nodes`, nil}, // no selector or range: not matched
		{`max without (peer) (m{}) + m{}`, []string{"m"}},
	}
	for _, tc := range tests {
		if got := Selected(tc.expr); !slices.Equal(got, tc.want) {
			t.Errorf("Selected(%q) = %v, want %v", tc.expr, got, tc.want)
		}
	}
}
