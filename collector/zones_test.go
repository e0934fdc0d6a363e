package collector

import (
	"errors"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/connectivity-exporter/connectivity_exporter/prober"
	"github.com/connectivity-exporter/connectivity_exporter/test/testbin"
)

var ip3 = netip.MustParseAddr("198.18.0.3")

// zoneScenario is scenario() with a third node, node-3, in no zone: node-1
// (local) is in zone-a, node-2 in zone-b, node-3 in zone "". A probe of
// node-9, which the plan no longer has, ends late.
func zoneScenario() (fixedStates, map[string]string, []struct {
	s prober.PathState
	o prober.Outcome
}) {
	states, probes := scenario()
	n3icmp := st("node-3", prober.PathHost, prober.ProtocolICMP, ip3, prober.StatusReachable, 0)
	n3http := st("node-3", prober.PathHost, prober.ProtocolHTTP, ip3, prober.StatusUnreachable, 3)
	states = append(states, n3icmp, n3http)
	probes = append(probes, []struct {
		s prober.PathState
		o prober.Outcome
	}{
		{n3icmp, prober.Outcome{Result: prober.ResultSuccess, RTT: 2 * time.Millisecond}},
		{n3http, prober.Outcome{Result: prober.ResultError, Err: errors.New("no route to host")}},
		{st("node-9", prober.PathHost, prober.ProtocolICMP, ip3, prober.StatusReachable, 0), prober.Outcome{Result: prober.ResultSuccess, RTT: time.Millisecond}},
	}...)
	zones := map[string]string{"node-1": "zone-a", "node-2": "zone-b", "node-3": ""}
	return states, zones, probes
}

func gatherZones(t *testing.T, opts Options) (*prometheus.Registry, *Metrics) {
	t.Helper()
	states, zones, probes := zoneScenario()
	reg := prometheus.NewRegistry()
	m, err := New(reg, opts, states, BuildInfo{Version: "1.2.3", Revision: "abc", GoVersion: "go1.26", Branch: "main", GoOS: "linux", GoArch: "amd64", Tags: "unknown"})
	if err != nil {
		t.Fatal(err)
	}
	m.SetNodes(3)
	m.SetFamilies([]prober.Family{prober.FamilyIPv4})
	m.SetPeerZones(zones)
	for _, p := range probes {
		m.ProbeDone(p.s, p.o)
	}
	return reg, m
}

func zoneOptions(mode PerPeerMode) Options {
	o := baseOptions(mode)
	o.Zone = "zone-a"
	o.PeerLimit = 2
	return o
}

func TestZonesGolden(t *testing.T) {
	tests := []struct {
		golden string
		opts   Options
	}{
		// Per-peer series too, to show source_zone on them.
		{"zones.prom", zoneOptions(PerPeerAuto)},
		// Zone aggregates stay when per-peer series go.
		{"zones-per-peer-none.prom", zoneOptions(PerPeerNone)},
	}
	for _, tc := range tests {
		t.Run(tc.golden, func(t *testing.T) {
			reg, _ := gatherZones(t, tc.opts)
			compareGolden(t, tc.golden, textOf(t, reg))
		})
	}
}

// sample finds the value of the one series of family name with labels
// (a subset); ok is false when there is none.
func sample(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) (float64, bool) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if hasLabels(m, labels) {
				switch {
				case m.Counter != nil:
					return m.Counter.GetValue(), true
				case m.Gauge != nil:
					return m.Gauge.GetValue(), true
				case m.Histogram != nil:
					return float64(m.Histogram.GetSampleCount()), true
				}
			}
		}
	}
	return 0, false
}

func hasLabels(m *dto.Metric, want map[string]string) bool {
	n := 0
	for _, l := range m.GetLabel() {
		if v, ok := want[l.GetName()]; ok {
			if v != l.GetValue() {
				return false
			}
			n++
		}
	}
	return n == len(want)
}

func TestZoneSeries(t *testing.T) {
	reg, _ := gatherZones(t, zoneOptions(PerPeerNone))
	tests := []struct {
		name   string
		labels map[string]string
		want   float64 // -1: absent
	}{
		{"connectivity_zone_probes_total", map[string]string{"peer_zone": "zone-a", "path": "host", "protocol": "icmp", "result": "success"}, 1},
		{"connectivity_zone_probes_total", map[string]string{"peer_zone": "zone-b", "path": "endpoint", "protocol": "icmp", "result": "timeout"}, 1},
		{"connectivity_zone_probes_total", map[string]string{"peer_zone": "", "path": "host", "protocol": "http", "result": "error"}, 1},
		// Pre-created at 0, so that rates start at 0.
		{"connectivity_zone_probes_total", map[string]string{"peer_zone": "", "path": "endpoint", "protocol": "http", "result": "refused"}, 0},
		{"connectivity_zone_rtt_seconds", map[string]string{"peer_zone": "zone-b", "path": "host", "protocol": "icmp"}, 1},
		{"connectivity_zone_rtt_seconds", map[string]string{"peer_zone": "zone-b", "path": "host", "protocol": "http"}, -1}, // no success
		{"connectivity_zone_peers", map[string]string{"peer_zone": "zone-a", "path": "host", "protocol": "icmp", "status": "reachable"}, 1},
		{"connectivity_zone_peers", map[string]string{"peer_zone": "zone-b", "path": "endpoint", "protocol": "icmp", "status": "unreachable"}, 1},
		{"connectivity_zone_peers", map[string]string{"peer_zone": "zone-b", "path": "host", "protocol": "http", "status": "unknown"}, 1},
		{"connectivity_zone_peers", map[string]string{"peer_zone": "", "path": "host", "protocol": "http", "status": "unreachable"}, 1},
		{"connectivity_zone_peers", map[string]string{"peer_zone": "", "path": "host", "protocol": "http", "status": "reachable"}, 0},
		{"connectivity_probe_peers", map[string]string{"source": "node-1", "source_zone": "zone-a"}, 2},
	}
	for _, tc := range tests {
		got, ok := sample(t, reg, tc.name, tc.labels)
		switch {
		case tc.want < 0 && ok:
			t.Errorf("%s%v = %v, want absent", tc.name, tc.labels, got)
		case tc.want >= 0 && (!ok || got != tc.want):
			t.Errorf("%s%v = %v (present %v), want %v", tc.name, tc.labels, got, ok, tc.want)
		}
	}
	// node-9 left the plan: its late probe is in no zone.
	for _, z := range []string{"zone-a", ""} {
		if got, _ := sample(t, reg, "connectivity_zone_probes_total", map[string]string{"peer_zone": z, "path": "host", "protocol": "icmp", "result": "success"}); got != 1 {
			t.Errorf("zone %q has %v host/icmp successes, want 1: a probe of a peer outside the plan was counted", z, got)
		}
	}
}

