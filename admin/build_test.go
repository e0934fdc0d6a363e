package admin_test

import (
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/connectivity-exporter/connectivity_exporter/admin"
	"github.com/connectivity-exporter/connectivity_exporter/nodes"
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

	got := admin.BuildReport("node-2", list, states, t0.In(local), 15*time.Second)

	unknown := admin.ProbeReport{Status: "unknown"}
	want := admin.Report{
		ProbeTime: t0,
		Interval:  admin.Duration(15 * time.Second),
		LocalNode: "node-2",
		Nodes: []admin.NodeReport{
			{
				Name: "node-2", Local: true,
				Host: &admin.PathReport{
					IP:   "198.18.0.2",
					ICMP: admin.ProbeReport{Status: "reachable", Result: "success", Latency: admin.Duration(112 * time.Microsecond), LastProbed: t0},
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
	got := admin.BuildReport("node-1", nil, nil, time.Time{}, time.Second)
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
		if got := admin.LatestProbe(tc.states); !got.Equal(tc.want) {
			t.Errorf("%s: LatestProbe = %v; want %v", tc.name, got, tc.want)
		}
	}
}

func TestNewCycleInfo(t *testing.T) {
	got := admin.NewCycleInfo(prober.Cycle{Start: t0.In(time.FixedZone("x", 7200)), Duration: 14 * time.Second, Targets: 12})
	want := admin.CycleInfo{Start: t0, Duration: admin.Duration(14 * time.Second), Targets: 12}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("NewCycleInfo = %+v; want %+v", got, want)
	}
	if got := admin.NewCycleInfo(prober.Cycle{}); !got.Start.IsZero() {
		t.Errorf("NewCycleInfo(zero).Start = %v; want zero", got.Start)
	}
}
