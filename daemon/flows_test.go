package daemon

import (
	"context"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/connectivity-exporter/connectivity_exporter/prober"
	"github.com/connectivity-exporter/connectivity_exporter/status"
	"github.com/connectivity-exporter/connectivity_exporter/test/testbin"
)

// With --probe.flows, the daemon probes HTTP paths over the flow probes,
// and a flow that always fails makes a partial path: in status, in the
// JSON (which flow) and on /metrics.
func TestDaemonReportsPartialPath(t *testing.T) {
	badHost := netip.MustParseAddr("198.18.0.2")
	badLabel := prober.FlowLabel(1) // flow 1 of every path
	flowProbe := func(_ context.Context, ip netip.Addr, f prober.Flow) prober.Outcome {
		if ip == badHost && f.FlowLabel == badLabel {
			return prober.Outcome{Result: prober.ResultTimeout}
		}
		return prober.Outcome{Result: prober.ResultSuccess, RTT: 100 * time.Microsecond}
	}
	td := startTestDaemonWith(t, nodesYAML(1, 2, 3), func(c *Config) {
		c.Flows, c.ProbeInterval, c.MTUEvery = 4, 100*time.Millisecond, 0
	}, func(d *Deps) {
		d.FlowProbes = func(*Config) map[prober.Protocol]prober.FlowProbeFunc {
			return map[prober.Protocol]prober.FlowProbeFunc{prober.ProtocolHTTP: flowProbe}
		}
	})
	const diagnosis = "1 of 4 flows to node-2 fail on host HTTP: one member of an equal-cost group drops"
	var out string
	testbin.Eventually(t, 20*time.Second, "node-2's host HTTP path partial", func() error {
		_, out = td.status(t, status.CLIOptions{})
		return testbin.Holds(strings.Contains(out, diagnosis), out)
	})
	if strings.Contains(out, "node-3") {
		t.Errorf("node-3, all of whose flows answer, is listed:\n%s", out)
	}
	_, js := td.status(t, status.CLIOptions{Output: "json"})
	for _, want := range []string{`"status": "partial"`, `"flow_label": ` + strconv.Itoa(int(badLabel)), `"source_port": 6`} {
		if !strings.Contains(js, want) {
			t.Errorf("status -o json lacks %s:\n%s", want, js)
		}
	}
	metrics := td.metrics()
	for _, want := range []string{
		`connectivity_peer_flows_failing{family="ipv4",path="host",peer="node-2",protocol="http",source="node-1"} 1`,
		`connectivity_partial_peers{family="ipv4",path="host",protocol="http",source="node-1"} 1`,
		`connectivity_probe_flows{source="node-1"} 4`,
		`connectivity_peer_reachable{family="ipv4",path="host",peer="node-2",protocol="http",source="node-1"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
