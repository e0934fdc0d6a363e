package collector

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/connectivity-exporter/connectivity_exporter/prober"
)

var (
	ip2v6 = netip.MustParseAddr("2001:db8::2")
	hp2v6 = netip.MustParseAddr("2001:db8:1::2")
)

// dualStackScenario: node-2 is dual stack; its IPv6 endpoint paths fail
// (an IPv6-only FORWARD drop), everything else is fine.
func dualStackScenario() (fixedStates, []struct {
	s prober.PathState
	o prober.Outcome
}) {
	states := fixedStates{
		st("node-2", prober.PathHost, prober.ProtocolICMP, ip2, prober.StatusReachable, 0),
		st("node-2", prober.PathHost, prober.ProtocolICMP, ip2v6, prober.StatusReachable, 0),
		st("node-2", prober.PathEndpoint, prober.ProtocolICMP, hp2, prober.StatusReachable, 0),
		st("node-2", prober.PathEndpoint, prober.ProtocolICMP, hp2v6, prober.StatusUnreachable, 3),
		st("node-2", prober.PathEndpoint, prober.ProtocolHTTP, hp2, prober.StatusReachable, 0),
		st("node-2", prober.PathEndpoint, prober.ProtocolHTTP, hp2v6, prober.StatusUnreachable, 3),
	}
	ok := prober.Outcome{Result: prober.ResultSuccess, RTT: 100 * time.Microsecond}
	lost := prober.Outcome{Result: prober.ResultTimeout, Err: errors.New("no echo reply")}
	probes := []struct {
		s prober.PathState
		o prober.Outcome
	}{{states[0], ok}, {states[1], ok}, {states[2], ok}, {states[3], lost}, {states[4], ok}, {states[5], lost}}
	return states, probes
}

func gatherDualStack(t *testing.T, opts Options, families []prober.Family) (*prometheus.Registry, *Metrics) {
	t.Helper()
	states, probes := dualStackScenario()
	reg := prometheus.NewRegistry()
	m, err := New(reg, opts, states, BuildInfo{Version: "1.2.3", Revision: "abc", GoVersion: "go1.26", Branch: "main", GoOS: "linux", GoArch: "amd64", Tags: "unknown"})
	if err != nil {
		t.Fatal(err)
	}
	m.SetNodes(2)
	m.SetPeerZones(map[string]string{"node-1": "zone-a", "node-2": "zone-b"})
	m.SetFamilies(families)
	for _, p := range probes {
		m.ProbeDone(p.s, p.o)
	}
	return reg, m
}

func TestDualStackGolden(t *testing.T) {
	reg, _ := gatherDualStack(t, baseOptions(PerPeerFailing), []prober.Family{prober.FamilyIPv4, prober.FamilyIPv6})
	compareGolden(t, "dual-stack.prom", textOf(t, reg))
}

// TestFamilyOnEverySeries checks the contract: every per-peer, aggregate
// and zone probe series has a family label, and an IPv6-only fault shows
// under family="ipv6" only.
func TestFamilyOnEverySeries(t *testing.T) {
	reg, _ := gatherDualStack(t, baseOptions(PerPeerAll), []prober.Family{prober.FamilyIPv4, prober.FamilyIPv6})
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{
		"connectivity_peer_reachable": true, "connectivity_peer_rtt_seconds": true, "connectivity_peer_probes_total": true,
		"connectivity_peers": true, "connectivity_rtt_seconds": true, "connectivity_probes_total": true,
		"connectivity_zone_rtt_seconds": true, "connectivity_zone_probes_total": true, "connectivity_zone_peers": true,
	}
	for _, mf := range mfs {
		if !want[mf.GetName()] {
			continue
		}
		delete(want, mf.GetName())
		for _, m := range mf.GetMetric() {
			if !hasLabels(m, map[string]string{"family": "ipv4"}) && !hasLabels(m, map[string]string{"family": "ipv6"}) {
				t.Errorf("%s has a series without family: %v", mf.GetName(), m.GetLabel())
			}
		}
	}
	for name := range want {
		t.Errorf("%s not exported", name)
	}
	tests := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"connectivity_peers", map[string]string{"family": "ipv6", "path": "endpoint", "protocol": "http", "status": "unreachable"}, 1},
		{"connectivity_peers", map[string]string{"family": "ipv4", "path": "endpoint", "protocol": "http", "status": "unreachable"}, 0},
		{"connectivity_peer_reachable", map[string]string{"family": "ipv6", "path": "endpoint", "protocol": "icmp"}, 0},
		{"connectivity_peer_reachable", map[string]string{"family": "ipv4", "path": "endpoint", "protocol": "icmp"}, 1},
		{"connectivity_peer_reachable", map[string]string{"family": "ipv6", "path": "host", "protocol": "icmp"}, 1},
		{"connectivity_probes_total", map[string]string{"family": "ipv6", "path": "endpoint", "protocol": "icmp", "result": "timeout"}, 1},
		{"connectivity_probes_total", map[string]string{"family": "ipv4", "path": "endpoint", "protocol": "icmp", "result": "timeout"}, 0},
		{"connectivity_zone_probes_total", map[string]string{"family": "ipv6", "peer_zone": "zone-b", "path": "endpoint", "protocol": "http", "result": "timeout"}, 1},
		{"connectivity_zone_peers", map[string]string{"family": "ipv6", "peer_zone": "zone-b", "path": "endpoint", "protocol": "http", "status": "unreachable"}, 1},
		{"connectivity_zone_peers", map[string]string{"family": "ipv4", "peer_zone": "zone-b", "path": "endpoint", "protocol": "http", "status": "unreachable"}, 0},
	}
	for _, tt := range tests {
		if got, ok := sample(t, reg, tt.name, tt.labels); !ok || got != tt.want {
			t.Errorf("%s%v = %v (present %v), want %v", tt.name, tt.labels, got, ok, tt.want)
		}
	}
}

