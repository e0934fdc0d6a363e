package collector

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// The flows' series exist only with flows (--probe.flows above 1); the
// per-peer count follows --metrics.per-peer, the aggregates do not.
func TestFlowSeries(t *testing.T) {
	const partialPeer = `connectivity_peer_flows_failing{family="ipv4",path="endpoint",peer="node-2",protocol="http",source="node-1"} 2`
	const healthyPeer = `connectivity_peer_flows_failing{family="ipv4",path="host",peer="node-1",protocol="http",source="node-1"} 0`
	const partialAgg = `connectivity_partial_peers{family="ipv4",path="endpoint",protocol="http",source="node-1"} 1`
	const failingAgg = `connectivity_flows{family="ipv4",path="endpoint",protocol="http",source="node-1",status="failing"} 2`
	for _, tc := range []struct {
		name    string
		mode    PerPeerMode
		flows   int
		want    []string
		notWant []string
	}{
		{"all", PerPeerAll, 8, []string{partialPeer, healthyPeer, partialAgg, failingAgg}, nil},
		{"failing", PerPeerFailing, 8, []string{partialPeer, partialAgg, failingAgg}, []string{healthyPeer}},
		{"none", PerPeerNone, 8, []string{partialAgg, failingAgg}, []string{partialPeer, healthyPeer}},
		{"one flow", PerPeerAll, 1, nil, []string{partialPeer, healthyPeer, partialAgg, failingAgg, "connectivity_probe_flows"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := baseOptions(tc.mode)
			o.Flows = tc.flows
			reg, _ := gather(t, o)
			text := string(textOf(t, reg))
			for _, s := range tc.want {
				if !strings.Contains(text, s) {
					t.Errorf("missing %s", s)
				}
			}
			for _, s := range tc.notWant {
				if strings.Contains(text, s) {
					t.Errorf("unexpected %s", s)
				}
			}
			if tc.flows > 1 {
				if n := testutil.CollectAndCount(reg, "connectivity_peer_flows_failing"); tc.mode == PerPeerNone && n != 0 {
					t.Errorf("%d per-peer flow series in mode none", n)
				}
			}
		})
	}
}
