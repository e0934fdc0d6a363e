package status_test

import (
	"maps"
	"reflect"
	"testing"

	"github.com/connectivity-exporter/connectivity_exporter/admin"
	"github.com/connectivity-exporter/connectivity_exporter/exitcode"
	"github.com/connectivity-exporter/connectivity_exporter/status"
)

const (
	isolatedPeer = "unreachable, probably because this node is isolated"
	forwardDrop  = "traffic is dropped inside node-2 before it reaches endpoints: check forwarding and firewall there (e.g. a FORWARD chain with policy DROP), and the health endpoint"
)

func TestDiagnose(t *testing.T) {
	for _, tc := range []struct {
		name string
		rows []row
		want map[string]string
	}{
		{"all healthy", []row{{"node-1", "RRRR"}, {"node-2", "RRRR"}, {"node-3", "RR"}}, map[string]string{}},
		{"transient failure is not diagnosed", []row{{"node-1", "RRRR"}, {"node-2", "RtRt"}}, map[string]string{}},
		{"partial path: neither up nor down", []row{{"node-1", "RRRR"}, {"node-2", "RPRR"}}, map[string]string{
			"node-2": "2 of 8 flows to node-2 fail on host HTTP: one member of an equal-cost group drops (the flows that fail keep their route; `status -o json` names them)",
		}},
		{"partial paths are no isolation", []row{{"node-1", "RRRR"}, {"node-2", "PPRR"}, {"node-3", "PPRR"}}, map[string]string{
			"node-2": "2 of 8 flows to node-2 fail on host ICMP, 2 of 8 flows to node-2 fail on host HTTP: one member of an equal-cost group drops (the flows that fail keep their route; `status -o json` names them)",
			"node-3": "2 of 8 flows to node-3 fail on host ICMP, 2 of 8 flows to node-3 fail on host HTTP: one member of an equal-cost group drops (the flows that fail keep their route; `status -o json` names them)",
		}},
		{
			"(a) isolated: 3 of 4 peers",
			[]row{{"node-1", "RRRR"}, {"node-2", "TTTT"}, {"node-3", "TTTT"}, {"node-4", "TT"}, {"node-5", "RRRR"}},
			map[string]string{
				"node-1": "this node is isolated: 3/4 peers unreachable from here; check this node's uplink, routes and firewall",
				"node-2": isolatedPeer, "node-3": isolatedPeer, "node-4": isolatedPeer,
			},
		},
		{
			"(a) isolated: exactly half, endpoints not needed",
			[]row{{"node-1", "RRRR"}, {"node-2", "TT??"}, {"node-3", "TTRR"}, {"node-4", "RRRR"}, {"node-5", "RRRR"}},
			map[string]string{
				"node-1": "this node is isolated: 2/4 peers unreachable from here; check this node's uplink, routes and firewall",
				"node-2": isolatedPeer, "node-3": isolatedPeer,
			},
		},
		{
			"(a) not isolated: one peer is not most",
			[]row{{"node-1", "RRRR"}, {"node-2", "TTTT"}, {"node-3", "RRRR"}},
			map[string]string{"node-2": "node-2 is down or cut off: none of its 4 probed paths answers"},
		},
		{
			"(a) not isolated: below half",
			[]row{{"node-1", "RRRR"}, {"node-2", "TTTT"}, {"node-3", "TT"}, {"node-4", "RRRR"}, {"node-5", "RRRR"}, {"node-6", "RRRR"}},
			map[string]string{
				"node-2": "node-2 is down or cut off: none of its 4 probed paths answers",
				"node-3": "node-3 is down or cut off: none of its 2 probed paths answers",
			},
		},
		{
			"(a) not isolated: one host path answers",
			[]row{{"node-1", "RRRR"}, {"node-2", "RTTT"}, {"node-3", "RTTT"}},
			map[string]string{
				"node-2": "TCP port 4240 blocked or the exporter hangs on node-2",
				"node-3": "TCP port 4240 blocked or the exporter hangs on node-3",
			},
		},
		{"(b) down", []row{{"node-1", "RRRR"}, {"node-2", "TTTT"}}, map[string]string{"node-2": "node-2 is down or cut off: none of its 4 probed paths answers"}},
		{"(b) down, endpoint not probed yet", []row{{"node-1", "RRRR"}, {"node-2", "TT??"}}, map[string]string{"node-2": "node-2 is down or cut off: none of its 2 probed paths answers"}},
		{"(b) down, errors", []row{{"node-1", "RRRR"}, {"node-2", "ETET"}}, map[string]string{"node-2": "node-2 is down or cut off: none of its 4 probed paths answers"}},
		{"(c) endpoint dropped", []row{{"node-1", "RRRR"}, {"node-2", "RRTT"}}, map[string]string{"node-2": forwardDrop}},
		{"(c) endpoint dropped, host ICMP filtered", []row{{"node-1", "RRRR"}, {"node-2", "TRTT"}}, map[string]string{"node-2": forwardDrop}},
		{"(c) endpoint dropped, one endpoint path unknown", []row{{"node-1", "RRRR"}, {"node-2", "RRT?"}}, map[string]string{"node-2": forwardDrop}},
		{
			"(c) on the local node",
			[]row{{"node-1", "RRTT"}, {"node-2", "RRRR"}},
			map[string]string{"node-1": "traffic is dropped inside node-1 before it reaches endpoints: check forwarding and firewall there (e.g. a FORWARD chain with policy DROP), and the health endpoint"},
		},
		{"(d) ICMP filtered everywhere", []row{{"node-1", "RRRR"}, {"node-2", "TRTR"}}, map[string]string{"node-2": "ICMP is filtered on the path to node-2; TCP works"}},
		{"(d) ICMP filtered to the host", []row{{"node-1", "RRRR"}, {"node-2", "TRRR"}}, map[string]string{"node-2": "ICMP is filtered on the path to node-2; TCP works"}},
		{"(d) ICMP filtered, no health IP", []row{{"node-1", "RRRR"}, {"node-2", "ER"}}, map[string]string{"node-2": "ICMP is filtered on the path to node-2; TCP works"}},
		{"(e) exporter not running", []row{{"node-1", "RRRR"}, {"node-2", "RXRX"}}, map[string]string{"node-2": "the exporter is not running on node-2 (ICMP answers, HTTP /hello refused)"}},
		{"(e) exporter not running, endpoint gone", []row{{"node-1", "RRRR"}, {"node-2", "RXTT"}}, map[string]string{"node-2": "the exporter is not running on node-2 (ICMP answers, HTTP /hello refused)"}},
		{"(e) exporter not running, ICMP filtered", []row{{"node-1", "RRRR"}, {"node-2", "TXTT"}}, map[string]string{"node-2": "the exporter is not running on node-2 (HTTP /hello refused) and ICMP to it gets no answer"}},
		{"(f) port blocked", []row{{"node-1", "RRRR"}, {"node-2", "RTRT"}}, map[string]string{"node-2": "TCP port 4240 blocked or the exporter hangs on node-2"}},
		{"(f) exporter errors", []row{{"node-1", "RRRR"}, {"node-2", "RE"}}, map[string]string{"node-2": "TCP port 4240 blocked or the exporter hangs on node-2"}},
		{
			"endpoint HTTP refused only",
			[]row{{"node-1", "RRRR"}, {"node-2", "RRRX"}},
			map[string]string{"node-2": "the health endpoint on node-2 answers ICMP but refuses HTTP: its /hello responder is not running"},
		},
		{
			"endpoint HTTP timeout only",
			[]row{{"node-1", "RRRR"}, {"node-2", "RRRT"}},
			map[string]string{"node-2": "the health endpoint on node-2 answers ICMP but not HTTP: its /hello responder hangs or TCP port 4240 is filtered towards endpoints"},
		},
		{"other pattern", []row{{"node-1", "RRRR"}, {"node-2", "TRRT"}}, map[string]string{"node-2": "unreachable on host ICMP (timed out), endpoint HTTP (timed out)"}},
		{"refused somewhere, silence elsewhere", []row{{"node-1", "RRRR"}, {"node-2", "TTTX"}}, map[string]string{"node-2": "unreachable on host ICMP (timed out), host HTTP (timed out), endpoint ICMP (timed out), endpoint HTTP (refused)"}},
		{"not probed yet", []row{{"node-1", "????"}, {"node-2", "??"}}, map[string]string{"node-1": "not probed yet", "node-2": "not probed yet"}},
		{"partly probed", []row{{"node-1", "RRRR"}, {"node-2", "RR??"}}, map[string]string{"node-2": "not probed yet on 2 of 4 paths"}},
		{"first failures are failures", []row{{"node-1", "RRRR"}, {"node-2", "ffff"}}, map[string]string{"node-2": "first failures, below the failure threshold so far: node-2 is down or cut off: none of its 4 probed paths answers"}},
		{"first failures, one not probed yet", []row{{"node-1", "RRRR"}, {"node-2", "Rxf?"}}, map[string]string{"node-2": "first failures, below the failure threshold so far: the exporter is not running on node-2 (ICMP answers, HTTP /hello refused)"}},
		{"first failure next to a verdict", []row{{"node-1", "RRRR"}, {"node-2", "RTfR"}}, map[string]string{"node-2": "TCP port 4240 blocked or the exporter hangs on node-2"}},
		// HTTP is still reachable but its latest probe failed: "TCP works" would contradict that line.
		{"TCP works only when its latest probe did", []row{{"node-1", "RRRR"}, {"node-2", "TtRR"}}, map[string]string{"node-2": "unreachable on host ICMP (timed out)"}},
		{"ICMP answers only when its latest probe did", []row{{"node-1", "RRRR"}, {"node-2", "tXRR"}}, map[string]string{"node-2": "the exporter is not running on node-2 (HTTP /hello refused)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := status.Diagnose(scenario(tc.rows...))
			if !maps.Equal(got, tc.want) {
				t.Errorf("Diagnose:\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

// status --probe: a failed fresh probe is a failure at once, and the
// diagnosis reads it, not the threshold's view.
func TestDiagnoseFresh(t *testing.T) {
	for _, tc := range []struct {
		name string
		rows []row
		want map[string]string
	}{
		{"cut off just now", []row{{"node-1", "RRRR"}, {"node-2", "RRRR"}, {"node-3", "tttt"}}, map[string]string{"node-3": "node-3 is down or cut off: none of its 4 probed paths answers"}},
		{"HTTP timed out just now: not ICMP filtering", []row{{"node-1", "RRRR"}, {"node-2", "Ttft"}}, map[string]string{"node-2": "node-2 is down or cut off: none of its 4 probed paths answers"}},
		{"endpoint dropped just now", []row{{"node-1", "RRRR"}, {"node-2", "RRtt"}}, map[string]string{"node-2": forwardDrop}},
		{"healthy", []row{{"node-1", "RRRR"}, {"node-2", "RRRR"}}, map[string]string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := scenarioWith(view{fresh: true}, tc.rows...)
			if got := status.Diagnose(r); !maps.Equal(got, tc.want) {
				t.Errorf("Diagnose:\n got %q\nwant %q", got, tc.want)
			}
			wantCode := exitcode.OK
			if len(tc.want) > 0 {
				wantCode = exitcode.Unhealthy
			}
			if got := status.ExitCode(r); got != wantCode {
				t.Errorf("ExitCode = %d; want %d", got, wantCode)
			}
		})
	}
}

// Nodes outside --probe.peers are neither healthy nor unhealthy, and their
// diagnosis says why they are not probed.
func TestDiagnoseProbePeers(t *testing.T) {
	rows := []row{{"node-1", "RRRR"}, {"node-2", "RRRR"}, {"node-3", "RRRR"}, {"node-4", "RRRR"}, {"node-5", "RRRR"}}
	r := scenarioWith(view{peers: 2}, rows...)
	got := status.Diagnose(r)
	notProbed := 0
	for _, n := range r.Nodes {
		if n.NotProbed == "" {
			continue
		}
		notProbed++
		if got[n.Name] != "not probed from this node (outside its 2 peers)" {
			t.Errorf("%s: diagnosis %q", n.Name, got[n.Name])
		}
	}
	if notProbed != 2 || len(got) != 2 {
		t.Errorf("%d nodes not probed, diagnoses %q; want 2 and only theirs", notProbed, got)
	}
	if code := status.ExitCode(r); code != exitcode.OK {
		t.Errorf("ExitCode = %d; want %d: nodes not probed are not unhealthy", code, exitcode.OK)
	}
}

// The port in a diagnosis is the one the daemon probes, not the default.
func TestDiagnoseNamesTheProbedPort(t *testing.T) {
	for _, tc := range []struct {
		port int
		rows []row
		want string
	}{
		{8080, []row{{"node-1", "RRRR"}, {"node-2", "RTRT"}}, "TCP port 8080 blocked or the exporter hangs on node-2"},
		{8080, []row{{"node-1", "RRRR"}, {"node-2", "RRRT"}}, "the health endpoint on node-2 answers ICMP but not HTTP: its /hello responder hangs or TCP port 8080 is filtered towards endpoints"},
		{0, []row{{"node-1", "RRRR"}, {"node-2", "RTRT"}}, "TCP port 4240 blocked or the exporter hangs on node-2"}, // a daemon that does not say
	} {
		r := scenario(tc.rows...)
		r.HelloPort = tc.port
		if got := status.Diagnose(r)["node-2"]; got != tc.want {
			t.Errorf("port %d: got %q, want %q", tc.port, got, tc.want)
		}
	}
}

func TestWithDiagnosis(t *testing.T) {
	r := scenario(row{"node-1", "RRRR"}, row{"node-2", "RRTT"})
	r.Nodes[0].Diagnosis = "stale"
	before := r.Nodes[0].Diagnosis
	got := status.WithDiagnosis(r)
	if r.Nodes[0].Diagnosis != before {
		t.Error("WithDiagnosis changed its argument's nodes")
	}
	want := []string{"", forwardDrop}
	var have []string
	for _, n := range got.Nodes {
		have = append(have, n.Diagnosis)
	}
	if !reflect.DeepEqual(have, want) {
		t.Errorf("diagnoses = %q; want %q", have, want)
	}
}

// Reports that did not come from BuildReport (JSON from elsewhere) must not
// crash the diagnosis.
func TestDiagnoseOddReports(t *testing.T) {
	for _, r := range []admin.Report{
		{},
		{Nodes: []admin.NodeReport{{Name: "a"}}},
		{Nodes: []admin.NodeReport{{Name: "a", Endpoint: &admin.PathReport{ICMP: admin.ProbeReport{Status: "unreachable"}, HTTP: admin.ProbeReport{Status: "reachable"}}}}},
		{Nodes: []admin.NodeReport{{Name: "a", Host: &admin.PathReport{ICMP: admin.ProbeReport{Status: "weird"}}}}},
		{LocalNode: "x", Nodes: []admin.NodeReport{{Name: "a", Host: &admin.PathReport{ICMP: admin.ProbeReport{Status: "unreachable"}, HTTP: admin.ProbeReport{Status: "unreachable"}}}, {Name: "b", Host: &admin.PathReport{ICMP: admin.ProbeReport{Status: "unreachable"}, HTTP: admin.ProbeReport{Status: "unreachable"}}}}},
	} {
		status.Diagnose(r)
	}
}
