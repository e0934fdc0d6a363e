package daemon_test

import (
	"encoding/json"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/connectivity-exporter/connectivity_exporter/admin"
	"github.com/connectivity-exporter/connectivity_exporter/daemon"
	"github.com/connectivity-exporter/connectivity_exporter/nodes"
	"github.com/connectivity-exporter/connectivity_exporter/plan"
	"github.com/connectivity-exporter/connectivity_exporter/prober"
)

// TestBuildReportDualStack: both families of a path are reported, the IPv4
// address in Host/Endpoint and the IPv6 one in DualStackHost/Endpoint, each
// with its own results.
func TestBuildReportDualStack(t *testing.T) {
	ip := netip.MustParseAddr
	list := []nodes.Node{
		{Name: "node-1", HostIP: ip("198.18.0.1")},
		{Name: "node-2", HostIP: ip("198.18.0.2"), DualStackHostIP: ip("2001:db8::2"),
			HealthIP: ip("198.19.0.2"), DualStackHealthIP: ip("2001:db8:1::2")},
		{Name: "node-3", HostIP: ip("2001:db8::3")},
	}
	states := []prober.PathState{
		state("node-2", prober.PathHost, prober.ProtocolICMP, "2001:db8::2", prober.ResultSuccess, time.Millisecond),
		state("node-2", prober.PathEndpoint, prober.ProtocolHTTP, "2001:db8:1::2", prober.ResultTimeout, 0),
		state("node-2", prober.PathEndpoint, prober.ProtocolHTTP, "198.19.0.2", prober.ResultSuccess, 2*time.Millisecond),
	}
	p, err := plan.New(plan.Config{Local: "node-1"}, list)
	if err != nil {
		t.Fatal(err)
	}
	got := daemon.BuildReport(p, states, daemon.ReportOptions{})
	unknown := admin.ProbeReport{Status: "unknown"}
	ok := func(rtt time.Duration) admin.ProbeReport {
		return admin.ProbeReport{Status: "reachable", Result: "success", Latency: admin.Duration(rtt), LastProbed: t0}
	}
	timedOut := admin.ProbeReport{Status: "unreachable", Result: "timeout", LastProbed: t0, Error: "connection timed out", ConsecutiveFailures: 3}
	want := []admin.NodeReport{
		{Name: "node-1", Local: true, Host: &admin.PathReport{IP: "198.18.0.1", ICMP: unknown, HTTP: unknown}},
		{Name: "node-2",
			Host:              &admin.PathReport{IP: "198.18.0.2", ICMP: unknown, HTTP: unknown},
			DualStackHost:     &admin.PathReport{IP: "2001:db8::2", ICMP: ok(time.Millisecond), HTTP: unknown},
			Endpoint:          &admin.PathReport{IP: "198.19.0.2", ICMP: unknown, HTTP: ok(2 * time.Millisecond)},
			DualStackEndpoint: &admin.PathReport{IP: "2001:db8:1::2", ICMP: unknown, HTTP: timedOut}},
		{Name: "node-3", Host: &admin.PathReport{IP: "2001:db8::3", ICMP: unknown, HTTP: unknown}},
	}
	if !reflect.DeepEqual(got.Nodes, want) {
		gj, _ := json.MarshalIndent(got.Nodes, "", " ")
		wj, _ := json.MarshalIndent(want, "", " ")
		t.Errorf("Nodes:\n got %s\nwant %s", gj, wj)
	}
	if n := got.Nodes[1]; len(n.HostPaths()) != 2 || n.HostPaths()[1].IP != "2001:db8::2" || len(n.EndpointPaths()) != 2 {
		t.Errorf("HostPaths %v, EndpointPaths %v; want both families of each", n.HostPaths(), n.EndpointPaths())
	}
	// A single-stack node's JSON has no dual-stack keys: older CLIs read it.
	single, err := json.Marshal(got.Nodes[0])
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(single), "dual_stack") {
		t.Errorf("single-stack node JSON %s has dual-stack keys", single)
	}
}
