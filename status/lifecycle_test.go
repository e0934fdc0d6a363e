package status_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/connectivity-exporter/connectivity_exporter/admin"
	"github.com/connectivity-exporter/connectivity_exporter/exitcode"
	"github.com/connectivity-exporter/connectivity_exporter/status"
)

// What status says, and exits with, of a daemon without a node list, of
// nodes leaving the cluster and of NotReady nodes.
func TestStatusLifecycle(t *testing.T) {
	ok := admin.ProbeReport{Status: "reachable", Result: "success", LastProbed: t0, Latency: admin.Duration(time.Millisecond)}
	okPath := func(ip string) *admin.PathReport { return &admin.PathReport{IP: ip, ICMP: ok, HTTP: ok} }
	local := admin.NodeReport{Name: "node-1", Local: true, Host: okPath("198.18.0.1")}
	for _, tc := range []struct {
		name     string
		report   admin.Report
		verbose  bool
		want     []string
		wantExit int
	}{
		{
			name:     "no node list yet",
			report:   admin.Report{LocalNode: "node-1", NoNodeList: true},
			want:     []string{status.NoNodeListText, "Cluster health:   unknown (no node list yet)"},
			wantExit: exitcode.Unhealthy,
		},
		{
			name: "a node leaving is counted apart, not as unhealthy",
			report: admin.Report{ProbeTime: t0, LocalNode: "node-1", Nodes: []admin.NodeReport{local,
				{Name: "node-2", Leaving: "autoscaler", NotProbed: "leaving: being removed by the cluster autoscaler"}}},
			want:     []string{"1 node leaving the cluster, not probed; --verbose lists them", "Cluster health:   1/1 reachable (1 node leaving the cluster, not counted)"},
			wantExit: exitcode.OK,
		},
		{
			name: "verbose names the leaving node and why",
			report: admin.Report{ProbeTime: t0, LocalNode: "node-1", Nodes: []admin.NodeReport{local,
				{Name: "node-2", Leaving: "out-of-service", NotProbed: "leaving: out of service"}}},
			verbose:  true,
			want:     []string{"node-2:\n    Leaving (out of service): not probed, so that its departure alerts no one"},
			wantExit: exitcode.OK,
		},
		{
			name: "a NotReady node is shown, with how long, though its paths work",
			report: admin.Report{ProbeTime: t0, LocalNode: "node-1", Nodes: []admin.NodeReport{local,
				{Name: "node-2", NotReady: true, NotReadySince: t0.Add(-50 * time.Second), Host: okPath("198.18.0.2")}}},
			want:     []string{"node-2:\n    Kubernetes: NotReady for 50s; still probed", "Cluster health:   2/2 reachable\n"},
			wantExit: exitcode.OK,
		},
		{
			name: "this node leaving is still probed, and says so",
			report: admin.Report{ProbeTime: t0, LocalNode: "node-1", Nodes: []admin.NodeReport{
				{Name: "node-1", Local: true, Leaving: "cordoned", Host: okPath("198.18.0.1")}}},
			want:     []string{"node-1 (localhost):\n    Leaving (cordoned)\n"},
			wantExit: exitcode.OK,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := status.RenderText(&out, tc.report, status.TextOptions{Verbose: tc.verbose}); err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
			if code := status.ExitCode(tc.report); code != tc.wantExit {
				t.Errorf("exit %d, want %d", code, tc.wantExit)
			}
		})
	}
}
