package daemon_test

import (
	"fmt"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/connectivity-exporter/connectivity_exporter/admin"
	"github.com/connectivity-exporter/connectivity_exporter/daemon"
	"github.com/connectivity-exporter/connectivity_exporter/nodes"
	"github.com/connectivity-exporter/connectivity_exporter/plan"
	"github.com/connectivity-exporter/connectivity_exporter/prober"
)

var t0 = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

func state(peer string, path prober.Path, proto prober.Protocol, ip string, res prober.Result, rtt time.Duration) prober.PathState {
	st := prober.PathState{
		Target:     prober.Target{Peer: peer, Path: path, Protocol: proto, IP: netip.MustParseAddr(ip)},
		Status:     prober.StatusReachable,
		LastResult: res,
		LastRTT:    rtt,
		LastProbed: t0,
	}
	if res != prober.ResultSuccess {
		st.Status, st.LastError, st.ConsecutiveFailures = prober.StatusUnreachable, "connection timed out", 3
	}
	return st
}

func TestBuildReport(t *testing.T) {
	list := []nodes.Node{
		{Name: "node-3", HostIP: netip.MustParseAddr("198.18.0.3")},
		{Name: "node-2", HostIP: netip.MustParseAddr("198.18.0.2"), HealthIP: netip.MustParseAddr("198.19.0.2")},
		{Name: "node-1", HostIP: netip.MustParseAddr("198.18.0.1"), HealthIP: netip.MustParseAddr("198.19.0.1")},
	}
	local := time.FixedZone("local", 3600)
	states := []prober.PathState{
		state("node-2", prober.PathHost, prober.ProtocolICMP, "198.18.0.2", prober.ResultSuccess, 112*time.Microsecond),
		state("node-2", prober.PathHost, prober.ProtocolHTTP, "198.18.0.2", prober.ResultTimeout, 0),
		// node-2's health IP changed: the old address's result says nothing.
		state("node-2", prober.PathEndpoint, prober.ProtocolICMP, "198.19.0.99", prober.ResultSuccess, time.Millisecond),
		// node-9 left the node list.
		state("node-9", prober.PathHost, prober.ProtocolICMP, "198.18.0.9", prober.ResultSuccess, time.Millisecond),
	}
	states[0].LastProbed = t0.In(local)
	states[0].MTU = prober.MTUState{Status: prober.MTUStatusBlackhole, Expected: 1500, LastResult: prober.MTUResultLost,
		LastError: "no echo reply before the timeout", LastProbed: t0.In(local), ConsecutiveLosses: 2}
	// Not probed at full size yet: no MTU report.
	states[1].MTU = prober.MTUState{Status: prober.MTUStatusUnknown}

	p, err := plan.New(plan.Config{Local: "node-2"}, list)
	if err != nil {
		t.Fatal(err)
	}
	got := daemon.BuildReport(p, states, daemon.ReportOptions{ProbeTime: t0.In(local), Interval: 15 * time.Second, FailureThreshold: 3, HelloPort: 4240})

	unknown := admin.ProbeReport{Status: "unknown"}
	want := admin.Report{
		ProbeTime:        t0,
		Interval:         admin.Duration(15 * time.Second),
		HelloPort:        4240,
		FailureThreshold: 3,
		LocalNode:        "node-2",
		Nodes: []admin.NodeReport{
			{
				Name: "node-2", Local: true,
				Host: &admin.PathReport{
					IP: "198.18.0.2",
					ICMP: admin.ProbeReport{Status: "reachable", Result: "success", Latency: admin.Duration(112 * time.Microsecond), LastProbed: t0,
						MTU: &admin.MTUReport{Status: "blackhole", Expected: 1500, Result: "lost", LastProbed: t0, Error: "no echo reply before the timeout", ConsecutiveLosses: 2}},
					HTTP: admin.ProbeReport{Status: "unreachable", Result: "timeout", LastProbed: t0, Error: "connection timed out", ConsecutiveFailures: 3},
				},
				Endpoint: &admin.PathReport{IP: "198.19.0.2", ICMP: unknown, HTTP: unknown},
			},
			{
				Name:     "node-1",
				Host:     &admin.PathReport{IP: "198.18.0.1", ICMP: unknown, HTTP: unknown},
				Endpoint: &admin.PathReport{IP: "198.19.0.1", ICMP: unknown, HTTP: unknown},
			},
			{Name: "node-3", Host: &admin.PathReport{IP: "198.18.0.3", ICMP: unknown, HTTP: unknown}},
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("BuildReport:\n got %+v\nwant %+v", got, want)
	}
}

func TestBuildReportEmpty(t *testing.T) {
	got := daemon.BuildReport(plan.Empty(plan.Config{Local: "node-1", Passive: true}), nil, daemon.ReportOptions{Interval: time.Second})
	if got.Nodes == nil || len(got.Nodes) != 0 || !got.ProbeTime.IsZero() {
		t.Errorf("BuildReport of nothing = %+v; want an empty, non-nil node list and a zero probe time", got)
	}
}

func TestLatestProbe(t *testing.T) {
	for _, tc := range []struct {
		name   string
		states []prober.PathState
		want   time.Time
	}{
		{"none", nil, time.Time{}},
		{"never probed", []prober.PathState{{}}, time.Time{}},
		{"newest wins", []prober.PathState{{LastProbed: t0}, {LastProbed: t0.Add(time.Second)}, {}}, t0.Add(time.Second)},
	} {
		if got := daemon.LatestProbe(tc.states); !got.Equal(tc.want) {
			t.Errorf("%s: LatestProbe = %v; want %v", tc.name, got, tc.want)
		}
	}
}

func TestNewCycleInfo(t *testing.T) {
	got := daemon.NewCycleInfo(prober.Cycle{Start: t0.In(time.FixedZone("x", 7200)), Duration: 14 * time.Second, Targets: 12})
	want := admin.CycleInfo{Start: t0, Duration: admin.Duration(14 * time.Second), Targets: 12}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("NewCycleInfo = %+v; want %+v", got, want)
	}
	if got := daemon.NewCycleInfo(prober.Cycle{}); !got.Start.IsZero() {
		t.Errorf("NewCycleInfo(zero).Start = %v; want zero", got.Start)
	}
}