// TestAggregatesOnlyForPlannedFamilies: a single-stack plan has aggregates
// of its family only; a family that leaves the plan leaves /metrics, and
// one that comes back starts from 0.
func TestAggregatesOnlyForPlannedFamilies(t *testing.T) {
	families := func(reg *prometheus.Registry, name string) string {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, mf := range mfs {
			if mf.GetName() != name {
				continue
			}
			for _, m := range mf.GetMetric() {
				for _, l := range m.GetLabel() {
					if l.GetName() == "family" {
						seen[l.GetValue()] = true
					}
				}
			}
		}
		var out []string
		for _, f := range prober.Families {
			if seen[string(f)] {
				out = append(out, string(f))
			}
		}
		return strings.Join(out, ",")
	}
	reg := prometheus.NewRegistry()
	m, err := New(reg, baseOptions(PerPeerNone), fixedStates{}, BuildInfo{})
	if err != nil {
		t.Fatal(err)
	}
	m.SetPeerZones(map[string]string{"node-1": "zone-a"})
	m.SetFamilies([]prober.Family{prober.FamilyIPv4})
	for _, name := range []string{"connectivity_probes_total", "connectivity_peers", "connectivity_zone_probes_total", "connectivity_zone_peers"} {
		if got := families(reg, name); got != "ipv4" {
			t.Errorf("IPv4 plan: %s has families %q, want ipv4", name, got)
		}
	}
	m.SetFamilies([]prober.Family{prober.FamilyIPv4, prober.FamilyIPv6})
	v6 := st("node-1", prober.PathHost, prober.ProtocolICMP, ip2v6, prober.StatusReachable, 0)
	m.ProbeDone(v6, prober.Outcome{Result: prober.ResultSuccess, RTT: time.Millisecond})
	for _, name := range []string{"connectivity_probes_total", "connectivity_rtt_seconds", "connectivity_zone_probes_total", "connectivity_zone_rtt_seconds"} {
		if got := families(reg, name); !strings.Contains(got, "ipv6") {
			t.Errorf("dual-stack plan: %s has families %q, want ipv6 among them", name, got)
		}
	}
	m.SetFamilies([]prober.Family{prober.FamilyIPv4})
	// A probe that ends after IPv6 left the plan must not bring it back.
	m.ProbeDone(v6, prober.Outcome{Result: prober.ResultSuccess, RTT: time.Millisecond})
	for _, name := range []string{"connectivity_probes_total", "connectivity_rtt_seconds", "connectivity_zone_probes_total", "connectivity_zone_rtt_seconds", "connectivity_peers"} {
		if got := families(reg, name); strings.Contains(got, "ipv6") {
			t.Errorf("IPv6 left the plan: %s still has families %q", name, got)
		}
	}
	m.SetFamilies([]prober.Family{prober.FamilyIPv6})
	if v, ok := sample(t, reg, "connectivity_probes_total", map[string]string{"family": "ipv6", "path": "host", "protocol": "icmp", "result": "success"}); !ok || v != 0 {
		t.Errorf("IPv6 counter = %v (present %v) when it returns, want 0", v, ok)
	}
	if got := families(reg, "connectivity_probes_total"); got != "ipv6" {
		t.Errorf("IPv6 plan: connectivity_probes_total has families %q, want ipv6", got)
	}
}
