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
	// identities as the probes', one for IPv4 ICMP.
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
