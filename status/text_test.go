package status_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/connectivity-exporter/connectivity_exporter/admin"
	"github.com/connectivity-exporter/connectivity_exporter/status"
)

func TestRenderTextGolden(t *testing.T) {
	healthy := []row{{"node-1", "RRRR"}, {"node-2", "RRRR"}, {"node-3", "RRRR"}}
	fiveHealthy := append(healthy, row{"node-4", "RRRR"}, row{"node-5", "RRRR"})
	for _, tc := range []struct {
		golden  string
		rows    []row
		verbose bool
		view    view
	}{
		{"healthy", healthy, false, view{}},
		{"healthy_verbose", healthy, true, view{}},
		{"a_isolated", []row{{"node-1", "RRRR"}, {"node-2", "TTTT"}, {"node-3", "TTTT"}, {"node-4", "TT"}, {"node-5", "RRRR"}}, false, view{}},
		{"b_node_down", []row{{"node-1", "RRRR"}, {"node-2", "RRRR"}, {"node-3", "TTTT"}}, false, view{}},
		{"c_endpoint_dropped", []row{{"node-1", "RRRR"}, {"node-2", "RRTT"}}, false, view{}},
		{"c_endpoint_dropped_verbose", []row{{"node-1", "RRRR"}, {"node-2", "RRTT"}}, true, view{}},
		{"d_icmp_filtered", []row{{"node-1", "RRRR"}, {"node-2", "TRTR"}, {"node-3", "RRRR"}}, false, view{}},
		{"e_exporter_not_running", []row{{"node-1", "RRRR"}, {"node-2", "RXRX"}, {"node-3", "RRRR"}}, false, view{}},
		{"f_port_blocked", []row{{"node-1", "RRRR"}, {"node-2", "RTRT"}, {"node-3", "RE"}}, false, view{}},
		{"no_health_ip", []row{{"node-1", "RRRR"}, {"node-2", "RR"}, {"node-3", "TT"}}, true, view{}},
		{"not_probed_yet", []row{{"node-1", "????"}, {"node-2", "????"}, {"node-3", "??"}}, false, view{}},
		{"transient_failure", []row{{"node-1", "RRRR"}, {"node-2", "RRtR"}, {"node-3", "RRRR"}}, false, view{}},
		{"first_failures", []row{{"node-1", "RRRR"}, {"node-2", "Rxff"}, {"node-3", "RRRR"}}, false, view{}},
		{"fresh_node_cut", []row{{"node-1", "RRRR"}, {"node-2", "RRRR"}, {"node-3", "tttt"}}, false, view{fresh: true}},
		{"fresh_healthy", healthy, false, view{fresh: true}},
		{"probe_peers", fiveHealthy, false, view{peers: 2}},
		{"probe_peers_verbose", fiveHealthy, true, view{peers: 2}},
		{"dual_stack_ipv6_endpoint_dropped", []row{{"node-1", "RRRR/RRRR"}, {"node-2", "RRRR/RRTT"}, {"node-3", "RRRR/RRRR"}}, false, view{}},
		{"partial", []row{{"node-1", "RRRR"}, {"node-2", "RPRR"}, {"node-3", "RRRR"}}, false, view{}},
		{"partial_and_endpoint_down", []row{{"node-1", "RRRR"}, {"node-2", "RPTT"}}, false, view{}},
		{"dual_stack_ipv6_partial", []row{{"node-1", "RRRR/RRRR"}, {"node-2", "RRRR/PPRR"}}, false, view{}},
		{"dual_stack_verbose", []row{{"node-1", "RRRR/RRRR"}, {"node-2", "RRRR/RR"}, {"node-3", "RR"}}, true, view{}},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			var buf bytes.Buffer
			if err := status.RenderText(&buf, scenarioWith(tc.view, tc.rows...), status.TextOptions{Verbose: tc.verbose}); err != nil {
				t.Fatal(err)
			}
			golden(t, "text_"+tc.golden, buf.Bytes())
		})
	}
}

func TestRenderTextOddReports(t *testing.T) {
	for _, tc := range []struct {
		golden string
		r      admin.Report
	}{
		{"no_nodes", admin.Report{ProbeTime: t0, LocalNode: "node-1", Nodes: []admin.NodeReport{}}},
		{"hostile_text", admin.Report{
			ProbeTime: t0.In(time.FixedZone("CET", 3600)),
			Nodes: []admin.NodeReport{{
				Name: "evil\x1b[2J\nnode",
				Host: &admin.PathReport{
					IP:   "198.18.0.9\r",
					ICMP: admin.ProbeReport{Status: "unreachable", Result: "error", Error: "bad\u202eecho"},
					HTTP: admin.ProbeReport{Status: "unknown", Result: "exploded", ConsecutiveFailures: 2},
				},
			}},
		}},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			var buf bytes.Buffer
			if err := status.RenderText(&buf, tc.r, status.TextOptions{Verbose: true}); err != nil {
				t.Fatal(err)
			}
			golden(t, "text_"+tc.golden, buf.Bytes())
		})
	}
}

func TestExitCode(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    admin.Report
		want int
	}{
		{"all healthy", scenario(row{"node-1", "RRRR"}, row{"node-2", "RR"}), 0},
		{"transient failure still reachable", scenario(row{"node-1", "RRRR"}, row{"node-2", "tRRt"}), 0},
		{"one path down", scenario(row{"node-1", "RRRR"}, row{"node-2", "RRRT"}), 1},
		{"not probed yet", scenario(row{"node-1", "RRRR"}, row{"node-2", "RR??"}), 1},
		{"no nodes", admin.Report{}, 0},
		{"node without paths", admin.Report{Nodes: []admin.NodeReport{{Name: "x"}}}, 1},
	} {
		if got := status.ExitCode(tc.r); got != tc.want {
			t.Errorf("%s: ExitCode = %d; want %d", tc.name, got, tc.want)
		}
	}
}
