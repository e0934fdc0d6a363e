package collector

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// The MTU series follow --metrics.per-peer as the other per-peer series do,
// and the aggregate counts every path whatever the mode.
func TestMTUSeriesPerPeerMode(t *testing.T) {
	tests := []struct {
		mode     PerPeerMode
		want     []string // per-peer MTU series expected, as peer/path/protocol/status
		notWant  []string
		pathMTUs int
	}{
		{PerPeerAll, []string{"node-1/host/icmp/ok", "node-1/host/http/reduced", "node-2/host/icmp/blackhole"}, nil, 2},
		{PerPeerFailing, []string{"node-1/host/http/reduced", "node-2/host/icmp/blackhole"}, []string{"node-1/host/icmp/ok"}, 1},
		{PerPeerNone, nil, []string{"node-1/host/icmp/ok", "node-1/host/http/reduced", "node-2/host/icmp/blackhole"}, 0},
	}
	for _, tc := range tests {
		t.Run(string(tc.mode), func(t *testing.T) {
			reg, _ := gather(t, baseOptions(tc.mode))
			text := string(textOf(t, reg))
			has := func(s string) bool {
				p := strings.Split(s, "/")
				return strings.Contains(text, `connectivity_peer_mtu_status{family="ipv4",path="`+p[1]+`",peer="`+p[0]+`",protocol="`+p[2]+`",source="node-1",status="`+p[3]+`"} 1`)
			}
			for _, s := range tc.want {
				if !has(s) {
					t.Errorf("no MTU status series %s", s)
				}
			}
			for _, s := range tc.notWant {
				if has(s) {
					t.Errorf("MTU status series %s in mode %s", s, tc.mode)
				}
			}
			if n := strings.Count(text, "\nconnectivity_peer_path_mtu_bytes{"); n != tc.pathMTUs {
				t.Errorf("%d path MTU series, want %d", n, tc.pathMTUs)
			}
			for _, agg := range []string{
				`connectivity_mtu_peers{family="ipv4",path="host",protocol="icmp",source="node-1",status="blackhole"} 1`,
				`connectivity_mtu_peers{family="ipv4",path="host",protocol="http",source="node-1",status="reduced"} 1`,
				`connectivity_mtu_peers{family="ipv4",path="endpoint",protocol="icmp",source="node-1",status="unknown"} 1`,
				`connectivity_mtu_probes_total{family="ipv4",path="host",protocol="icmp",result="lost",source="node-1"} 2`,
				`connectivity_mtu_probes_total{family="ipv4",path="endpoint",protocol="http",result="ok",source="node-1"} 0`,
			} {
				if !strings.Contains(text, agg) {
					t.Errorf("missing %s", agg)
				}
			}
			if n := testutil.CollectAndCount(reg, "connectivity_probe_mtu_every"); n != 1 {
				t.Errorf("%d connectivity_probe_mtu_every series, want 1", n)
			}
		})
	}
}
