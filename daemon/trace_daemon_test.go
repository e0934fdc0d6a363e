package daemon

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/connectivity-exporter/connectivity_exporter/admin"
	"github.com/connectivity-exporter/connectivity_exporter/prober"
	"github.com/connectivity-exporter/connectivity_exporter/status"
	"github.com/connectivity-exporter/connectivity_exporter/test/testbin"
)

// The daemon's tracing, wired as it runs: a flow of node-2's host HTTP
// path that fails past the threshold is traced by itself with the
// scheduler's own identity of it (the fake tracer ends it at a member),
// and shows in status, the JSON and /metrics until it answers again; the
// trace command traces the same flows. No packet leaves: probes and
// traces are fakes.
func TestDaemonTracesFailingFlows(t *testing.T) {
	badHost := netip.MustParseAddr("198.18.0.2")
	badLabel := prober.FlowLabel(1) // flow 1 of every path
	var healed atomic.Bool
	var mu sync.Mutex
	probed := map[prober.Flow]bool{} // node-2's host HTTP flows, as probed
	flowProbe := func(_ context.Context, ip netip.Addr, f prober.Flow) prober.Outcome {
		if ip == badHost {
			mu.Lock()
			probed[f] = true
			mu.Unlock()
			if f.FlowLabel == badLabel && !healed.Load() {
				return prober.Outcome{Result: prober.ResultTimeout}
			}
		}
		return prober.Outcome{Result: prober.ResultSuccess, RTT: 100 * time.Microsecond}
	}
	tr := &fakeTracer{dark: map[uint16]bool{}}
	td := startTestDaemonWith(t, nodesYAML(1, 2, 3), func(c *Config) {
		c.Flows, c.ProbeInterval, c.MTUEvery = 4, 100*time.Millisecond, 0
	}, func(d *Deps) {
		d.FlowProbes = func(*Config) map[prober.Protocol]prober.FlowProbeFunc {
			return map[prober.Protocol]prober.FlowProbeFunc{prober.ProtocolHTTP: flowProbe}
		}
		d.Tracers = func(c *Config) (FlowTracer, FlowTracer, error) {
			// The fake ends node-2's flow 1 at the member, as a real
			// trace through a dropping member would.
			fc := c.SchedulerConfig().FlowConfig
			target := prober.Target{Peer: "node-2", Path: prober.PathHost, Protocol: prober.ProtocolHTTP, IP: badHost}
			tr.dark[fc.FlowIdentities(target, c.Flows)[1].SourcePort] = true
			return tr, tr, nil
		}
	})
	const line = "HTTP trace:      flow 1 (port "
	const ends = ") fails; its trace ends at 198.18.1.6 (TTL 2), silent from TTL 3"
	var out string
	testbin.Eventually(t, 20*time.Second, "status shows the failing flow's trace", func() error {
		_, out = td.status(t, status.CLIOptions{})
		return testbin.Holds(strings.Contains(out, line) && strings.Contains(out, ends), out)
	})
	_, js := td.status(t, status.CLIOptions{Output: "json"})
	if !strings.Contains(js, `"flow_traces": [`) || !strings.Contains(js, `"last_hop": "198.18.1.6"`) {
		t.Errorf("status -o json lacks the trace:\n%s", js)
	}
	const series = `connectivity_path_trace_info{family="ipv4",flow="1",last_hop="198.18.1.6",last_hop_ttl="2",path="host",peer="node-2",protocol="http",reached="false",source="node-1"} 1`
	if m := td.metrics(); !strings.Contains(m, series) {
		t.Errorf("/metrics lacks %s", series)
	}
	// The automatic trace followed the flow the scheduler probes.
	calls := tr.calls()
	mu.Lock()
	var traced bool
	for f := range probed {
		if f.FlowLabel == badLabel && slices.Contains(calls, fmt.Sprintf("http %s %d %#x", badHost, f.SourcePort, f.FlowLabel)) {
			traced = true
		}
	}
	mu.Unlock()
	if !traced {
		t.Errorf("traces %v: none of the failing flow as probed", calls)
	}

	// The trace command traces node-2's flows: 4 per path, the same
	// identities as the probes', one for IPv4 ICMP. A failing flow is
	// probed first, so the rotation may not have reached every flow yet.
	testbin.Eventually(t, 20*time.Second, "every host HTTP flow of node-2 probed", func() error {
		mu.Lock()
		defer mu.Unlock()
		return testbin.Holds(len(probed) >= 4, fmt.Sprintf("probed %v", probed))
	})
	client := admin.NewClient(td.socket)
	rep, err := client.Trace(context.Background(), "node-2", 0)
	if err != nil {
		t.Fatal(err)
	}
	perPath := map[string]int{}
	for _, ft := range rep.Traces {
		perPath[ft.Path+"/"+ft.Protocol]++
		if ft.Path == "host" && ft.Protocol == "http" {
			mu.Lock()
			ok := false
			for f := range probed { // an IPv4 trace reports no label
				ok = ok || f.SourcePort == uint16(ft.SourcePort)
			}
			mu.Unlock()
			if !ok {
				t.Errorf("trace of flow %d (port %d): not a flow the daemon probes", ft.Flow, ft.SourcePort)
			}
		}
	}
	if want := map[string]int{"host/icmp": 1, "host/http": 4, "endpoint/icmp": 1, "endpoint/http": 4}; fmt.Sprint(perPath) != fmt.Sprint(want) {
		t.Errorf("traces per path %v, want %v", perPath, want)
	}
	if _, err := client.Trace(context.Background(), "node-9", 0); !errors.Is(err, admin.ErrUnknownNode) {
		t.Errorf("trace node-9: %v, want an unknown node", err)
	}

	// Healed: the trace and its series go.
	healed.Store(true)
	testbin.Eventually(t, 20*time.Second, "the trace gone once the flow answers", func() error {
		m := td.metrics()
		return testbin.Holds(!strings.Contains(m, "connectivity_path_trace_info{") && strings.Contains(m, "connectivity_probe_flows"), "/metrics still has a trace")
	})
	if _, out = td.status(t, status.CLIOptions{Verbose: true}); strings.Contains(out, "trace:") {
		t.Errorf("status still shows a trace:\n%s", out)
	}
}