func zonesIn(t *testing.T, reg *prometheus.Registry) map[string]map[string]bool {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]bool{}
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), "connectivity_zone_") {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "peer_zone" {
					if out[mf.GetName()] == nil {
						out[mf.GetName()] = map[string]bool{}
					}
					out[mf.GetName()][l.GetValue()] = true
				}
			}
		}
	}
	return out
}

func TestZoneLeavesWithItsLastPeer(t *testing.T) {
	reg, m := gatherZones(t, zoneOptions(PerPeerNone))
	// node-2, the only peer of zone-b, leaves; node-3 moves to zone-c.
	m.SetPeerZones(map[string]string{"node-1": "zone-a", "node-3": "zone-c"})
	// A probe of node-2 that ends after the change must not bring zone-b back.
	m.ProbeDone(st("node-2", prober.PathHost, prober.ProtocolICMP, ip2, prober.StatusReachable, 0), prober.Outcome{Result: prober.ResultSuccess, RTT: time.Millisecond})
	got := zonesIn(t, reg)
	for _, name := range []string{"connectivity_zone_probes_total", "connectivity_zone_peers"} {
		if z := got[name]; len(z) != 2 || !z["zone-a"] || !z["zone-c"] {
			t.Errorf("%s has zones %v, want zone-a and zone-c", name, z)
		}
	}
	// The states still list node-2 (the scheduler drops them after the
	// plan); zone-a's histogram stays with its count, zone-b's is gone.
	if z := got["connectivity_zone_rtt_seconds"]; len(z) != 1 || !z["zone-a"] {
		t.Errorf("connectivity_zone_rtt_seconds has zones %v, want zone-a only (zone-c has no success yet)", z)
	}
	if v, _ := sample(t, reg, "connectivity_zone_probes_total", map[string]string{"peer_zone": "zone-a", "path": "host", "protocol": "http", "result": "success"}); v != 1 {
		t.Errorf("zone-a's counter = %v after the change, want its 1 kept", v)
	}
	// A zone that comes back starts again from 0.
	m.SetPeerZones(map[string]string{"node-1": "zone-a", "node-2": "zone-b"})
	if v, ok := sample(t, reg, "connectivity_zone_probes_total", map[string]string{"peer_zone": "zone-b", "path": "host", "protocol": "icmp", "result": "success"}); !ok || v != 0 {
		t.Errorf("zone-b's counter = %v (present %v) when it returns, want 0", v, ok)
	}
	if z := zonesIn(t, reg)["connectivity_zone_probes_total"]; z["zone-c"] {
		t.Errorf("zone-c still exported after its only peer left it: %v", z)
	}
}

// source_zone is on every series when this node has a zone, and nowhere
// when it has none.
func TestSourceZoneOnEverySeries(t *testing.T) {
	for _, zone := range []string{"zone-a", ""} {
		t.Run("zone="+zone, func(t *testing.T) {
			opts := zoneOptions(PerPeerAll)
			opts.Zone = zone
			reg, _ := gatherZones(t, opts)
			mfs, err := reg.Gather()
			if err != nil {
				t.Fatal(err)
			}
			for _, mf := range mfs {
				for _, m := range mf.GetMetric() {
					got, ok := "", false
					for _, l := range m.GetLabel() {
						if l.GetName() == "source_zone" {
							got, ok = l.GetValue(), true
						}
					}
					if zone == "" && ok {
						t.Errorf("%s has source_zone=%q, want none for a node without a zone", mf.GetName(), got)
					}
					if zone != "" && got != zone {
						t.Errorf("%s has source_zone=%q (present %v), want %q", mf.GetName(), got, ok, zone)
					}
				}
			}
		})
	}
}

// The golden files pass the real promtool's check (as the e2e test checks
// a live /metrics).
func TestGoldenFilesPassPromtool(t *testing.T) {
	promtool := testbin.NeedTool(t, "promtool", testbin.BuildPrometheus)
	files, err := filepath.Glob(filepath.Join("testdata", "*.prom"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	for _, f := range files {
		in, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(promtool, "check", "metrics")
		cmd.Stdin = in
		out, err := cmd.CombinedOutput()
		in.Close()
		if err != nil {
			t.Errorf("promtool check metrics < %s: %v\n%s", f, err, out)
		}
	}
}