// Nodes outside the --probe.peers choice are listed, say why, and carry no
// paths: whatever the store holds for them (an older plan) is left out.
func TestBuildReportPeerLimit(t *testing.T) {
	var list []nodes.Node
	for i := 1; i <= 5; i++ {
		list = append(list, nodes.Node{Name: fmt.Sprintf("node-%d", i), HostIP: netip.AddrFrom4([4]byte{198, 18, 0, byte(i)})})
	}
	p, err := plan.New(plan.Config{Local: "node-1", PeerLimit: 2}, list)
	if err != nil {
		t.Fatal(err)
	}
	var states []prober.PathState
	for _, n := range list { // an older plan probed every node
		states = append(states, state(n.Name, prober.PathHost, prober.ProtocolICMP, n.HostIP.String(), prober.ResultSuccess, time.Millisecond))
	}
	r := daemon.BuildReport(p, states, daemon.ReportOptions{})
	if r.ProbePeers != 2 || len(r.Nodes) != 5 {
		t.Fatalf("ProbePeers %d, %d nodes; want 2 and 5", r.ProbePeers, len(r.Nodes))
	}
	probed := 0
	for _, n := range r.Nodes {
		switch {
		case n.NotProbed == "":
			probed++
			if n.Host == nil || n.Host.ICMP.Status != "reachable" {
				t.Errorf("%s is probed: host path %+v; want its state", n.Name, n.Host)
			}
		case n.NotProbed != "outside its 2 peers" || n.Host != nil || n.Endpoint != nil:
			t.Errorf("%s: NotProbed %q, host %+v, endpoint %+v; want the reason and no paths", n.Name, n.NotProbed, n.Host, n.Endpoint)
		}
	}
	if probed != 3 || r.Nodes[0].Name != "node-1" || r.Nodes[0].NotProbed != "" {
		t.Errorf("%d probed nodes, first %+v; want 3, the local node first and probed", probed, r.Nodes[0])
	}
}

// A fresh probe's failure counts at once; paths not probed since the fresh
// probe started keep the threshold's view.
func TestBuildReportFresh(t *testing.T) {
	list := []nodes.Node{{Name: "node-1", HostIP: netip.MustParseAddr("198.18.0.1")}}
	p, err := plan.New(plan.Config{Local: "node-1"}, list)
	if err != nil {
		t.Fatal(err)
	}
	below := state("node-1", prober.PathHost, prober.ProtocolICMP, "198.18.0.1", prober.ResultTimeout, 0)
	below.Status, below.ConsecutiveFailures = prober.StatusReachable, 1 // one failure, threshold 3
	recovered := state("node-1", prober.PathHost, prober.ProtocolHTTP, "198.18.0.1", prober.ResultSuccess, time.Millisecond)
	recovered.Status = prober.StatusUnknown // never reached the threshold's verdict yet
	states := []prober.PathState{below, recovered}
	for _, tc := range []struct {
		name       string
		opts       daemon.ReportOptions
		icmp, http string
	}{
		{"threshold view", daemon.ReportOptions{}, "reachable", "unknown"},
		{"fresh", daemon.ReportOptions{Fresh: true, FreshSince: t0}, "unreachable", "reachable"},
		{"fresh, probed before it started", daemon.ReportOptions{Fresh: true, FreshSince: t0.Add(time.Second)}, "reachable", "unknown"},
	} {
		r := daemon.BuildReport(p, states, tc.opts)
		h := r.Nodes[0].Host
		if h.ICMP.Status != tc.icmp || h.HTTP.Status != tc.http || r.Fresh != tc.opts.Fresh {
			t.Errorf("%s: ICMP %s, HTTP %s, Fresh %v; want %s, %s, %v", tc.name, h.ICMP.Status, h.HTTP.Status, r.Fresh, tc.icmp, tc.http, tc.opts.Fresh)
		}
	}
}