// A path probed without flows, wired as the daemon runs it: node-2's
// host ICMP path fails (its other paths answer), so the keeper traces it
// by itself, as flow 0, and it shows in status, the JSON and /metrics
// until it answers again; node-3, down on every path, is not traced. No
// packet leaves: probes and traces are fakes.
func TestDaemonTracesPathsWithoutFlows(t *testing.T) {
	icmpOff := netip.MustParseAddr("198.18.0.2") // node-2's host IP
	var healed atomic.Bool
	down := func(ip netip.Addr) bool { // node-3's host and health IPs
		return ip == netip.MustParseAddr("198.18.0.3") || ip == netip.MustParseAddr("198.19.0.3")
	}
	ok := prober.Outcome{Result: prober.ResultSuccess, RTT: 100 * time.Microsecond}
	timeout := prober.Outcome{Result: prober.ResultTimeout}
	icmp := func(_ context.Context, ip netip.Addr) prober.Outcome {
		if down(ip) || ip == icmpOff && !healed.Load() {
			return timeout
		}
		return ok
	}
	http := func(_ context.Context, ip netip.Addr) prober.Outcome {
		if down(ip) {
			return timeout
		}
		return ok
	}
	tr := &fakeTracer{dark: map[uint16]bool{0: true}} // an ICMP trace has no port: dark
	td := startTestDaemonWith(t, nodesYAML(1, 2, 3), func(c *Config) {
		c.Flows, c.ProbeInterval, c.MTUEvery = 1, 100*time.Millisecond, 0
	}, func(d *Deps) {
		d.Probes = func(*Config) (map[prober.Protocol]prober.ProbeFunc, func(), error) {
			return map[prober.Protocol]prober.ProbeFunc{prober.ProtocolICMP: icmp, prober.ProtocolHTTP: http}, func() {}, nil
		}
		d.Tracers = func(*Config) (FlowTracer, FlowTracer, error) { return tr, tr, nil }
	})
	const line = "ICMP trace:      the path fails; its trace ends at 198.18.1.6 (TTL 2), silent from TTL 3"
	var out string
	testbin.Eventually(t, 20*time.Second, "status shows the ICMP path's trace", func() error {
		_, out = td.status(t, status.CLIOptions{})
		return testbin.Holds(strings.Contains(out, line), out)
	})
	_, js := td.status(t, status.CLIOptions{Output: "json"})
	if !strings.Contains(js, `"flow_traces": [`) || !strings.Contains(js, `"last_hop": "198.18.1.6"`) {
		t.Errorf("status -o json lacks the trace:\n%s", js)
	}
	const series = `connectivity_path_trace_info{family="ipv4",flow="0",last_hop="198.18.1.6",last_hop_ttl="2",path="host",peer="node-2",protocol="icmp",reached="false",source="node-1"} 1`
	if m := td.metrics(); !strings.Contains(m, series) {
		t.Errorf("/metrics lacks %s", series)
	}
	// node-3 has been down as long: only node-2's ICMP path was traced.
	if calls := tr.calls(); len(calls) != 1 || calls[0] != "icmp 198.18.0.2 0 0x0" {
		t.Errorf("traces %v, want node-2's host ICMP path alone", calls)
	}

	// Healed: the trace and its series go.
	healed.Store(true)
	testbin.Eventually(t, 20*time.Second, "the trace gone once the path answers", func() error {
		m := td.metrics()
		return testbin.Holds(!strings.Contains(m, "connectivity_path_trace_info{") && strings.Contains(m, "connectivity_peer_reachable"), "/metrics still has a trace")
	})
	if _, out = td.status(t, status.CLIOptions{Verbose: true}); strings.Contains(out, "trace:") {
		t.Errorf("status still shows a trace:\n%s", out)
	}
}
