package collector

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/connectivity-exporter/connectivity_exporter/prober"
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

// staticStates is a StateSource of fixed states.
type staticStates []prober.PathState

func (s staticStates) Snapshot() []prober.PathState { return s }

// A path probed over flows that is a black hole says on how many of its
// flows; the count exists only while it is one, and never for a path
// without flows (no flow label: cardinality).
func TestMTUBlackholeFlowsSeries(t *testing.T) {
	path := func(peer string, status prober.MTUStatus, flows int) prober.PathState {
		return prober.PathState{
			Target: prober.Target{Peer: peer, Path: prober.PathHost, Protocol: prober.ProtocolHTTP, IP: netip.MustParseAddr("198.18.0.1")},
			Status: prober.StatusReachable, MTU: prober.MTUState{Status: status, Expected: 1500, BlackholeFlows: flows},
		}
	}
	for _, tc := range []struct {
		name  string
		state prober.PathState
		mode  PerPeerMode
		want  string // the series' value; "" for none
	}{
		{"two flows black-holed", path("node-2", prober.MTUStatusBlackhole, 2), PerPeerFailing, "2"},
		{"all mode too", path("node-2", prober.MTUStatusBlackhole, 1), PerPeerAll, "1"},
		{"no per-peer series at all", path("node-2", prober.MTUStatusBlackhole, 2), PerPeerNone, ""},
		{"a black hole without flows", path("node-2", prober.MTUStatusBlackhole, 0), PerPeerAll, ""},
		{"not a black hole", path("node-2", prober.MTUStatusOK, 0), PerPeerAll, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			reg.MustRegister(newMTUCollector(prometheus.Labels{"source": "node-1"}, staticStates{tc.state}, func() PerPeerMode { return tc.mode }))
			text := string(textOf(t, reg))
			series := `connectivity_peer_mtu_blackhole_flows{family="ipv4",path="host",peer="node-2",protocol="http",source="node-1"} `
			got := strings.Count(text, "\n"+series)
			switch {
			case tc.want == "" && got != 0:
				t.Errorf("unexpected series:\n%s", text)
			case tc.want != "" && !strings.Contains(text, series+tc.want+"\n"):
				t.Errorf("no %s%s in:\n%s", series, tc.want, text)
			}
		})
	}
}
