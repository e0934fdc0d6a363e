package collector

import (
	"bytes"
	"errors"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	"github.com/prometheus/common/expfmt"

	"github.com/connectivity-exporter/connectivity_exporter/prober"
)

var update = flag.Bool("update", false, "rewrite the golden files")

type fixedStates []prober.PathState

func (f fixedStates) Snapshot() []prober.PathState { return f }

var (
	ip1 = netip.MustParseAddr("198.18.0.1")
	ip2 = netip.MustParseAddr("198.18.0.2")
	hp2 = netip.MustParseAddr("198.19.0.2")
)

func st(peer string, path prober.Path, proto prober.Protocol, ip netip.Addr, status prober.Status, failures int) prober.PathState {
	return prober.PathState{Target: prober.Target{Peer: peer, Path: path, Protocol: proto, IP: ip}, Status: status, ConsecutiveFailures: failures}
}

// scenario: node-1 (local) healthy; node-2's host paths fine, its endpoint
// paths failing (the FORWARD-drop case), one of them not yet past the threshold.
func scenario() (fixedStates, []struct {
	s prober.PathState
	o prober.Outcome
}) {
	states := fixedStates{
		st("node-1", prober.PathHost, prober.ProtocolICMP, ip1, prober.StatusReachable, 0),
		st("node-1", prober.PathHost, prober.ProtocolHTTP, ip1, prober.StatusReachable, 0),
		st("node-2", prober.PathHost, prober.ProtocolICMP, ip2, prober.StatusReachable, 0),
		st("node-2", prober.PathHost, prober.ProtocolHTTP, ip2, prober.StatusUnknown, 0),
		st("node-2", prober.PathEndpoint, prober.ProtocolICMP, hp2, prober.StatusUnreachable, 3),
		st("node-2", prober.PathEndpoint, prober.ProtocolHTTP, hp2, prober.StatusReachable, 1),
	}
	// Full-size probes: node-1's host ICMP gets through, its host HTTP
	// found a reduced path MTU, node-2's host ICMP is an MTU black hole.
	states[0].MTU = prober.MTUState{Status: prober.MTUStatusOK, Expected: 1500, PathMTU: 1500}
	states[1].MTU = prober.MTUState{Status: prober.MTUStatusReduced, Expected: 1500, PathMTU: 1400}
	states[2].MTU = prober.MTUState{Status: prober.MTUStatusBlackhole, Expected: 1500, ConsecutiveLosses: 2}
	for i := 3; i < len(states); i++ {
		states[i].MTU.Status = prober.MTUStatusUnknown
	}
	// Flows: node-1's host HTTP answers on all 8; node-2's endpoint HTTP
	// is partial, 2 of its 8 flows failing and 2 not probed yet.
	states[1].Flows = prober.FlowsState{Count: 8, Probed: 8}
	states[5].Flows = prober.FlowsState{Count: 8, Probed: 6, Partial: true,
		Failing: []prober.FlowState{{Index: 2, ConsecutiveFailures: 3}, {Index: 5, ConsecutiveFailures: 4}}}
	ok := func(d time.Duration) prober.Outcome { return prober.Outcome{Result: prober.ResultSuccess, RTT: d} }
	probes := []struct {
		s prober.PathState
		o prober.Outcome
	}{
		{states[0], ok(80 * time.Microsecond)},
		{states[1], ok(400 * time.Microsecond)},
		{states[2], ok(150 * time.Microsecond)},
		{states[4], prober.Outcome{Result: prober.ResultTimeout, Err: errors.New("no echo reply")}},
		{states[5], prober.Outcome{Result: prober.ResultRefused, Err: errors.New("connection refused")}},
	}
	return states, probes
}

func gather(t *testing.T, opts Options) (*prometheus.Registry, *Metrics) {
	t.Helper()
	states, probes := scenario()
	reg := prometheus.NewRegistry()
	m, err := New(reg, opts, states, BuildInfo{Version: "1.2.3", Revision: "abc", GoVersion: "go1.26", Branch: "main", GoOS: "linux", GoArch: "amd64", Tags: "unknown"})
	if err != nil {
		t.Fatal(err)
	}
	// node-3 is in the list but leaving (cordoned): counted, not probed.
	m.SetNodes(3)
	m.disc.SetLeaving(map[string]string{"node-3": "cordoned"})
	m.SetFamilies([]prober.Family{prober.FamilyIPv4})
	m.CycleDone(14500 * time.Millisecond)
	m.SetHealthEndpointUp(true)
	m.HealthEndpointRestarted()
	m.DiscoveryError()
	m.SetDiscoveryRejected(true)
	for _, p := range probes {
		m.ProbeDone(p.s, p.o)
	}
	m.MTUProbeDone(states[0], prober.MTUOutcome{Result: prober.MTUResultOK, Expected: 1500})
	m.MTUProbeDone(states[2], prober.MTUOutcome{Result: prober.MTUResultLost, Expected: 1500})
	m.MTUProbeDone(states[2], prober.MTUOutcome{Result: prober.MTUResultLost, Expected: 1500})
	return reg, m
}

func textOf(t *testing.T, reg *prometheus.Registry) []byte {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

func compareGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./collector -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("/metrics differs from %s (go test ./collector -update rewrites it):\n%s", path, got)
	}
}

func baseOptions(mode PerPeerMode) Options {
	return Options{Source: "node-1", PerPeer: mode, AutoMaxNodes: 100, ClassicBuckets: true, HealthEndpoint: true, Interval: 15 * time.Second, Timeout: 2 * time.Second, MTUEvery: 4, Flows: 8}
}

func TestMetricsGolden(t *testing.T) {
	tests := []struct {
		golden string
		opts   Options
	}{
		{"per-peer-all.prom", baseOptions(PerPeerAll)},
		{"per-peer-failing.prom", baseOptions(PerPeerFailing)},
		{"per-peer-none.prom", baseOptions(PerPeerNone)},
		{"per-peer-auto-small.prom", baseOptions(PerPeerAuto)}, // 2 nodes <= 100: all
		{"native-only.prom", func() Options { o := baseOptions(PerPeerAll); o.ClassicBuckets = false; return o }()},
		{"no-health-endpoint.prom", func() Options { o := baseOptions(PerPeerNone); o.HealthEndpoint = false; return o }()},
	}
	for _, tc := range tests {
		t.Run(tc.golden, func(t *testing.T) {
			reg, _ := gather(t, tc.opts)
			compareGolden(t, tc.golden, textOf(t, reg))
		})
	}
}

func TestAutoModeSwitchesToFailingAboveTheLimit(t *testing.T) {
	opts := baseOptions(PerPeerAuto)
	opts.AutoMaxNodes = 1 // 2 nodes known: above the limit
	reg, _ := gather(t, opts)
	compareGolden(t, "per-peer-failing.prom", textOf(t, reg))
}

func TestFailingModeDropsSeriesOfARecoveredPath(t *testing.T) {
	reg, m := gather(t, baseOptions(PerPeerFailing))
	recovered := st("node-2", prober.PathEndpoint, prober.ProtocolICMP, hp2, prober.StatusReachable, 0)
	m.ProbeDone(recovered, prober.Outcome{Result: prober.ResultSuccess, RTT: time.Millisecond})
	if n := testutil.CollectAndCount(m.peerProbes); n != 4 {
		t.Fatalf("%d per-peer probe series left, want the 4 of the one still-failing path", n)
	}
	if strings.Contains(string(textOf(t, reg)), `peer_rtt_seconds_count{path="endpoint",peer="node-2",protocol="icmp"`) {
		t.Fatal("the recovered path still has a per-peer histogram")
	}
}

func TestRemovedPeerLeavesMetrics(t *testing.T) {
	reg, m := gather(t, baseOptions(PerPeerAll))
	var gone []prober.Target
	for _, s := range []prober.Path{prober.PathHost, prober.PathEndpoint} {
		for _, p := range []prober.Protocol{prober.ProtocolICMP, prober.ProtocolHTTP} {
			ip := ip2
			if s == prober.PathEndpoint {
				ip = hp2
			}
			gone = append(gone, prober.Target{Peer: "node-2", Path: s, Protocol: p, IP: ip})
		}
	}
	m.TargetsRemoved(gone)
	text := string(textOf(t, reg))
	for _, name := range []string{"connectivity_peer_rtt_seconds", "connectivity_peer_probes_total"} {
		for _, line := range strings.Split(text, "\n") {
			if strings.HasPrefix(line, name) && strings.Contains(line, `peer="node-2"`) {
				t.Fatalf("removed peer still exported: %s", line)
			}
		}
	}
}

func TestMetricsLint(t *testing.T) {
	reg, _ := gather(t, baseOptions(PerPeerAll))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	problems, err := promlint.NewWithMetricFamilies(mfs).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
}

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		opts Options
		want string
	}{
		{Options{PerPeer: PerPeerAll}, "source node name is empty"},
		{Options{Source: "a", PerPeer: "some"}, `per-peer mode "some" is not one of auto, all, failing, none`},
		{Options{Source: "a", PerPeer: PerPeerAuto, AutoMaxNodes: -1}, "auto per-peer node limit must not be negative, got -1"},
	}
	for _, tc := range tests {
		err := tc.opts.Validate()
		if err == nil || err.Error() != tc.want {
			t.Errorf("Validate(%+v) = %v, want %q", tc.opts, err, tc.want)
		}
	}
	if _, err := New(prometheus.NewRegistry(), Options{}, fixedStates{}, BuildInfo{}); err == nil {
		t.Error("New accepted invalid options")
	}
}

// connectivity_health_endpoint_up is absent until the first check says
// something: a 0 before it would read as "down".
func TestHealthEndpointUpAbsentUntilSet(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := New(reg, baseOptions(PerPeerNone), fixedStates(nil), BuildInfo{Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	const name = "connectivity_health_endpoint_up"
	for _, tc := range []struct {
		set  func()
		want string // "" for absent
	}{
		{func() {}, ""},
		{func() { m.SetHealthEndpointUp(false) }, "0"},
		{func() { m.SetHealthEndpointUp(true) }, "1"},
	} {
		tc.set()
		n, err := testutil.GatherAndCount(reg, name)
		if err != nil {
			t.Fatal(err)
		}
		if tc.want == "" {
			if n != 0 {
				t.Errorf("%s exported before any check", name)
			}
			continue
		}
		want := "# HELP " + name + " 1 if this node's health endpoint answered its latest check; absent before the first check (and, for a health pod, during the grace period of a new node).\n# TYPE " + name + " gauge\n" + name + `{source="node-1"} ` + tc.want + "\n"
		if err := testutil.GatherAndCompare(reg, strings.NewReader(want), name); err != nil {
			t.Error(err)
		}
	}
}
